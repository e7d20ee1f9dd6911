"""Clients written for other setups: the field spellings they send and read (README "Protocol
reference", compatibility aliases)."""

import pytest
from rest_framework.test import APIClient

from chat import services
from chat.models import Message

from .conftest import next_of

pytestmark = pytest.mark.django_db(transaction=True)


async def test_content_is_body_and_received_messages_carry_both(open_socket, room, tokens, alice):
    alice.first_name, alice.last_name = "Alice", "Liddell"
    await alice.asave()
    alice_ws = await open_socket(f"/ws/chat/{room.pk}/", tokens["alice"])
    bob_ws = await open_socket(f"/ws/chat/{room.pk}/", tokens["bob"])
    await alice_ws.send_json_to({"type": "message", "content": "sent as content"})
    frame = await next_of(bob_ws, "message")
    message = frame["message"]
    assert frame["conversation_id"] == room.pk
    assert message["content"] == message["body"] == "sent as content"
    assert message["sender"] == {"id": alice.pk, "username": "alice", "full_name": "Alice Liddell"}
    assert message["is_read"] is False
    assert set(message) >= {"id", "sender", "content", "created_at", "is_read"}


async def test_two_different_texts_are_refused_and_nothing_is_saved(open_socket, room, tokens):
    alice_ws = await open_socket(f"/ws/chat/{room.pk}/", tokens["alice"])
    await alice_ws.send_json_to({"type": "message", "content": "one", "body": "two"})
    error = await next_of(alice_ws, "error")
    assert error["code"] == "invalid_message" and "body or as content" in error["message"]
    await alice_ws.send_json_to({"type": "message", "content": "same", "body": "same"})
    await next_of(alice_ws, "message")
    assert [m.body async for m in Message.objects.all()] == ["same"]


@pytest.mark.parametrize(
    ("ping", "stamp"),
    [({"type": "ping", "ts": 5}, 5), ({"type": "ping", "timestamp": "t"}, "t"), ({"type": "ping"}, None)],
)
async def test_pong_carries_ts_timestamp_and_message(open_socket, room, tokens, ping, stamp):
    alice_ws = await open_socket(f"/ws/chat/{room.pk}/", tokens["alice"])
    await alice_ws.send_json_to(ping)
    assert await next_of(alice_ws, "pong") == {"type": "pong", "ts": stamp, "timestamp": stamp, "message": "pong"}


async def test_read_receipt_is_read_on_the_per_conversation_route(open_socket, room, tokens, bob):
    hello = await Message.objects.acreate(conversation=room, sender=bob, body="hi")
    alice_ws = await open_socket(f"/ws/chat/{room.pk}/", tokens["alice"])
    await alice_ws.send_json_to({"type": "read_receipt", "message_id": hello.pk})
    receipt = await next_of(alice_ws, "read")
    assert receipt["message_id"] == hello.pk and receipt["user"]["username"] == "alice"
    await alice_ws.send_json_to({"type": "read_receipt", "message_id": "nope"})
    error = await next_of(alice_ws, "error")
    assert error["code"] == "invalid_message" and error["ref"] == "read_receipt"


def test_http_accepts_content_and_history_says_what_is_read(room, tokens, alice, bob):
    def client(name):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {tokens[name]}")
        return api

    url = f"/api/chat/conversations/{room.pk}/messages/"
    posted = client("alice").post(url, {"content": "over http"}, format="json")
    assert posted.status_code == 201 and posted.json()["content"] == "over http"
    reply = client("bob").post(url, {"body": "reply"}, format="json").json()
    bad = client("alice").post(url, {"content": "a", "body": "b"}, format="json")
    assert bad.status_code == 400 and "body" in bad.json()
    assert [m["is_read"] for m in client("alice").get(url).json()] == [False, False]
    # bob reads up to alice's message; an older receipt later does not move alice back.
    services.mark_read([room.pk], bob, posted.json()["id"])
    services.mark_read([room.pk], alice, reply["id"])
    services.mark_read([room.pk], alice, posted.json()["id"])
    history = client("bob").get(url).json()
    assert [(m["content"], m["is_read"]) for m in history] == [("over http", True), ("reply", True)]
    assert history[0]["sender"]["full_name"] == ""


def test_a_message_posted_as_a_json_array_is_a_400_not_a_500(db, make_user):
    """Found by the schemathesis fuzz of the API (app/apidocs/tests/test_fuzz.py)."""
    from rest_framework.test import APIClient

    from chat.models import Conversation
    from tokens.store import issue_token

    user = make_user("poster")
    conversation = Conversation.objects.create(title="fuzzed")
    conversation.members.add(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user).value}")
    response = client.post(f"/api/chat/conversations/{conversation.pk}/messages/", ["not", "an", "object"],
                           format="json")
    assert response.status_code == 400 and "JSON object" in response.json()["body"][0]
