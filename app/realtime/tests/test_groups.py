"""realtime.groups: one layer membership per group and process, events handed to local members."""

import asyncio

import pytest
from channels.layers import get_channel_layer

from realtime import groups as groups_module
from realtime.groups import local_groups
from realtime.testing import established

pytestmark = pytest.mark.django_db(transaction=True)


class Member:
    def __init__(self, fail=False):
        self.events = []
        self.fail = fail

    async def group_event(self, event):
        if self.fail:
            raise RuntimeError("handler broke")
        self.events.append(event)


async def eventually(condition, timeout=2.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_members_of_one_group_share_one_layer_membership():
    layer = get_channel_layer()
    groups = local_groups(layer)
    members = [Member() for _ in range(50)]
    for member in members:
        await groups.join("g-share", member)
    assert len(layer.groups["g-share"]) == 1
    await layer.group_send("g-share", {"type": "test.event", "n": 1})
    await eventually(lambda: all(member.events for member in members))
    assert all(member.events == [{"type": "test.event", "n": 1}] for member in members)
    for member in members:
        groups.leave("g-share", member)
    await groups.drain()
    assert not layer.groups.get("g-share") and groups.summary() == {}


async def test_a_failing_member_does_not_starve_the_others(caplog):
    layer = get_channel_layer()
    groups = local_groups(layer)
    broken, fine = Member(fail=True), Member()
    await groups.join("g-fail", broken)
    await groups.join("g-fail", fine)
    await layer.group_send("g-fail", {"type": "test.event"})
    await eventually(lambda: fine.events)
    assert "group g-fail: handler for 'test.event' failed" in caplog.text
    groups.leave("g-fail", broken)
    groups.leave("g-fail", fine)
    await groups.drain()


async def test_a_member_that_left_gets_nothing_more():
    layer = get_channel_layer()
    groups = local_groups(layer)
    staying, leaving = Member(), Member()
    await groups.join("g-leave", staying)
    await groups.join("g-leave", leaving)
    groups.leave("g-leave", leaving)
    await layer.group_send("g-leave", {"type": "test.event"})
    await eventually(lambda: staying.events)
    assert leaving.events == []
    groups.leave("g-leave", staying)
    await groups.drain()


async def test_the_last_member_leaving_ends_the_receive_loop_without_cancelling_it(monkeypatch):
    layer = get_channel_layer()
    groups = local_groups(layer)
    member = Member()
    await groups.join("g-stop", member)
    group = groups.groups["g-stop"]
    receiving = group.receiving
    cancelled = []
    monkeypatch.setattr(receiving, "cancel", lambda *args: cancelled.append(1))
    groups.leave("g-stop", member)
    await groups.drain()
    await asyncio.wait_for(receiving, timeout=2)
    assert cancelled == [] and not layer.groups.get("g-stop")


async def test_a_join_that_fails_is_retried_by_the_next_member(monkeypatch):
    layer = get_channel_layer()
    groups = local_groups(layer)
    original = layer.group_add
    calls = []

    async def flaky_add(group, channel):
        calls.append(group)
        if len(calls) == 1:
            raise ConnectionError("Error connecting to redis")
        return await original(group, channel)

    monkeypatch.setattr(layer, "group_add", flaky_add)
    first, second = Member(), Member()
    with pytest.raises(ConnectionError):
        await groups.join("g-retry", first)
    assert groups.summary() == {}
    await groups.join("g-retry", second)
    await layer.group_send("g-retry", {"type": "test.event"})
    await eventually(lambda: second.events)
    groups.leave("g-retry", second)
    await groups.drain()


async def test_receiving_again_after_a_layer_failure_joins_every_group_again(monkeypatch, caplog):
    """A Redis restart without persistence forgets every group: once the layer answers again,
    the process joins each of its groups again, or its sockets would stay deaf."""
    monkeypatch.setattr(groups_module, "RETRY_SECONDS", 0.01)
    layer = get_channel_layer()
    groups = local_groups(layer)
    a, b = Member(), Member()
    await groups.join("g-restart-a", a)
    await groups.join("g-restart-b", b)
    original_receive = layer.receive
    failures = []

    async def flaky_receive(channel):
        if not failures:
            failures.append(channel)
            raise ConnectionError("Connection reset by peer")
        return await original_receive(channel)

    monkeypatch.setattr(layer, "receive", flaky_receive)
    # The receive loops wait in the original receive: one wakes up, its next receive fails
    # (the restart), and the layer has forgotten every group meanwhile.
    await layer.send(groups.groups["g-restart-a"].channel, {"type": "test.wake"})
    await eventually(lambda: failures)
    layer.groups.clear()
    await eventually(lambda: "g-restart-a" in layer.groups and "g-restart-b" in layer.groups)
    await layer.group_send("g-restart-b", {"type": "test.event"})
    await eventually(lambda: {"type": "test.event"} in b.events)
    assert "receiving from the channel layer failed" in caplog.text
    groups.leave("g-restart-a", a)
    groups.leave("g-restart-b", b)
    await groups.drain()


async def test_twenty_sockets_of_one_group_make_one_layer_join(ws, carol, token_for, monkeypatch):
    """Connects and disconnects of sockets in a group the process already serves touch no layer."""
    from asgiref.sync import sync_to_async

    layer = get_channel_layer()
    calls = []
    for name in ("group_add", "group_discard"):
        original = getattr(layer, name)

        async def spy(group, channel, _name=name, _original=original):
            calls.append((_name, group))
            return await _original(group, channel)

        monkeypatch.setattr(layer, name, spy)
    token = await sync_to_async(token_for)(carol)
    sockets = []
    for _ in range(20):
        _, communicator = await ws("/ws/feed/?team=many", subprotocols=["bearer", token])
        await established(communicator)
        sockets.append(communicator)
    # The feed group, and the one group every revocation reaches a process by (realtime.revocation),
    # beside the process's own probe group (one, whatever the number of groups and sockets).
    probes = [call for call in calls if call[1].startswith("realtime.probe.")]
    assert len(probes) <= 1
    calls[:] = [call for call in calls if call not in probes]
    assert calls == [("group_add", "feed.team.many"), ("group_add", "auth.revocations")]
    await layer.group_send("feed.team.many", {"type": "feed.event", "scope": "team:many", "message": "hi", "by": "x"})
    for communicator in sockets:
        assert (await communicator.receive_json_from())["message"] == "hi"
    for communicator in sockets:
        await communicator.disconnect()
    await local_groups(layer).drain()
    calls[:] = [call for call in calls if not call[1].startswith("realtime.probe.")]
    assert sorted(calls) == [("group_add", "auth.revocations"), ("group_add", "feed.team.many"),
                             ("group_discard", "auth.revocations"), ("group_discard", "feed.team.many")]


async def test_group_events_wait_for_connection_established():
    """An event that reaches a socket's group while connect() is still sending
    connection_established is delivered after it, never before."""
    from realtime.consumers import JsonProtocolConsumer

    sent = []

    class Probe(JsonProtocolConsumer):
        requires_auth = False

        async def get_groups(self):
            await get_channel_layer().group_send("g-early", {"type": "probe.event"})
            await asyncio.sleep(0.05)  # the event reaches this process meanwhile
            return []

        async def probe_event(self, event):
            await self.send_json({"type": "probe"})

    consumer = Probe()
    consumer.scope = {"type": "websocket", "path": "/probe/"}
    consumer.channel_layer = get_channel_layer()

    async def base_send(message):
        sent.append(message)

    consumer.base_send = base_send
    member = Member()
    await local_groups(consumer.channel_layer).join("g-early", member)  # someone else in the group

    original_get_groups = consumer.get_groups

    async def groups_then_join():
        await local_groups(consumer.channel_layer).join("g-early", consumer)
        consumer.groups_joined.append("g-early")
        return await original_get_groups()

    consumer.get_groups = groups_then_join
    await consumer.connect()
    texts = [message.get("text", "") for message in sent if message["type"] == "websocket.send"]
    assert '"connection_established"' in texts[0] and '"probe"' in texts[1], texts
    await consumer.disconnect(1000)
    local_groups(consumer.channel_layer).leave("g-early", member)
    await local_groups(consumer.channel_layer).drain()


async def test_run_eagerly_pays_for_a_task_only_when_the_coroutine_waits():
    from realtime.groups import run_eagerly

    done = []

    async def quick():
        done.append("quick")

    assert run_eagerly(quick()) is None and done == ["quick"]
    gate = asyncio.get_running_loop().create_future()

    async def waits():
        done.append(await gate)
        await asyncio.sleep(0)
        return "finished"

    task = run_eagerly(waits())
    assert task is not None and not task.done()
    gate.set_result("gate opened")
    assert await asyncio.wait_for(task, 1) == "finished" and done[-1] == "gate opened"


async def test_run_eagerly_hands_errors_and_cancellation_to_the_coroutine():
    from realtime.groups import run_eagerly

    failing = asyncio.get_running_loop().create_future()
    seen = []

    async def reads_a_failure():
        try:
            await failing
        except ValueError as error:
            seen.append(str(error))
            raise

    task = run_eagerly(reads_a_failure())
    failing.set_exception(ValueError("boom"))
    with pytest.raises(ValueError, match="boom"):
        await task
    assert seen == ["boom"]

    forever = asyncio.get_running_loop().create_future()

    async def cleans_up():
        try:
            await forever
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    task = run_eagerly(cleans_up())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen[-1] == "cancelled" and forever.cancelled()


class BlockingSocket:
    """A consumer whose sends block while `flow` is clear, as uvicorn's do for a client that
    does not read."""

    def __init__(self, name, flow):
        from realtime.consumers import JsonProtocolConsumer

        class Consumer(JsonProtocolConsumer):
            async def test_event(self, event):
                await self.send_json({"n": event["n"]})

        self.consumer = Consumer()
        self.consumer.scope = {"type": "websocket", "path": f"/{name}/"}
        self.consumer.channel_layer = get_channel_layer()
        self.consumer.held_events, self.consumer.delivering = [], None
        self.consumer.ready, self.consumer.closing = True, False
        self.sent = []

        async def base_send(message):
            if flow is not None:
                await flow.wait()
            self.sent.append(message)

        self.consumer.base_send = base_send


async def test_a_socket_whose_sends_wait_holds_up_nobody_and_gets_its_events_in_order():
    layer = get_channel_layer()
    groups = local_groups(layer)
    flow = asyncio.Event()
    slow, fast = BlockingSocket("slow", flow), BlockingSocket("fast", None)
    await groups.join("g-slow", slow.consumer)
    await groups.join("g-slow", fast.consumer)
    for n in range(3):
        await layer.group_send("g-slow", {"type": "test.event", "n": n})
    await eventually(lambda: len(fast.sent) == 3)
    assert slow.sent == []
    flow.set()
    await eventually(lambda: len(slow.sent) == 3)
    assert [m["text"] for m in slow.sent] == [m["text"] for m in fast.sent] == ['{"n": 0}', '{"n": 1}', '{"n": 2}']
    groups.leave("g-slow", slow.consumer)
    groups.leave("g-slow", fast.consumer)
    await groups.drain()


async def test_a_socket_that_never_reads_is_cut_off_after_its_queue_fills(settings, caplog):
    settings.WS_MAX_HELD_EVENTS = 5
    layer = get_channel_layer()
    groups = local_groups(layer)
    flow = asyncio.Event()
    stalled = BlockingSocket("stalled", flow)
    await groups.join("g-stalled", stalled.consumer)
    for n in range(8):
        await stalled.consumer.group_event({"type": "test.event", "n": n})
    assert stalled.consumer.closing and stalled.consumer.held_events == []
    assert "the client is not reading (6 group events waiting, WS_MAX_HELD_EVENTS=5)" in caplog.text
    flow.set()  # the client reads again: what was sent before, then the close
    await eventually(lambda: stalled.sent and stalled.sent[-1] == {"type": "websocket.close", "code": 4009})
    groups.leave("g-stalled", stalled.consumer)
    await groups.drain()


async def test_at_shutdown_the_process_leaves_every_group_it_is_in():
    """A server that speaks the lifespan protocol (uvicorn) shuts down: the process leaves the
    layer's groups, even those with members still, so it stays no dead member of them."""
    from asgiref.testing import ApplicationCommunicator

    from config.asgi import application

    layer = get_channel_layer()
    groups = local_groups(layer)
    await groups.join("g-shutdown", Member())
    assert len(layer.groups["g-shutdown"]) == 1
    lifespan = ApplicationCommunicator(application, {"type": "lifespan", "asgi": {"version": "3.0"}})
    await lifespan.send_input({"type": "lifespan.startup"})
    assert (await lifespan.receive_output(2))["type"] == "lifespan.startup.complete"
    await lifespan.send_input({"type": "lifespan.shutdown"})
    assert (await lifespan.receive_output(5))["type"] == "lifespan.shutdown.complete"
    assert not layer.groups.get("g-shutdown") and groups.summary() == {}


async def test_memberships_the_layer_forgot_are_found_by_the_probe_and_the_members_told_to_resync(
        monkeypatch, settings, caplog):
    """FLUSHALL: no call fails, the layer simply forgets every group. Asked about the membership
    only this process has (its probe), the layer says no: it joins its groups again and tells
    each member once."""
    settings.REALTIME_PROBE_SECONDS = 0.05
    monkeypatch.setattr(groups_module, "PROBE_WAIT_SECONDS", 0.2)
    layer = get_channel_layer()
    groups = local_groups(layer)
    a, b = Member(), Member()
    await groups.join("g-flush-a", a)
    await groups.join("g-flush-b", a)
    await groups.join("g-flush-b", b)
    await asyncio.sleep(0.2)  # probes come back: nothing to do
    assert a.events == [] and b.events == []
    layer.groups.clear()
    await eventually(lambda: a.events and b.events)
    assert a.events == b.events == [{"type": groups_module.RESYNC, "reason": "the server lost its group memberships"}]
    assert "g-flush-a" in layer.groups and "g-flush-b" in layer.groups
    await layer.group_send("g-flush-b", {"type": "test.event"})
    await eventually(lambda: {"type": "test.event"} in b.events)
    assert "lost this process's group memberships" in caplog.text
    await groups.leave_everything()
    assert not [name for name in layer.groups if name.startswith("realtime.probe.")]  # the probe left too


async def test_a_hole_in_a_senders_numbers_tells_the_members_once_a_late_event_does_not(monkeypatch, caplog):
    """realtime.layers numbers each sender's events per group; one that never arrives is an event
    the layer dropped (its channel over capacity). One that arrives late (concurrent sends of one
    process overtake each other) is not."""
    from realtime.layers import SEQUENCE_KEY

    monkeypatch.setattr(groups_module, "GAP_GRACE_SECONDS", 0.1)
    layer = get_channel_layer()
    groups = local_groups(layer)
    member = Member()
    await groups.join("g-gaps", member)
    channel = groups.groups["g-gaps"].channel

    async def arrive(sender, number):
        await layer.send(channel, {"type": "test.event", "n": number, SEQUENCE_KEY: [sender, number]})

    for number in (1, 3, 2, 4):  # 2 overtaken by 3: late, not lost
        await arrive("a", number)
    await asyncio.sleep(0.3)
    assert [event.get("n") for event in member.events] == [1, 3, 2, 4]
    for number in (7, 8):  # 5 and 6 never come
        await arrive("a", number)
    await arrive("b", 40)  # another sender's first event: no hole
    await eventually(lambda: any(event["type"] == groups_module.RESYNC for event in member.events))
    await asyncio.sleep(0.3)
    resyncs = [event for event in member.events if event["type"] == groups_module.RESYNC]
    reason = "2 event(s) could not be delivered to this server in time"
    assert resyncs == [{"type": groups_module.RESYNC, "reason": reason}]
    assert "g-gaps: 2 event(s) did not reach this process" in caplog.text
    groups.leave("g-gaps", member)
    await groups.drain()


def test_gaps_bound_what_they_wait_for():
    gaps = groups_module._Gaps()
    gaps.note(["a", 1], now=0)
    assert gaps.note(["a", 5000], now=0)
    assert len(gaps.waiting) == groups_module.GAP_LIMIT
    assert gaps.overdue(now=groups_module.GAP_GRACE_SECONDS) == 4998
    assert not gaps.waiting
    assert not gaps.note(["a", 1], now=0)  # the sender's count began again: a new start
    assert not gaps.note("not a stamp", now=0)


def test_the_layer_numbers_each_groups_events_and_forgets_the_least_recent_group(monkeypatch):
    import realtime.layers
    from realtime.layers import RedisChannelLayer

    monkeypatch.setattr(realtime.layers, "SEQUENCED_GROUPS", 2)
    layer = RedisChannelLayer(hosts=[{"address": "redis://127.0.0.1:1"}])  # never connected
    assert [layer._next_number("a"), layer._next_number("a"), layer._next_number("b")] == [1, 2, 1]
    layer._next_number("c")  # "a" is the least recently sent to: forgotten
    assert layer._next_number("a") == 1 and layer._next_number("c") == 2


async def test_a_layer_that_cannot_answer_the_probe_is_not_taken_for_one_that_forgot(monkeypatch, settings):
    """Only the layer's answer "not a member" counts: a failing or slow layer is the receive
    loops' business (they say so and join again when it is back)."""
    settings.REALTIME_PROBE_SECONDS = 0.05
    monkeypatch.setattr(groups_module, "PROBE_WAIT_SECONDS", 0.1)
    layer = get_channel_layer()
    groups = local_groups(layer)
    member = Member()
    await groups.join("g-unanswered", member)
    asked = []

    async def unanswerable(layer, group, channel):
        asked.append(group)
        if len(asked) % 2:
            raise ConnectionError("Connection reset by peer")
        await asyncio.sleep(1)  # past the wait

    monkeypatch.setattr(groups_module, "has_member", unanswerable)
    await eventually(lambda: len(asked) >= 4)
    assert member.events == []
    await groups.leave_everything()


async def test_which_layers_can_be_asked_about_memberships():
    from channels.layers import InMemoryChannelLayer
    from channels_redis.pubsub import RedisPubSubChannelLayer

    from realtime.layers import RedisChannelLayer

    assert groups_module.can_ask_membership(RedisChannelLayer(hosts=[{"address": "redis://127.0.0.1:1"}]))
    assert groups_module.can_ask_membership(InMemoryChannelLayer())
    assert not groups_module.can_ask_membership(RedisPubSubChannelLayer(hosts=[{"address": "redis://127.0.0.1:1"}]))
