"""A member removed from a conversation stops receiving it and cannot post into it, on sockets
opened before the removal (the HTTP history already answers 403): at once through the
auth.changed broadcast, within WS_RECHECK_SECONDS when that broadcast is lost."""

import pytest
from asgiref.sync import sync_to_async

from chat.models import Membership
from realtime.testing import receive_close

from .conftest import next_of

pytestmark = pytest.mark.django_db(transaction=True)


async def remove(user, conversation):
    await Membership.objects.filter(user=user, conversation=conversation).adelete()


async def test_the_per_conversation_socket_of_a_removed_member_closes_4003(open_socket, room, bob, tokens):
    socket = await open_socket(f"/ws/chat/{room.pk}/", tokens["bob"])
    await remove(bob, room)
    error = await next_of(socket, "error")
    assert error["code"] == "access_withdrawn" and f"conversation {room.pk}" in error["message"]
    assert await receive_close(socket) == 4003


async def test_the_multiplexed_socket_leaves_only_that_conversation(open_socket, room, alice, bob, tokens):
    from .conftest import make_conversation

    other = await sync_to_async(make_conversation)("other", alice, bob)
    socket = await open_socket("/ws/chat/", tokens["bob"])
    for conversation in (room, other):
        await socket.send_json_to({"type": "join_conversation", "conversation_id": conversation.pk})
        await next_of(socket, "conversation_joined")
    await remove(bob, room)
    error = await next_of(socket, "error")
    assert error["code"] == "access_withdrawn" and error["conversation_id"] == room.pk
    await socket.send_json_to({"type": "message", "conversation_id": room.pk, "body": "still here?"})
    assert (await next_of(socket, "error"))["code"] == "not_joined"
    await socket.send_json_to({"type": "message", "conversation_id": other.pk, "body": "the other one works"})
    assert (await next_of(socket, "message"))["message"]["body"] == "the other one works"


async def test_a_removal_whose_broadcast_is_lost_is_found_by_the_periodic_check(
        open_socket, room, bob, tokens, monkeypatch, settings):
    import realtime.revocation

    settings.WS_RECHECK_SECONDS = 0.3
    monkeypatch.setattr(realtime.revocation, "broadcast_on_commit", lambda group, event: None)
    socket = await open_socket(f"/ws/chat/{room.pk}/", tokens["bob"])
    await remove(bob, room)
    assert (await next_of(socket, "error"))["code"] == "access_withdrawn"
    assert await receive_close(socket) == 4003
