import logging

import pytest

from realtime.testing import ORIGIN, established, receive_close
from tokens import store

pytestmark = pytest.mark.django_db(transaction=True)


async def test_ticket(ws, alice_ticket):
    connected, communicator = await ws(f"/ws/notifications/?ticket={alice_ticket}")
    assert connected
    hello = await established(communicator)
    assert hello["user"]["username"] == "alice" and hello["auth_method"] == "ticket"


async def test_ticket_cannot_be_replayed(ws, alice_ticket):
    await ws(f"/ws/notifications/?ticket={alice_ticket}")
    _, second = await ws(f"/ws/notifications/?ticket={alice_ticket}")
    assert await receive_close(second) == 4001


async def test_subprotocol_token_and_server_answers_the_marker_not_the_token(ws, alice_token):
    token = alice_token
    connected, communicator = await ws("/ws/notifications/", subprotocols=["bearer", token])
    assert connected and communicator.subprotocol == "bearer"
    assert (await established(communicator))["auth_method"] == "subprotocol:token"


@pytest.mark.parametrize("keyword", [b"Token", b"Bearer"])
async def test_authorization_header(ws, alice_token, keyword):
    header = (b"authorization", keyword + b" " + alice_token.encode())
    _, communicator = await ws("/ws/notifications/", headers=[ORIGIN, header])
    assert (await established(communicator))["auth_method"] == "header:token"


@pytest.mark.parametrize("value", [b"Token a b", b"Token", b"Basic dXNlcjpwYXNz"])
async def test_malformed_or_foreign_authorization_header_is_refused_and_explained(ws, alice, value, caplog):
    with caplog.at_level(logging.INFO):
        _, communicator = await ws("/ws/notifications/", headers=[ORIGIN, (b"authorization", value)])
        assert await receive_close(communicator) == 4001
    assert "malformed Authorization header" in caplog.text


async def test_session_cookie(ws, alice, session_for):
    session = await session_for(alice)
    cookie = (b"cookie", f"sessionid={session.session_key}".encode())
    _, communicator = await ws("/ws/notifications/", headers=[ORIGIN, cookie])
    hello = await established(communicator)
    assert hello["auth_method"] == "session" and hello["user"]["username"] == "alice"


async def test_query_token(ws, alice_token):
    _, communicator = await ws(f"/ws/notifications/?token={alice_token}")
    assert (await established(communicator))["auth_method"] == "query:token"


async def test_query_token_can_be_disabled(ws, alice_token, settings):
    settings.WS_ALLOW_QUERY_TOKEN = False
    _, communicator = await ws(f"/ws/notifications/?token={alice_token}")
    assert await receive_close(communicator) == 4001


async def test_ticket_comes_first_and_a_bad_one_is_not_masked_by_a_good_token(ws, alice_token):
    _, communicator = await ws(f"/ws/notifications/?ticket=bogus&token={alice_token}")
    assert await receive_close(communicator) == 4001


async def test_no_credentials_on_an_authenticated_route(ws, db):
    _, communicator = await ws("/ws/notifications/")
    assert await receive_close(communicator) == 4001


async def test_rejection_is_logged_with_reason_but_never_the_token(ws, db, caplog):
    secret = "s3cr3t-token-value-that-must-not-leak"
    with caplog.at_level(logging.INFO):
        _, communicator = await ws(f"/ws/notifications/?token={secret}")
        assert await receive_close(communicator) == 4001
    assert "invalid, expired or revoked token (query)" in caplog.text
    assert "code=4001" in caplog.text
    assert secret not in caplog.text


async def test_expired_token(ws, alice_token, monkeypatch):
    token = alice_token
    real_time = store.time.time
    monkeypatch.setattr(store.time, "time", lambda: real_time() + 13 * 3600)
    _, communicator = await ws("/ws/notifications/", subprotocols=["bearer", token])
    assert await receive_close(communicator) == 4001


async def test_wrong_origin_is_refused_and_logged(ws, db, caplog):
    with caplog.at_level(logging.WARNING):
        connected, _ = await ws("/ws/test/", headers=[(b"origin", b"https://evil.example")])
    assert not connected
    assert "origin https://evil.example is not in ALLOWED_HOSTS" in caplog.text


async def test_missing_origin_allowed_for_non_browser_clients_unless_disabled(ws, db, settings):
    connected, _ = await ws("/ws/test/", headers=[])
    assert connected
    settings.WS_ALLOW_MISSING_ORIGIN = False
    connected, _ = await ws("/ws/test/", headers=[])
    assert not connected


class TestJWT:
    @pytest.fixture(autouse=True)
    def enable_jwt(self, settings):
        settings.TOKEN_VERIFIERS = ["tokens.verifiers.TokenStoreVerifier", "wsauth.jwt.SimpleJWTVerifier"]

    def access_token(self, user):
        from rest_framework_simplejwt.tokens import AccessToken

        return str(AccessToken.for_user(user))

    async def test_jwt_in_every_bearer_location(self, ws, alice):
        from asgiref.sync import sync_to_async

        jwt = await sync_to_async(self.access_token)(alice)
        _, by_protocol = await ws("/ws/notifications/", subprotocols=["bearer", jwt])
        assert (await established(by_protocol))["auth_method"] == "subprotocol:jwt"
        _, by_header = await ws("/ws/notifications/", headers=[ORIGIN, (b"authorization", f"Bearer {jwt}".encode())])
        assert (await established(by_header))["auth_method"] == "header:jwt"

    async def test_tampered_jwt_is_refused(self, ws, alice):
        from asgiref.sync import sync_to_async

        jwt = await sync_to_async(self.access_token)(alice)
        _, communicator = await ws("/ws/notifications/", subprotocols=["bearer", jwt[:-2] + "xx"])
        assert await receive_close(communicator) == 4001

    async def test_jwt_is_refused_when_the_backend_is_off(self, ws, alice, settings):
        from asgiref.sync import sync_to_async

        jwt = await sync_to_async(self.access_token)(alice)
        settings.TOKEN_VERIFIERS = ["tokens.verifiers.TokenStoreVerifier"]
        _, communicator = await ws("/ws/notifications/", subprotocols=["bearer", jwt])
        assert await receive_close(communicator) == 4001


async def test_a_credential_check_the_database_does_not_answer_closes_4013_in_time(ws, alice_token, settings,
                                                                                 monkeypatch, caplog):
    """A stalled database held handshakes until the proxy gave up (502); now the socket is
    closed with 4013 (retry later) after WS_AUTH_TIMEOUT, and the log says why."""
    import asyncio
    import time

    from wsauth import backends

    settings.WS_AUTH_TIMEOUT = 0.3

    async def stalled(raw, method, **extra):
        await asyncio.sleep(30)

    monkeypatch.setattr(backends, "_verify", stalled)
    started = time.monotonic()
    _, communicator = await ws("/ws/notifications/", subprotocols=["bearer", alice_token])
    assert await receive_close(communicator) == 4013
    assert time.monotonic() - started < 2
    assert "no answer within 0.3 s (WS_AUTH_TIMEOUT)" in caplog.text and alice_token not in caplog.text
    # What is really happening, in the refusal too (it said "database unavailable" in a storm
    # where the database was healthy and the handshakes queued for the process's database thread).
    refusal = next(record.getMessage() for record in caplog.records if "websocket rejected" in record.getMessage())
    assert "credentials could not be checked: no answer within 0.3 s" in refusal and "busy" in refusal


async def test_a_database_error_during_the_check_closes_4013(ws, alice_token, monkeypatch, caplog):
    from django.db import OperationalError

    from wsauth import backends

    async def broken(raw, method, **extra):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(backends, "_verify", broken)
    _, communicator = await ws("/ws/notifications/", subprotocols=["bearer", alice_token])
    assert await receive_close(communicator) == 4013
    assert "database error (OperationalError)" in caplog.text


@pytest.mark.parametrize("kind", ["missing", "forged token", "expired token", "revoked token", "forged ticket",
                                  "reused ticket", "expired ticket", "jwt-shaped token"])
async def test_every_bad_credential_gets_4001_every_time(ws, alice, kind, monkeypatch):
    import time

    from asgiref.sync import sync_to_async

    def credential():
        if kind == "missing":
            return {}
        if kind.endswith("token"):
            if kind == "forged token":
                value = "f" * 43
            elif kind == "jwt-shaped token":
                value = "a.b.c"
            else:
                value = store.issue_token(alice).value
                if kind == "revoked token":
                    store.revoke_token(value)
            return {"subprotocols": ["bearer", value]}
        value = "t" * 43 if kind == "forged ticket" else store.issue_ticket(alice).value
        if kind == "reused ticket":
            store.redeem_ticket(value)
        return {"subprotocols": ["ticket", value]}

    for _ in range(3):
        kwargs = await sync_to_async(credential)()
        if kind.startswith("expired"):
            real = time.time
            monkeypatch.setattr(time, "time", lambda real=real: real() + 13 * 3600)  # past 12 h (token), 30 s (ticket)
        _, communicator = await ws("/ws/notifications/", **kwargs)
        assert await receive_close(communicator) == 4001, kind
        monkeypatch.undo()
