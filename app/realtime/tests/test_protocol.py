import asyncio
import json

import pytest

from realtime.ratelimit import TokenBucket
from realtime.testing import established, receive_close

pytestmark = pytest.mark.django_db(transaction=True)


async def echo(ws):
    connected, communicator = await ws("/ws/test/")
    assert connected
    return communicator, await established(communicator)


async def test_connection_established_names_user_groups_and_instance(ws, alice_token, settings):
    _, communicator = await ws("/ws/notifications/", subprotocols=["bearer", alice_token])
    hello = await established(communicator)
    assert hello["user"]["username"] == "alice"
    assert hello["groups"] == [f"notifications.user.{hello['user']['id']}"]
    assert hello["server"]["instance"] == settings.SERVER_INSTANCE_ID


async def test_echo_is_open_to_anonymous_clients(ws):
    communicator, hello = await echo(ws)
    assert hello["user"] is None
    await communicator.send_json_to({"type": "echo", "data": {"x": 1}})
    assert await communicator.receive_json_from() == {"type": "echo", "data": {"x": 1}}


@pytest.mark.parametrize("message", [{"type": "ping", "ts": 7}, {"action": "ping", "ts": 7},
                                     {"type": "ping", "timestamp": 7}])
async def test_ping_pong(ws, message):
    """The pong carries every spelling clients read (compatibility aliases, README)."""
    communicator, _ = await echo(ws)
    await communicator.send_json_to(message)
    assert await communicator.receive_json_from() == {"type": "pong", "ts": 7, "timestamp": 7, "message": "pong"}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_message"),
        ('{"type": "launch_rockets"}', "unknown_type"),
        ('{"type": "__class__"}', "unknown_type"),
        ('{"type": 5}', "unknown_type"),
        ("{}", "unknown_type"),
    ],
)
async def test_bad_input_gets_an_error_and_the_socket_stays_usable(ws, frame, code):
    communicator, _ = await echo(ws)
    await communicator.send_to(text_data=frame)
    error = await communicator.receive_json_from()
    assert error["type"] == "error" and error["code"] == code and error["message"]
    await communicator.send_json_to({"type": "ping"})
    assert (await communicator.receive_json_from())["type"] == "pong"


async def test_binary_frames_are_refused_politely(ws):
    communicator, _ = await echo(ws)
    await communicator.send_to(bytes_data=b"\x00\x01")
    assert (await communicator.receive_json_from())["code"] == "binary_not_supported"


async def test_oversized_message_gets_error_then_policy_close(ws, settings):
    settings.WS_MAX_MESSAGE_BYTES = 1024
    communicator, _ = await echo(ws)
    await communicator.send_to(text_data=json.dumps({"type": "echo", "data": "x" * 2000}))
    assert (await communicator.receive_json_from())["code"] == "message_too_large"
    assert await receive_close(communicator) == 4008


async def test_message_at_the_limit_is_accepted(ws, settings):
    settings.WS_MAX_MESSAGE_BYTES = 1024
    communicator, _ = await echo(ws)
    frame = json.dumps({"type": "echo", "data": ""})
    frame = frame.replace('""', '"' + "y" * (1024 - len(frame)) + '"')
    assert len(frame.encode()) == 1024
    await communicator.send_to(text_data=frame)
    assert (await communicator.receive_json_from())["type"] == "echo"


async def test_flooding_closes_with_4008(ws, settings):
    settings.WS_RATE_LIMIT_PER_SECOND = 1
    settings.WS_RATE_LIMIT_BURST = 3
    communicator, _ = await echo(ws)
    for _ in range(4):
        await communicator.send_json_to({"type": "ping"})
    replies = [await communicator.receive_json_from() for _ in range(4)]
    assert [r["type"] for r in replies] == ["pong", "pong", "pong", "error"]
    assert replies[-1]["code"] == "rate_limited"
    assert await receive_close(communicator) == 4008


async def test_handler_crash_becomes_an_error_message(ws, monkeypatch):
    from realtime.consumers import EchoConsumer

    async def boom(self, content):
        raise RuntimeError("bug")

    monkeypatch.setattr(EchoConsumer, "handle_echo", boom)
    communicator, _ = await echo(ws)
    await communicator.send_json_to({"type": "echo"})
    assert (await communicator.receive_json_from())["code"] == "internal_error"


async def test_ops_feed_is_staff_only(ws, alice_token):
    _, communicator = await ws("/ws/ops/", subprotocols=["bearer", alice_token])
    assert await receive_close(communicator) == 4003


async def next_stats(ops, wanted, timeout=3):
    """The first stats message from ops for which wanted(message) holds."""
    while True:
        message = await ops.receive_json_from(timeout=timeout)
        if message["type"] == "stats" and wanted(message):
            return message


async def test_ops_feed_shows_stats_published_by_each_instance(ws, carol, token_for, settings):
    from asgiref.sync import sync_to_async

    settings.OPS_STATS_INTERVAL_SECONDS = 0.05
    _, ops = await ws("/ws/ops/", subprotocols=["bearer", await sync_to_async(token_for)(carol)])
    await established(ops)
    first = await ops.receive_json_from()
    assert first["type"] == "stats" and first["connections"]["ops"] == 1
    assert first["instance"] == settings.SERVER_INSTANCE_ID
    echo_socket, _ = await echo(ws)
    await next_stats(ops, lambda stats: stats["connections"].get("test") == 1)
    await echo_socket.disconnect()
    await next_stats(ops, lambda stats: "test" not in stats["connections"] and stats["total"] == 1)


async def test_connects_and_disconnects_make_no_layer_call_but_their_own(ws, monkeypatch):
    """Nobody pays a channel-layer round trip per connect or disconnect for the ops feed:
    a socket without groups touches the layer only through the periodic stats publisher."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    calls = []
    for name in ("group_send", "group_add", "group_discard"):
        original = getattr(layer, name)

        async def spy(*args, _name=name, _original=original, **kwargs):
            calls.append((_name, args[0]))
            return await _original(*args, **kwargs)

        monkeypatch.setattr(layer, name, spy)
    for _ in range(20):
        communicator, _ = await echo(ws)
        await communicator.disconnect()
    assert [call for call in calls if call[0] != "group_send" or call[1] != "ops"] == []
    assert len(calls) <= 1  # at most the publisher's snapshot, whatever the number of sockets


async def test_disconnect_leaves_its_groups_when_its_farewell_fails(ws, alice_token, monkeypatch, caplog):
    """Anything a consumer does on disconnect before leaving its groups may fail (a Redis
    hiccup); the socket must still leave every group, and the process the layer's group."""
    from channels.layers import get_channel_layer

    from notifications.consumers import NotificationConsumer
    from realtime.groups import local_groups

    async def failing_farewell(self, code):
        raise ConnectionError("Too many connections")

    monkeypatch.setattr(NotificationConsumer, "on_disconnect", failing_farewell)
    _, communicator = await ws("/ws/notifications/", subprotocols=["bearer", alice_token])
    hello = await established(communicator)
    (group,) = hello["groups"]
    layer = get_channel_layer()
    assert local_groups(layer).summary() == {group: 1, "auth.revocations": 1}
    assert len(layer.groups.get(group, {})) == 1
    await communicator.disconnect()
    await local_groups(layer).drain()
    assert local_groups(layer).summary() == {}
    assert not layer.groups.get(group)
    assert "leaving its groups anyway" in caplog.text and "Traceback" not in caplog.text


async def test_a_failing_group_discard_does_not_stop_the_others(ws, carol, token_for, monkeypatch, caplog):
    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    from realtime.groups import local_groups

    layer = get_channel_layer()
    original = layer.group_discard
    failed = []

    async def flaky_discard(group, channel):
        if not failed:
            failed.append(group)
            raise ConnectionError("Too many connections")
        return await original(group, channel)

    _, communicator = await ws("/ws/feed/", subprotocols=["bearer", await sync_to_async(token_for)(carol)])
    hello = await established(communicator)
    assert len(hello["groups"]) == 2
    monkeypatch.setattr(layer, "group_discard", flaky_discard)
    await communicator.disconnect()
    await local_groups(layer).drain()
    (kept,) = failed
    (left,) = set(hello["groups"]) - {kept}
    assert not layer.groups.get(left)
    assert f"group {kept}: could not leave the channel layer's group (Too many connections)" in caplog.text
    assert local_groups(layer).summary() == {}


async def test_a_socket_that_cannot_join_its_groups_is_closed_with_4013(ws, alice_token, monkeypatch):
    from channels.layers import get_channel_layer

    async def unreachable(group, channel):
        raise ConnectionError("Error connecting to redis")

    monkeypatch.setattr(get_channel_layer(), "group_add", unreachable)
    _, communicator = await ws("/ws/notifications/", subprotocols=["bearer", alice_token])
    error = await communicator.receive_json_from()
    assert error["type"] == "error" and error["code"] == "unavailable"
    assert await receive_close(communicator) == 4013


async def test_handlers_do_not_hop_to_the_sync_thread(ws, monkeypatch):
    """channels' dispatch runs close_old_connections in the shared sync thread before every
    handler; ours does not (database_sync_to_async does it where the database is used)."""
    import channels.consumer
    import channels.db

    hops = []

    async def counted():
        hops.append(1)

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted)
    monkeypatch.setattr(channels.db, "aclose_old_connections", counted)
    communicator, _ = await echo(ws)
    for _ in range(5):
        await communicator.send_json_to({"type": "ping"})
        assert (await communicator.receive_json_from())["type"] == "pong"
    assert hops == []


def test_token_bucket_refills_over_time():
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=2, clock=lambda: now[0])
    assert [bucket.allow() for _ in range(3)] == [True, True, False]
    now[0] = 0.5
    assert bucket.allow() and not bucket.allow()


async def test_deeply_nested_json_under_the_size_limit_is_an_error_not_a_crash(ws, caplog):
    communicator, _ = await echo(ws)
    await communicator.send_to(text_data="[" * 30000)
    error = await communicator.receive_json_from()
    assert error["type"] == "error" and error["code"] == "invalid_json" and "nested" in error["message"]
    await communicator.send_json_to({"type": "ping"})
    assert (await communicator.receive_json_from())["type"] == "pong"
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text


async def test_a_flood_behind_the_rate_limit_close_is_dropped_quietly(ws, settings, caplog):
    settings.WS_RATE_LIMIT_PER_SECOND = 1
    settings.WS_RATE_LIMIT_BURST = 2
    communicator, _ = await echo(ws)
    for _ in range(20):
        await communicator.send_json_to({"type": "echo", "data": 1})
    frames = []
    while True:
        message = await communicator.receive_output(2)
        if message["type"] == "websocket.close":
            break
        frames.append(message["text"])
    assert len(frames) == 3 and '"rate_limited"' in frames[-1]  # two echoes, the error, then only the close
    assert message["code"] == 4008
    await asyncio.sleep(0.1)
    assert communicator.output_queue.empty()
    assert "Traceback" not in caplog.text


async def test_an_idle_anonymous_socket_is_closed_and_an_active_one_is_not(ws, settings):
    settings.WS_ANONYMOUS_IDLE_SECONDS = 0.5
    idle, _ = await echo(ws)
    active, _ = await echo(ws)
    for _ in range(4):
        await asyncio.sleep(0.25)
        await active.send_json_to({"type": "ping"})
        assert (await active.receive_json_from())["type"] == "pong"
    error = await idle.receive_json_from(timeout=2)
    assert error["type"] == "error" and error["code"] == "idle_timeout"
    assert await receive_close(idle) == 4008


async def test_authenticated_sockets_have_no_idle_timeout(ws, alice_token, settings):
    settings.WS_ANONYMOUS_IDLE_SECONDS = 0.3
    _, communicator = await ws("/ws/notifications/", subprotocols=["bearer", alice_token])
    await established(communicator)
    assert await communicator.receive_nothing(timeout=0.8)


async def test_groups_that_take_too_long_to_find_say_why_never_an_empty_reason(ws, alice_token, monkeypatch, caplog,
                                                                               settings):
    """`could not join its groups ()`: a bare TimeoutError has no message."""
    from notifications.consumers import NotificationConsumer

    settings.WS_AUTH_TIMEOUT = 0.2

    async def slow(self):
        await asyncio.sleep(5)

    monkeypatch.setattr(NotificationConsumer, "get_groups", slow)
    _, communicator = await ws("/ws/notifications/", subprotocols=["bearer", alice_token])
    assert await receive_close(communicator) == 4013
    line = next(record.getMessage() for record in caplog.records if "could not join its groups" in record.getMessage())
    assert "could not join its groups (no answer within 0.2 s (WS_AUTH_TIMEOUT)" in line, line


async def test_sockets_per_user_are_capped_and_a_closed_one_frees_its_place(ws, alice_token, token_for, bob,
                                                                           settings):
    """Without Redis the count is this process's (the live tests count across processes)."""
    from asgiref.sync import sync_to_async

    settings.WS_MAX_SOCKETS_PER_USER = 2
    first, second = [await ws("/ws/notifications/", subprotocols=["bearer", alice_token]) for _ in range(2)]
    for _, communicator in (first, second):
        await established(communicator)
    _, third = await ws("/ws/notifications/", subprotocols=["bearer", alice_token])
    error = await third.receive_json_from()
    assert error["type"] == "error" and error["code"] == "too_many_sockets" and "At most 2" in error["message"]
    assert await receive_close(third) == 4008
    _, bobs = await ws("/ws/notifications/", subprotocols=["bearer", await sync_to_async(token_for)(bob)])
    await established(bobs)  # another user is not affected
    await first[1].disconnect()
    await asyncio.sleep(0.05)
    _, fourth = await ws("/ws/notifications/", subprotocols=["bearer", alice_token])
    await established(fourth)


async def test_a_socket_is_told_to_resync_when_its_process_may_have_missed_events(ws, alice_token):
    """realtime.groups tells every local member once (a forgotten membership, a layer that was
    unreachable, a hole in a sender's numbers); the socket stays open."""
    from channels.layers import get_channel_layer

    from realtime.groups import local_groups

    _, communicator = await ws("/ws/notifications/", subprotocols=["bearer", alice_token])
    await established(communicator)
    await local_groups(get_channel_layer()).resync("the server lost its group memberships")
    assert await communicator.receive_json_from() == {"type": "resync",
                                                      "reason": "the server lost its group memberships"}
    await communicator.send_json_to({"type": "ping", "ts": 1})
    assert (await communicator.receive_json_from())["type"] == "pong"
