"""Two-party handshakes: the rules (chat.handshakes), the socket frames and the HTTP view."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import IntegrityError
from django.utils import timezone
from rest_framework.test import APIClient

from chat import handshakes
from chat.models import Handshake

from .conftest import make_conversation, next_of, nothing_more

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def direct(room):
    """room has exactly two members, alice and bob."""
    return room


@pytest.fixture
def group_room(alice, bob, carol):
    return make_conversation("three", alice, bob, carol)


def api(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


# --- the rules --------------------------------------------------------------------------
def test_start_then_approve(direct, alice, bob):
    handshake, created = handshakes.start(direct.pk, bob, "  shall we?  ")
    assert created and handshake.status == "pending" and handshake.message == "shall we?"
    assert (handshake.user1_id, handshake.user2_id, handshake.initiator_id) == (alice.pk, bob.pk, bob.pk)
    assert handshake.expires_at > timezone.now()
    approved, changed = handshakes.answer(direct.pk, alice, "approve")
    assert changed and approved.pk == handshake.pk and approved.status == "approved"
    # Retried approve and a later start: nothing changes.
    assert handshakes.answer(direct.pk, alice, "approve") == (approved, False)
    assert handshakes.start(direct.pk, bob) == (approved, False)


def test_who_may_do_what(direct, alice, bob, carol):
    pending, _ = handshakes.start(direct.pk, alice)
    assert handshakes.start(direct.pk, alice) == (pending, False)  # your own, again: the same one
    for call, code in [
        (lambda: handshakes.start(direct.pk, bob), "handshake_pending"),  # answer theirs instead
        (lambda: handshakes.answer(direct.pk, alice, "approve"), "forbidden"),  # not your own
        (lambda: handshakes.answer(direct.pk, alice, "decline"), "forbidden"),
        (lambda: handshakes.cancel(direct.pk, bob), "forbidden"),  # only the initiator cancels
        (lambda: handshakes.start(direct.pk, carol), "forbidden"),  # not a member
        (lambda: handshakes.start(999999, alice), "not_found"),
        (lambda: handshakes.start(direct.pk, alice, "x" * 501), "invalid_message"),
        (lambda: handshakes.start(direct.pk, alice, 5), "invalid_message"),
    ]:
        with pytest.raises(handshakes.HandshakeError) as error:
            call()
        assert error.value.code == code
    assert Handshake.objects.get().status == "pending"


def test_decline_and_cancel_end_it_and_a_new_start_makes_a_new_one(direct, alice, bob):
    first, _ = handshakes.start(direct.pk, alice)
    assert handshakes.answer(direct.pk, bob, "decline")[0].status == "declined"
    with pytest.raises(handshakes.HandshakeError) as error:
        handshakes.answer(direct.pk, bob, "approve")
    assert error.value.code == "no_pending_handshake"
    second, created = handshakes.start(direct.pk, bob)
    assert created and second.pk != first.pk and second.initiator_id == bob.pk
    assert handshakes.cancel(direct.pk, bob)[0].status == "cancelled"
    assert handshakes.current(direct.pk, alice).pk == second.pk


def test_expiry_is_noticed_and_recorded(direct, alice, bob):
    pending, _ = handshakes.start(direct.pk, alice)
    Handshake.objects.filter(pk=pending.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(handshakes.HandshakeError) as error:
        handshakes.answer(direct.pk, bob, "approve")
    assert error.value.code == "handshake_expired"
    assert Handshake.objects.get(pk=pending.pk).status == "expired"  # not rolled back with the error
    assert handshakes.start(direct.pk, bob)[1] is True


def test_only_two_member_conversations_have_handshakes(group_room, alice):
    with pytest.raises(handshakes.HandshakeError) as error:
        handshakes.start(group_room.pk, alice)
    assert error.value.code == "handshake_not_possible" and "3" in str(error.value)


def test_one_pending_handshake_per_conversation_even_in_a_race(direct, alice, bob, monkeypatch):
    pending, _ = handshakes.start(direct.pk, alice)
    with pytest.raises(IntegrityError):
        Handshake.objects.create(conversation=direct, user1=alice, user2=bob, initiator=bob,
                                 expires_at=timezone.now() + timedelta(days=1))
    # bob's start reads "nothing pending" just before alice's insert commits: his insert fails,
    # and he is told to answer hers.
    real_latest, calls = handshakes._latest, []

    def stale_once(conversation_id):
        calls.append(conversation_id)
        return None if len(calls) == 1 else real_latest(conversation_id)

    monkeypatch.setattr(handshakes, "_latest", stale_once)
    with pytest.raises(handshakes.HandshakeError) as error:
        handshakes.start(direct.pk, bob)
    assert error.value.code == "handshake_pending" and error.value.handshake.pk == pending.pk
    assert Handshake.objects.count() == 1


# --- over the socket --------------------------------------------------------------------
async def test_both_members_hear_every_change(open_socket, direct, tokens, alice, bob):
    alice_ws = await open_socket(f"/ws/chat/{direct.pk}/", tokens["alice"])
    bob_ws = await open_socket(f"/ws/chat/{direct.pk}/", tokens["bob"])
    await alice_ws.send_json_to({"type": "handshake_start", "message": "hi"})
    for socket in (alice_ws, bob_ws):
        frame = await next_of(socket, "handshake")
        assert frame["conversation_id"] == direct.pk
        assert {k: frame["handshake"][k] for k in ("status", "user1_id", "user2_id", "initiator_id", "message")} == {
            "status": "pending", "user1_id": alice.pk, "user2_id": bob.pk, "initiator_id": alice.pk, "message": "hi"}
    await alice_ws.send_json_to({"type": "handshake_approve"})
    error = await next_of(alice_ws, "error")
    assert error["code"] == "forbidden" and error["handshake"]["status"] == "pending"
    await bob_ws.send_json_to({"type": "handshake_approve"})
    for socket in (alice_ws, bob_ws):
        assert (await next_of(socket, "handshake"))["handshake"]["status"] == "approved"
    # A start that changes nothing is answered to the asker only.
    await bob_ws.send_json_to({"type": "handshake_start"})
    assert (await next_of(bob_ws, "handshake"))["handshake"]["status"] == "approved"
    assert "handshake" not in [frame["type"] for frame in await nothing_more(alice_ws)]
    await alice_ws.send_json_to({"type": "handshake_status"})
    assert (await next_of(alice_ws, "handshake"))["handshake"]["status"] == "approved"


async def test_decline_cancel_and_errors_over_the_socket(open_socket, direct, group_room, tokens):
    alice_ws = await open_socket(f"/ws/chat/{direct.pk}/", tokens["alice"])
    await alice_ws.send_json_to({"type": "handshake_status"})
    assert (await next_of(alice_ws, "handshake"))["handshake"] is None
    await alice_ws.send_json_to({"type": "handshake_decline"})
    assert (await next_of(alice_ws, "error"))["code"] == "no_pending_handshake"
    await alice_ws.send_json_to({"type": "handshake_start"})
    await next_of(alice_ws, "handshake")
    await alice_ws.send_json_to({"type": "handshake_cancel"})
    assert (await next_of(alice_ws, "handshake"))["handshake"]["status"] == "cancelled"
    three = await open_socket(f"/ws/chat/{group_room.pk}/", tokens["alice"])
    await three.send_json_to({"type": "handshake_start"})
    assert (await next_of(three, "error"))["code"] == "handshake_not_possible"


async def test_handshakes_on_the_multiplexed_socket_name_their_conversation(open_socket, direct, tokens):
    bob_ws = await open_socket("/ws/chat/", tokens["bob"])
    await bob_ws.send_json_to({"type": "handshake_start"})
    assert (await next_of(bob_ws, "error"))["code"] == "invalid_message"
    await bob_ws.send_json_to({"type": "handshake_start", "conversation_id": direct.pk})
    assert (await next_of(bob_ws, "error"))["code"] == "not_joined"
    await bob_ws.send_json_to({"type": "join_conversation", "conversation_id": direct.pk})
    await next_of(bob_ws, "conversation_joined")
    await bob_ws.send_json_to({"type": "handshake_start", "conversation_id": direct.pk})
    frame = await next_of(bob_ws, "handshake")
    assert frame["conversation_id"] == direct.pk and frame["handshake"]["status"] == "pending"


# --- HTTP -------------------------------------------------------------------------------
def test_http_view(direct, group_room, tokens):
    url = f"/api/chat/conversations/{direct.pk}/handshake/"
    alice, bob, carol = api(tokens["alice"]), api(tokens["bob"]), api(tokens["carol"])
    assert alice.get(url).status_code == 404
    created = alice.post(url, {"message": "hello"}, format="json")
    assert created.status_code == 201 and created.json()["status"] == "pending"
    assert alice.post(url, {}, format="json").status_code == 200
    conflict = bob.post(url, {}, format="json")
    assert conflict.status_code == 409 and conflict.json()["code"] == "handshake_pending"
    assert conflict.json()["handshake"]["id"] == created.json()["id"]
    assert alice.post(url + "approve/").status_code == 403
    assert bob.post(url + "cancel/").status_code == 403
    approved = bob.post(url + "approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert alice.get(url).json()["status"] == "approved"
    assert alice.post(url + "decline/").status_code == 409
    assert alice.post(url + "explode/").status_code == 404
    assert carol.get(url).status_code == 403
    assert alice.get("/api/chat/conversations/999999/handshake/").status_code == 404
    assert alice.post(url, {"message": "x" * 501}, format="json").status_code == 400
    three = alice.post(f"/api/chat/conversations/{group_room.pk}/handshake/", {}, format="json")
    assert three.status_code == 409 and three.json()["code"] == "handshake_not_possible"


async def test_a_change_over_http_reaches_the_sockets(open_socket, direct, tokens):
    bob_ws = await open_socket(f"/ws/chat/{direct.pk}/", tokens["bob"])
    response = await sync_to_async(api(tokens["alice"]).post)(
        f"/api/chat/conversations/{direct.pk}/handshake/", {}, format="json")
    assert response.status_code == 201
    assert (await next_of(bob_ws, "handshake"))["handshake"]["id"] == response.json()["id"]
