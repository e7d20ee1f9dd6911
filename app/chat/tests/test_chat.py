import pytest
from rest_framework.test import APIClient

from chat.models import Membership, Message, conversation_group
from realtime.testing import established, receive_close

from .conftest import next_of

pytestmark = pytest.mark.django_db(transaction=True)


async def join(ws, room, token):
    connected, communicator = await ws(f"/ws/chat/{room.pk}/", subprotocols=["bearer", token])
    assert connected
    await established(communicator)
    return communicator


async def test_socket_joins_the_conversation_group(ws, room, tokens):
    connected, communicator = await ws(f"/ws/chat/{room.pk}/", subprotocols=["bearer", tokens["alice"]])
    assert connected
    hello = await established(communicator)
    assert hello["groups"] == [conversation_group(room.pk)] == [room.group_name] == [f"chat.{room.pk}"]


async def test_missing_conversation_is_4004(ws, tokens):
    _, communicator = await ws("/ws/chat/999999/", subprotocols=["bearer", tokens["alice"]])
    assert await receive_close(communicator) == 4004


async def test_non_member_is_4003(ws, room, tokens):
    _, communicator = await ws(f"/ws/chat/{room.pk}/", subprotocols=["bearer", tokens["carol"]])
    assert await receive_close(communicator) == 4003


async def test_message_is_saved_then_broadcast_to_every_member(ws, room, tokens):
    alice = await join(ws, room, tokens["alice"])
    bob = await join(ws, room, tokens["bob"])
    await alice.send_json_to({"type": "message", "body": "  hello bob  "})
    for communicator in (alice, bob):
        message = (await next_of(communicator, "message"))["message"]
        assert message["body"] == "hello bob" and message["sender"]["username"] == "alice"
    assert await Message.objects.filter(conversation=room, body="hello bob").acount() == 1


@pytest.mark.parametrize("body", ["", "   ", None, 42, "x" * 4001])
async def test_invalid_message_body_is_an_error_and_nothing_is_saved(ws, room, tokens, body):
    alice = await join(ws, room, tokens["alice"])
    await alice.send_json_to({"type": "message", "body": body})
    error = await next_of(alice, "error")
    assert error["code"] == "invalid_message"
    assert await Message.objects.acount() == 0


async def test_typing_goes_to_others_not_back_to_the_typist(ws, room, tokens):
    alice = await join(ws, room, tokens["alice"])
    bob = await join(ws, room, tokens["bob"])
    await alice.send_json_to({"type": "typing", "is_typing": True})
    typing = await next_of(bob, "typing")
    assert typing["user"]["username"] == "alice" and typing["is_typing"] is True
    await alice.send_json_to({"type": "ping"})
    seen_by_alice = []
    while not seen_by_alice or seen_by_alice[-1] != "pong":
        seen_by_alice.append((await alice.receive_json_from(timeout=2))["type"])
    assert "typing" not in seen_by_alice


async def test_read_receipts(ws, room, tokens, bob):
    message = await Message.objects.acreate(conversation=room, sender=bob, body="hi")
    alice = await join(ws, room, tokens["alice"])
    bob_ws = await join(ws, room, tokens["bob"])
    await alice.send_json_to({"type": "read", "message_id": message.pk})
    receipt = await next_of(bob_ws, "read")
    assert receipt == {"type": "read", "conversation_id": room.pk, "user": receipt["user"], "message_id": message.pk}
    assert receipt["user"]["username"] == "alice"
    membership = await Membership.objects.aget(conversation=room, user__username="alice")
    assert membership.last_read_id == message.pk
    await alice.send_json_to({"type": "read", "message_id": "nope"})
    assert (await next_of(alice, "error"))["code"] == "invalid_message"


async def test_join_and_leave(ws, room, tokens):
    alice = await join(ws, room, tokens["alice"])
    bob = await join(ws, room, tokens["bob"])
    assert (await next_of(alice, "join"))["user"]["username"] in ("alice", "bob")
    await bob.disconnect()
    leave = await next_of(alice, "leave")
    assert leave["user"]["username"] == "bob"


def test_history_api_pages_oldest_first(room, alice, bob, tokens):
    for i in range(5):
        Message.objects.create(conversation=room, sender=alice if i % 2 else bob, body=f"m{i}")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {tokens['alice']}")
    url = f"/api/chat/conversations/{room.pk}/messages/"
    latest = client.get(url, {"limit": 2}).json()
    assert [m["body"] for m in latest] == ["m3", "m4"]
    older = client.get(url, {"limit": 2, "before": latest[0]["id"]}).json()
    assert [m["body"] for m in older] == ["m1", "m2"]
    assert client.get(url, {"limit": 0}).status_code == 400
    assert [c["title"] for c in client.get("/api/chat/conversations/").json()] == ["room"]


def test_history_api_enforces_membership(room, tokens):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {tokens['carol']}")
    assert client.get(f"/api/chat/conversations/{room.pk}/messages/").status_code == 403
    assert client.get("/api/chat/conversations/999999/messages/").status_code == 404


async def test_message_posted_over_http_reaches_sockets(ws, room, tokens):
    from asgiref.sync import sync_to_async

    bob = await join(ws, room, tokens["bob"])

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {tokens['alice']}")
        return client.post(f"/api/chat/conversations/{room.pk}/messages/", {"body": "via http"}, format="json")

    response = await sync_to_async(post)()
    assert response.status_code == 201
    assert (await next_of(bob, "message"))["message"]["body"] == "via http"
