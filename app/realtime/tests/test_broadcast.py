import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from realtime import broadcast as broadcast_module
from realtime.broadcast import broadcast, broadcast_on_commit


async def test_broadcast_from_sync_code_reaches_the_group():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("broadcast-test", channel)
    await sync_to_async(broadcast)("broadcast-test", {"type": "test.event", "n": 1})
    assert await asyncio.wait_for(layer.receive(channel), timeout=2) == {"type": "test.event", "n": 1}


@pytest.fixture
def sent(monkeypatch):
    calls = []
    monkeypatch.setattr(broadcast_module, "broadcast", lambda group, event: calls.append((group, event)))
    return calls


@pytest.mark.django_db
def test_broadcast_on_commit_waits_for_the_commit(sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            broadcast_on_commit("g", {"type": "t"})
        assert sent == []
    assert sent == [("g", {"type": "t"})]


@pytest.mark.django_db
def test_broadcast_on_commit_is_dropped_on_rollback(sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            broadcast_on_commit("g", {"type": "t"})
            raise RuntimeError("roll back")
    assert sent == []
