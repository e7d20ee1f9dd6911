import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from realtime.testing import established, receive_close

pytestmark = pytest.mark.django_db(transaction=True)


async def test_groups_derive_from_team_and_branch(ws, alice_token):
    _, communicator = await ws("/ws/feed/", subprotocols=["bearer", alice_token])
    hello = await established(communicator)
    assert hello["groups"] == ["feed.team.red", "feed.branch.north"]


async def test_override_is_forbidden_for_regular_users(ws, alice_token):
    _, communicator = await ws("/ws/feed/?team=blue", subprotocols=["bearer", alice_token])
    assert await receive_close(communicator) == 4003


async def test_staff_may_override(ws, carol, token_for):
    token = await sync_to_async(token_for)(carol)
    _, communicator = await ws("/ws/feed/?team=red&branch=south", subprotocols=["bearer", token])
    assert (await established(communicator))["groups"] == ["feed.team.red", "feed.branch.south"]


async def test_permission_holders_may_override(ws, make_user, token_for):
    def privileged():
        user = make_user("dave", team="green")
        user.user_permissions.add(Permission.objects.get(codename="view_any_feed_scope"))
        return token_for(user)

    token = await sync_to_async(privileged)()
    _, communicator = await ws("/ws/feed/?branch=north", subprotocols=["bearer", token])
    assert (await established(communicator))["groups"] == ["feed.branch.north"]


async def test_announcement_reaches_the_team_only(ws, alice_token, bob, carol, token_for):
    bob_token = await sync_to_async(token_for)(bob)
    carol_token = await sync_to_async(token_for)(carol)
    _, alice_ws = await ws("/ws/feed/", subprotocols=["bearer", alice_token])
    _, carol_ws = await ws("/ws/feed/", subprotocols=["bearer", carol_token])
    await established(alice_ws)
    await established(carol_ws)

    def announce(token, data):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client.post("/api/feed/announce/", data, format="json")

    response = await sync_to_async(announce)(bob_token, {"scope": "team", "message": "standup"})
    assert response.status_code == 202
    event = await alice_ws.receive_json_from(timeout=2)
    assert event == {"type": "feed", "scope": "team:red", "message": "standup", "by": "bob"}
    assert await carol_ws.receive_nothing(timeout=0.3)
    forbidden = await sync_to_async(announce)(bob_token, {"scope": "team", "value": "blue", "message": "x"})
    assert forbidden.status_code == 403


async def test_an_announcement_the_layer_cannot_take_is_a_503_within_the_send_timeout(ws, alice_token, settings,
                                                                                       monkeypatch):
    """A paused Redis held the request for the Redis socket timeout, then answered 500."""
    import asyncio
    import time

    from channels.layers import get_channel_layer

    settings.CHANNEL_LAYER_SEND_TIMEOUT = 0.3

    async def paused(group, event):
        await asyncio.sleep(30)

    monkeypatch.setattr(get_channel_layer(), "group_send", paused)

    def announce():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {alice_token}")
        return client.post("/api/feed/announce/", {"scope": "team", "message": "x"}, format="json")

    started = time.monotonic()
    response = await sync_to_async(announce)()
    assert response.status_code == 503 and time.monotonic() - started < 2
    assert "did not answer within 0.3 s" in response.json()["detail"]
