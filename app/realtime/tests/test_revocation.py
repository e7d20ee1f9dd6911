"""Revoked credentials close the sockets opened with them (4001), and only those."""

import asyncio
import logging

import pytest
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient

from realtime.testing import ORIGIN, established, receive_close
from tokens import store

pytestmark = pytest.mark.django_db(transaction=True)


async def open_socket(ws, token=None, path="/ws/notifications/", **kwargs):
    subprotocols = ["bearer", token] if token else kwargs.pop("subprotocols", None)
    _, communicator = await ws(path, subprotocols=subprotocols, **kwargs)
    await established(communicator)
    return communicator


async def revoked(communicator):
    """The error frame, then the close code."""
    error = await communicator.receive_json_from(timeout=2)
    assert error == {"type": "error", "code": "credential_revoked", "message": error["message"]}
    return await receive_close(communicator)


async def still_open(communicator):
    await communicator.send_json_to({"type": "ping", "ts": 1})
    return (await communicator.receive_json_from(timeout=2))["type"] == "pong"


def layer_down(monkeypatch):
    """Every group_send fails: the revocation broadcast is lost."""
    from channels.layers import get_channel_layer

    async def down(group, event):
        raise ConnectionError("Error connecting to redis")

    monkeypatch.setattr(get_channel_layer(), "group_send", down)


async def session_socket(ws, session):
    return await open_socket(ws, headers=[ORIGIN, (b"cookie", f"sessionid={session.session_key}".encode())])


@sync_to_async
def log_out(session, user):
    """Django's logout() of that session, as the admin's logout view does it."""
    from django.contrib.auth import logout
    from django.test import RequestFactory

    request = RequestFactory().post("/admin/logout/")
    request.session, request.user = session, user
    logout(request)


@sync_to_async
def post(path, token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.post(path).status_code


async def test_logout_closes_the_sockets_of_that_token_only(ws, alice, token_for):
    first, second = await sync_to_async(token_for)(alice), await sync_to_async(token_for)(alice)
    closing, staying = await open_socket(ws, first), await open_socket(ws, second)
    assert await post("/api/auth/logout/", first) == 204
    assert await revoked(closing) == 4001
    assert await still_open(staying)


async def test_a_socket_opened_with_a_ticket_closes_with_the_token_that_asked_for_it(ws, alice, token_for):
    token = await sync_to_async(token_for)(alice)
    ticket = (await sync_to_async(store.issue_ticket)(alice, token=token)).value
    communicator = await open_socket(ws, subprotocols=["ticket", ticket])
    assert communicator.subprotocol == "ticket"
    assert await post("/api/auth/logout/", token) == 204
    assert await revoked(communicator) == 4001


async def test_logout_everywhere_closes_every_socket_of_the_user_and_revokes_every_token(ws, alice, bob, token_for):
    tokens = [await sync_to_async(token_for)(alice) for _ in range(2)]
    sockets = [await open_socket(ws, token) for token in tokens]
    bobs = await open_socket(ws, await sync_to_async(token_for)(bob))
    assert await post("/api/auth/logout-everywhere/", tokens[0]) == 204
    for communicator in sockets:
        assert await revoked(communicator) == 4001
    assert await still_open(bobs)
    for token in tokens:
        assert await sync_to_async(store.user_for_token)(token) is None
        _, refused = await ws("/ws/notifications/", subprotocols=["bearer", token])
        assert await receive_close(refused) == 4001
    assert await sync_to_async(store.user_for_token)(await sync_to_async(token_for)(alice)) == alice  # new logins work


@pytest.mark.parametrize("how", ["deactivate", "delete"])
async def test_a_deactivated_or_deleted_users_sockets_close(ws, alice, token_for, how):
    communicator = await open_socket(ws, await sync_to_async(token_for)(alice))
    if how == "deactivate":
        alice.is_active = False
        await alice.asave()
    else:
        await alice.adelete()
    assert await revoked(communicator) == 4001


async def test_ending_a_session_closes_its_sockets(ws, alice, session_for):
    session = await session_for(alice)
    communicator = await session_socket(ws, session)
    await log_out(session, alice)
    assert await revoked(communicator) == 4001


async def test_a_revocation_the_layer_cannot_take_still_revokes_says_so_and_closes_on_the_next_check(
        ws, alice, token_for, monkeypatch, caplog, settings):
    settings.WS_RECHECK_SECONDS = 0.5
    token = await sync_to_async(token_for)(alice)
    communicator = await open_socket(ws, token)
    layer_down(monkeypatch)
    with caplog.at_level(logging.WARNING):
        assert await post("/api/auth/logout/", token) == 204
    assert await sync_to_async(store.user_for_token)(token) is None
    assert "revocation of 1 credential(s) of user" in caplog.text and "not sent to open sockets" in caplog.text
    assert token not in caplog.text
    started = asyncio.get_running_loop().time()
    assert await revoked(communicator) == 4001  # found by the periodic check, without the layer
    assert asyncio.get_running_loop().time() - started < 2


async def test_without_the_check_a_lost_revocation_leaves_the_socket_open(ws, alice, token_for, monkeypatch, settings):
    """The negative control of the test above: what the check is for."""
    settings.WS_RECHECK_SECONDS = 0
    token = await sync_to_async(token_for)(alice)
    communicator = await open_socket(ws, token)
    layer_down(monkeypatch)
    assert await post("/api/auth/logout/", token) == 204
    assert await still_open(communicator)


async def test_a_user_deactivated_by_a_queryset_update_is_closed_by_the_check(ws, alice, bob, token_for, settings):
    """update() sends no signal at all (a script, a data migration, an admin action)."""
    from django.contrib.auth import get_user_model

    settings.WS_RECHECK_SECONDS = 0.3
    alices = await open_socket(ws, await sync_to_async(token_for)(alice))
    bobs = await open_socket(ws, await sync_to_async(token_for)(bob))
    await get_user_model().objects.filter(pk=alice.pk).aupdate(is_active=False)
    assert await revoked(alices) == 4001
    assert await still_open(bobs)


async def test_a_logout_everywhere_written_without_a_broadcast_closes_session_sockets_too(
        ws, alice, session_for, settings):
    import time

    from tokens.models import TokenRevocation

    settings.WS_RECHECK_SECONDS = 0.3
    session = await session_for(alice)
    communicator = await session_socket(ws, session)
    await TokenRevocation.objects.aupdate_or_create(user=alice, defaults={"before": time.time()})
    assert await revoked(communicator) == 4001


async def test_a_session_logged_out_while_its_broadcast_is_lost_closes_on_the_next_check(
        ws, alice, session_for, monkeypatch, settings):
    settings.WS_RECHECK_SECONDS = 0.3
    session = await session_for(alice)
    communicator = await session_socket(ws, session)
    layer_down(monkeypatch)
    await log_out(session, alice)
    assert await revoked(communicator) == 4001


async def test_the_check_closes_nothing_while_the_database_cannot_answer_and_says_so(
        ws, alice, token_for, monkeypatch, caplog, settings):
    settings.WS_RECHECK_SECONDS = 0.2
    communicator = await open_socket(ws, await sync_to_async(token_for)(alice))

    def unavailable(sockets):
        from django.db import OperationalError

        raise OperationalError("connection refused")

    monkeypatch.setattr(store, "revoked_credentials", unavailable)
    with caplog.at_level(logging.WARNING, logger="realtime"):
        await asyncio.sleep(0.7)
    assert await still_open(communicator)
    warnings = [record.getMessage() for record in caplog.records if "could not be checked" in record.getMessage()]
    assert len(warnings) == 1, warnings  # said once, not every 0.2 s
    assert "1 open socket(s)" in warnings[0] and "connection refused" in warnings[0]


@pytest.mark.parametrize("asked_with", ["token", "session"])
async def test_a_ticket_dies_with_the_login_it_was_asked_with(ws, alice, token_for, session_for, asked_with):
    from tokens.signals import session_credential_id

    if asked_with == "token":
        token = await sync_to_async(token_for)(alice)
        ticket = (await sync_to_async(store.issue_ticket)(alice, token=token)).value
        await sync_to_async(store.revoke_token)(token)
    else:
        session = await session_for(alice)
        credential = session_credential_id(session.session_key)
        ticket = (await sync_to_async(store.issue_ticket)(alice, session=credential)).value
        await sync_to_async(store.remember_revoked_session)(credential)
    _, refused = await ws("/ws/notifications/", subprotocols=["ticket", ticket])
    assert await receive_close(refused) == 4001


async def test_a_ticket_asked_for_with_a_session_is_tied_to_it(alice, session_for):
    """The HTTP view records which session a ticket came from (without the session key)."""
    from django.test import Client

    client = Client()
    await sync_to_async(client.force_login)(alice)
    response = await sync_to_async(client.post)("/api/ws/ticket/")
    assert response.status_code == 201
    ticket = response.json()["ticket"]
    await sync_to_async(client.logout)()  # Django's logout(): user_logged_out
    assert await sync_to_async(store.redeem_ticket_credential)(ticket) == (None, None)


async def test_staff_taken_away_closes_the_ops_feed_at_once(ws, carol, token_for):
    """A change of the user (not only deactivation) has its sockets checked again (auth.changed)."""
    _, ops = await ws("/ws/ops/", subprotocols=["bearer", await sync_to_async(token_for)(carol)])
    await established(ops)
    carol.is_staff = False
    await carol.asave()
    while (frame := await ops.receive_json_from(timeout=2))["type"] == "stats":
        pass
    assert frame["type"] == "error" and frame["code"] == "access_withdrawn" and "no longer staff" in frame["message"]
    assert await receive_close(ops) == 4003
