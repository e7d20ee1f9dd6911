import pytest
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient

from notifications.models import Notification
from realtime.testing import established

pytestmark = pytest.mark.django_db(transaction=True)


def api(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


async def test_api_action_reaches_every_connection_of_the_user(ws, alice_token):
    sockets = []
    for _ in range(2):
        _, communicator = await ws("/ws/notifications/", subprotocols=["bearer", alice_token])
        await established(communicator)
        sockets.append(communicator)
    response = await sync_to_async(api(alice_token).post)("/api/notifications/", {"title": "Build done"}, format="json")
    assert response.status_code == 201
    for communicator in sockets:
        pushed = await communicator.receive_json_from(timeout=2)
        assert pushed["type"] == "notification" and pushed["notification"]["title"] == "Build done"


async def test_notifications_go_only_to_their_recipient(ws, alice_token, bob, token_for):
    bob_token = await sync_to_async(token_for)(bob)
    _, bob_ws = await ws("/ws/notifications/", subprotocols=["bearer", bob_token])
    await established(bob_ws)
    await sync_to_async(api(alice_token).post)("/api/notifications/", {"title": "mine"}, format="json")
    assert await bob_ws.receive_nothing(timeout=0.3)


async def test_rolled_back_notification_is_never_pushed(ws, alice, alice_token):
    from django.db import transaction

    _, communicator = await ws("/ws/notifications/", subprotocols=["bearer", alice_token])
    await established(communicator)

    def create_then_fail():
        with pytest.raises(RuntimeError), transaction.atomic():
            Notification.objects.create(recipient=alice, title="ghost")
            raise RuntimeError

    await sync_to_async(create_then_fail)()
    assert await communicator.receive_nothing(timeout=0.3)


def test_only_staff_notify_others(alice_token, bob, carol, token_for):
    to_bob = {"title": "x", "recipient": "bob"}
    assert api(alice_token).post("/api/notifications/", to_bob, format="json").status_code == 403
    staff = api(token_for(carol))
    assert staff.post("/api/notifications/", {"title": "x", "recipient": "bob"}, format="json").status_code == 201
    assert staff.post("/api/notifications/", {"title": "x", "recipient": "nobody"}, format="json").status_code == 404


def test_list_and_mark_read(alice, alice_token):
    client = api(alice_token)
    created = client.post("/api/notifications/", {"title": "t", "body": "b"}, format="json").json()
    assert client.get("/api/notifications/").json()[0]["id"] == created["id"]
    assert client.post(f"/api/notifications/{created['id']}/read/").json()["read"] is True
