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
    from django.contrib.auth import logout
    from django.test import RequestFactory

    session = await session_for(alice)
    communicator = await open_socket(ws, headers=[ORIGIN, (b"cookie", f"sessionid={session.session_key}".encode())])

    def log_out():
        request = RequestFactory().post("/admin/logout/")
        request.session, request.user = session, alice
        logout(request)

    await sync_to_async(log_out)()
    assert await revoked(communicator) == 4001


async def test_a_revocation_the_layer_cannot_take_still_revokes_and_says_so(ws, alice, token_for, monkeypatch, caplog):
    from channels.layers import get_channel_layer

    token = await sync_to_async(token_for)(alice)
    communicator = await open_socket(ws, token)

    async def down(group, event):
        raise ConnectionError("Error connecting to redis")

    monkeypatch.setattr(get_channel_layer(), "group_send", down)
    with caplog.at_level(logging.WARNING):
        assert await post("/api/auth/logout/", token) == 204
    assert await sync_to_async(store.user_for_token)(token) is None
    assert "revocation of 1 credential(s) of user" in caplog.text and "not sent to open sockets" in caplog.text
    assert token not in caplog.text
    await asyncio.sleep(0.1)
    assert communicator.output_queue.empty()  # stays open until it reconnects (and then gets 4001)
