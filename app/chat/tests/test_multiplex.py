"""/ws/chat/: one socket, many conversations (join_conversation / leave_conversation)."""

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from rest_framework.test import APIClient

from chat.models import Membership, Message, conversation_group
from realtime.groups import local_groups

from .conftest import make_conversation, next_of, nothing_more

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def other_room(alice, carol):
    return make_conversation("other", alice, carol)


async def joined(communicator, conversation_id):
    await communicator.send_json_to({"type": "join_conversation", "conversation_id": conversation_id})
    ack = await next_of(communicator, "conversation_joined")
    assert ack == {"type": "conversation_joined", "conversation_id": conversation_id}
    return communicator


def post_over_http(token, conversation_id, data):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.post(f"/api/chat/conversations/{conversation_id}/messages/", data, format="json")


async def test_one_socket_gets_the_messages_of_every_conversation_it_joined(open_socket, room, other_room, tokens):
    alice = await open_socket("/ws/chat/", tokens["alice"])
    await joined(alice, room.pk)
    await joined(alice, other_room.pk)
    for token, conversation in ((tokens["bob"], room), (tokens["carol"], other_room)):
        response = await sync_to_async(post_over_http)(token, conversation.pk, {"body": f"to {conversation.title}"})
        assert response.status_code == 201
        pushed = await next_of(alice, "message")
        assert pushed["conversation_id"] == conversation.pk
        assert pushed["message"]["content"] == pushed["message"]["body"] == f"to {conversation.title}"


async def test_joining_is_checked_on_every_join_and_refusals_keep_the_socket(open_socket, room, tokens):
    carol = await open_socket("/ws/chat/", tokens["carol"])
    await carol.send_json_to({"type": "join_conversation", "conversation_id": room.pk})
    error = await next_of(carol, "error")
    assert error["code"] == "forbidden" and error["conversation_id"] == room.pk and error["ref"] == "join_conversation"
    await carol.send_json_to({"type": "join_conversation", "conversation_id": 999999})
    assert (await next_of(carol, "error"))["code"] == "not_found"
    for bad in (None, "abc", -1, 0, True, [1]):
        await carol.send_json_to({"type": "join_conversation", "conversation_id": bad})
        assert (await next_of(carol, "error"))["code"] == "invalid_message"
    assert conversation_group(room.pk) not in local_groups(get_channel_layer()).summary()
    # Still open, and nothing of the room reaches it.
    await sync_to_async(post_over_http)(tokens["alice"], room.pk, {"body": "members only"})
    assert [frame["type"] for frame in await nothing_more(carol)] == []


async def test_string_ids_and_a_second_join_are_fine(open_socket, room, tokens):
    alice = await open_socket("/ws/chat/", tokens["alice"])
    await alice.send_json_to({"type": "join_conversation", "conversation_id": str(room.pk)})
    assert (await next_of(alice, "conversation_joined"))["conversation_id"] == room.pk
    await joined(alice, room.pk)
    assert local_groups(get_channel_layer()).summary()[conversation_group(room.pk)] == 1


async def test_joins_per_socket_are_limited(open_socket, alice, tokens, settings):
    settings.CHAT_MAX_JOINED_CONVERSATIONS = 2
    rooms = [(await sync_to_async(make_conversation)(f"r{n}", alice)).pk for n in range(3)]
    socket = await open_socket("/ws/chat/", tokens["alice"])
    await joined(socket, rooms[0])
    await joined(socket, rooms[1])
    await socket.send_json_to({"type": "join_conversation", "conversation_id": rooms[2]})
    error = await next_of(socket, "error")
    assert error["code"] == "too_many_conversations" and "2" in error["message"]
    await socket.send_json_to({"type": "leave_conversation", "conversation_id": rooms[0]})
    assert await next_of(socket, "conversation_left") == {"type": "conversation_left", "conversation_id": rooms[0]}
    await joined(socket, rooms[2])


async def test_leave_stops_the_messages_and_tells_the_others(open_socket, room, tokens):
    alice = await joined(await open_socket("/ws/chat/", tokens["alice"]), room.pk)
    bob = await open_socket(f"/ws/chat/{room.pk}/", tokens["bob"])
    await alice.send_json_to({"type": "leave_conversation", "conversation_id": room.pk})
    await next_of(alice, "conversation_left")
    leave = await next_of(bob, "leave")
    assert leave["user"]["username"] == "alice" and leave["conversation_id"] == room.pk
    await bob.send_json_to({"type": "message", "body": "anyone?"})
    await next_of(bob, "message")
    assert "message" not in [frame["type"] for frame in await nothing_more(alice)]
    # Leaving again is not an error: the socket is not in it.
    await alice.send_json_to({"type": "leave_conversation", "conversation_id": room.pk})
    await next_of(alice, "conversation_left")


async def test_disconnect_leaves_every_conversation(open_socket, room, other_room, tokens):
    alice = await open_socket("/ws/chat/", tokens["alice"])
    await joined(alice, room.pk)
    await joined(alice, other_room.pk)
    bob = await open_socket(f"/ws/chat/{room.pk}/", tokens["bob"])
    layer = get_channel_layer()
    assert local_groups(layer).summary()[conversation_group(other_room.pk)] == 1
    await alice.disconnect()
    assert (await next_of(bob, "leave"))["user"]["username"] == "alice"
    await local_groups(layer).drain()
    summary = local_groups(layer).summary()
    assert conversation_group(other_room.pk) not in summary and summary[conversation_group(room.pk)] == 1


async def test_typing_receipts_and_messages_name_their_conversation(open_socket, room, other_room, tokens, bob):
    alice = await open_socket("/ws/chat/", tokens["alice"])
    await joined(alice, room.pk)
    bob_ws = await open_socket(f"/ws/chat/{room.pk}/", tokens["bob"])
    await alice.send_json_to({"type": "typing", "conversation_id": room.pk, "is_typing": True})
    typing = await next_of(bob_ws, "typing")
    assert typing["conversation_id"] == room.pk and typing["user"]["username"] == "alice"

    await alice.send_json_to({"type": "typing"})
    assert (await next_of(alice, "error"))["code"] == "invalid_message"
    await alice.send_json_to({"type": "typing", "conversation_id": other_room.pk})
    error = await next_of(alice, "error")
    assert error["code"] == "not_joined" and error["conversation_id"] == other_room.pk

    await alice.send_json_to({"type": "message", "conversation_id": room.pk, "content": "from the phone"})
    assert (await next_of(bob_ws, "message"))["message"]["body"] == "from the phone"

    hello = await Message.objects.acreate(conversation=room, sender=bob, body="read me")
    await alice.send_json_to({"type": "read_receipt", "message_id": hello.pk})  # no conversation_id: the message's
    mine = await next_of(alice, "read_receipt")
    theirs = await next_of(bob_ws, "read")
    assert mine["message_id"] == theirs["message_id"] == hello.pk
    assert mine["conversation_id"] == theirs["conversation_id"] == room.pk
    membership = await Membership.objects.aget(conversation=room, user__username="alice")
    assert membership.last_read_id == hello.pk


async def test_a_receipt_for_a_conversation_not_joined_is_refused(open_socket, room, other_room, tokens, carol):
    foreign = await Message.objects.acreate(conversation=other_room, sender=carol, body="elsewhere")
    alice = await joined(await open_socket("/ws/chat/", tokens["alice"]), room.pk)
    await alice.send_json_to({"type": "read_receipt", "message_id": foreign.pk})
    assert (await next_of(alice, "error"))["code"] == "invalid_message"
    membership = await Membership.objects.aget(conversation=other_room, user__username="alice")
    assert membership.last_read_id is None


async def test_the_per_conversation_route_still_answers_as_before(open_socket, room, tokens):
    alice = await open_socket(f"/ws/chat/{room.pk}/", tokens["alice"])
    await alice.send_json_to({"type": "typing", "conversation_id": room.pk + 1})
    assert (await next_of(alice, "error"))["code"] == "not_joined"
    await alice.send_json_to({"type": "join_conversation", "conversation_id": room.pk})
    assert (await next_of(alice, "error"))["code"] == "unknown_type"


async def test_a_membership_check_the_database_cannot_answer_keeps_the_socket(open_socket, room, tokens, monkeypatch):
    from django.db import OperationalError

    from chat import services

    alice = await open_socket("/ws/chat/", tokens["alice"])

    def down(*args):
        raise OperationalError("the database is restarting")

    monkeypatch.setattr(services, "conversation_access", down)
    await alice.send_json_to({"type": "join_conversation", "conversation_id": room.pk})
    error = await next_of(alice, "error")
    assert error["code"] == "unavailable" and error["conversation_id"] == room.pk
    monkeypatch.undo()
    await joined(alice, room.pk)
