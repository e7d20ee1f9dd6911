"""The Redis channel layer across real daphne processes and a real redis-server."""

import asyncio
import json

import pytest
import redis
from websockets.exceptions import ConnectionClosed

from ops.testing.client import http, login, receive, ws_connect


@pytest.fixture
def pair(start_daphne, redis_server):
    return start_daphne("daphne-1", redis=redis_server), start_daphne("daphne-2", redis=redis_server)


async def test_deep_health_is_ok_with_redis(pair):
    status, report = http("GET", pair[0].base_url + "/api/websocket/health/")
    assert status == 200 and report["status"] == "ok", report
    assert report["checks"]["redis"]["detail"]["version"]
    assert report["checks"]["channel_layer"]["detail"]["backend"] == "realtime.layers.RedisChannelLayer"


async def test_chat_message_crosses_processes(pair):
    a, b = pair
    alice, bob = login(a, "alice"), login(b, "bob")
    status, conversations = http("GET", a.base_url + "/api/chat/conversations/", token=alice)
    room = conversations[0]["id"]
    async with ws_connect(a, f"/ws/chat/{room}/", token=alice) as on_a, ws_connect(
        b, f"/ws/chat/{room}/", token=bob
    ) as on_b:
        assert (await receive(on_a))["server"]["instance"] == "daphne-1"
        assert (await receive(on_b))["server"]["instance"] == "daphne-2"
        await on_a.send(json.dumps({"type": "message", "body": "across processes"}))
        message = (await receive(on_b, "message"))["message"]
        assert message["body"] == "across processes" and message["sender"]["username"] == "alice"
        await on_b.send(json.dumps({"type": "typing"}))
        assert (await receive(on_a, "typing"))["user"]["username"] == "bob"


async def test_http_action_reaches_sockets_on_every_process(pair):
    a, b = pair
    token = login(a, "carol")
    async with ws_connect(a, "/ws/notifications/", token=token) as on_a, ws_connect(
        b, "/ws/notifications/", token=token
    ) as on_b:
        await receive(on_a)
        await receive(on_b)
        status, _ = http("POST", a.base_url + "/api/notifications/", token=token, body={"title": "deploy done"})
        assert status == 201
        for ws in (on_a, on_b):
            assert (await receive(ws, "notification"))["notification"]["title"] == "deploy done"


BURST = 500


def group_members(redis_server):
    """{group key: member count} of every channel_redis group in redis_server."""
    client = redis.Redis.from_url(redis_server.url)
    try:
        return {key.decode(): client.zcard(key) for key in client.scan_iter("asgi:group:*")}
    finally:
        client.close()


async def test_storm_on_a_small_pool_waits_instead_of_failing(start_daphne, redis_server):
    """A pool far smaller than the burst (10 connections for 500 chat sockets, each announcing
    its presence with a group_send on connect and on disconnect): the layer calls queue for a
    connection instead of raising MaxConnectionsError, the process is one member of the group
    while any socket is in it, and none once everyone left."""
    # The units' handshake wait (daphne's own 5 s cut handshakes queued behind 500 membership checks).
    server = start_daphne("burst", redis=redis_server, extra_args=["--websocket_connect_timeout", "60"],
                          REDIS_MAX_CONNECTIONS="10")
    token = login(server)
    status, conversations = http("GET", server.base_url + "/api/chat/conversations/", token=token)
    room = conversations[0]["id"]
    gate = asyncio.Event()
    sockets = []

    async def one():
        await gate.wait()
        ws = await ws_connect(server, f"/ws/chat/{room}/", token=token, open_timeout=60)
        sockets.append(ws)
        return (await receive(ws, timeout=60))["type"]

    tasks = [asyncio.create_task(one()) for _ in range(BURST)]
    await asyncio.sleep(0.1)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    failures = [r for r in results if r != "connection_established"]
    assert not failures, f"{len(failures)} of {BURST} failed, e.g. {failures[:3]}"
    group = f"asgi:group:chat.{room}"
    assert group_members(redis_server)[group] == 1
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    deadline = asyncio.get_running_loop().time() + 30
    while group_members(redis_server).get(group) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
    assert not group_members(redis_server).get(group), "the process stayed in the group after everyone left"
    log = server.read_log()
    assert "Too many connections" not in log and "MaxConnectionsError" not in log and "Traceback" not in log


async def test_idle_consumer_outlives_the_layers_blocking_receive(start_daphne, redis_server):
    """channels_redis waits for messages with BZPOPMIN for 5 s, and redis-py 8's default
    socket timeout is also 5 s: without a longer REDIS_SOCKET_TIMEOUT, an idle consumer's
    receive loop crashes and the socket closes with 1011 after about 5 s of silence."""
    server = start_daphne("idle", redis=redis_server)
    async with ws_connect(server, "/ws/test/", ping_interval=None) as ws:
        await receive(ws, "connection_established")
        await asyncio.sleep(12)
        await ws.send(json.dumps({"type": "ping"}))
        assert (await receive(ws, "pong"))["type"] == "pong"
    assert "TimeoutError" not in server.read_log()


async def test_logout_closes_that_tokens_sockets_on_every_process_within_a_second_or_two(pair):
    """Revocation reaches open sockets (realtime.revocation): the token's sockets on both
    daphne processes close with 4001, a socket of another token of the same user stays."""
    a, b = pair
    token, other = login(a, "alice"), login(b, "alice")
    async with ws_connect(a, "/ws/notifications/", token=token) as on_a, ws_connect(
        b, "/ws/notifications/", token=token
    ) as on_b, ws_connect(b, "/ws/notifications/", token=other) as untouched:
        for ws in (on_a, on_b, untouched):
            await receive(ws, "connection_established")
        started = asyncio.get_running_loop().time()
        status, _ = http("POST", a.base_url + "/api/auth/logout/", token=token)
        assert status == 204
        for ws in (on_a, on_b):
            assert (await receive(ws, "error", timeout=5))["code"] == "credential_revoked"
            await ws.wait_closed()
            assert ws.close_code == 4001
        assert asyncio.get_running_loop().time() - started < 2
        await untouched.send(json.dumps({"type": "ping"}))
        assert (await receive(untouched, "pong"))["type"] == "pong"


async def test_a_stopped_daphne_leaves_the_layers_groups(start_daphne, redis_server):
    """A process is one member of each group it has sockets in (realtime.groups); when it stops
    (SIGTERM: a deploy, systemctl stop) it must leave them, or every later broadcast pays for a
    dead member until the group expires (a day)."""
    server = start_daphne("leaving", redis=redis_server)
    token = login(server)
    status, conversations = http("GET", server.base_url + "/api/chat/conversations/", token=token)
    room = conversations[0]["id"]
    group = f"asgi:group:chat.{room}"
    before = group_members(redis_server).get(group, 0)
    async with ws_connect(server, f"/ws/chat/{room}/", token=token) as ws:
        await receive(ws, "connection_established")
        assert group_members(redis_server)[group] == before + 1
        server.popen.terminate()
        with pytest.raises(ConnectionClosed):
            while True:
                await receive(ws, timeout=15)
    assert server.popen.wait(20) == 0
    assert group_members(redis_server).get(group, 0) == before


async def test_a_burst_the_layer_drops_part_of_is_never_lost_in_silence(start_daphne, redis_server):
    """channels_redis drops a group event for a process whose channel already holds the sender's
    `capacity` events (CHANNEL_LAYER_CAPACITY): a daphne whose fan-out falls behind a burst.
    Here the sender is this test, through the project's layer with a capacity of 10, so the burst
    outruns the daphne's fan-out to 500 sockets. Every socket either gets every event or is told
    to resync, and the daphne logs a WARNING with the count. Before, sockets received a part and
    nobody knew."""
    from realtime.layers import RedisChannelLayer

    receiver = start_daphne("daphne-1", redis=redis_server)
    carol = login(receiver, "carol")
    team, sockets_n, burst = "burst", 500, 300
    sockets = [await ws_connect(receiver, f"/ws/feed/?team={team}", token=carol) for _ in range(sockets_n)]
    try:
        for ws in sockets:
            await receive(ws, "connection_established")
        sender = RedisChannelLayer(hosts=[{"address": redis_server.url}], capacity=10)
        for n in range(burst):
            await sender.group_send(f"feed.team.{team}", {"type": "feed.event", "scope": f"team:{team}",
                                                          "message": f"burst {n}", "by": "test"})

        async def outcome(ws):
            heard, told = 0, False
            while heard < burst and not told:
                try:
                    frame = await receive(ws, timeout=8)
                except TimeoutError:
                    break
                heard += frame["type"] == "feed"
                told = told or frame["type"] == "resync"
            return heard, told

        outcomes = await asyncio.gather(*(outcome(ws) for ws in sockets))
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    silent = [heard for heard, told in outcomes if heard < burst and not told]
    assert not silent, f"{len(silent)} sockets missed events without a resync (heard {silent[:5]} of {burst})"
    told = sum(told for _, told in outcomes)
    log = receiver.read_log()
    assert told == sockets_n and "did not reach this process" in log, (
        f"{told} of {sockets_n} told: the burst was not dropped in part, the test proves nothing")
    # The operator sees it in the deep health report too (any process answers it: the shared cache).
    status, report = http("GET", receiver.base_url + "/api/websocket/health/")
    delivery = report["checks"]["delivery"]
    assert delivery["status"] == "degraded" and delivery["detail"]["instance"] == "daphne-1", report


async def test_sockets_per_user_are_capped_across_processes_and_a_killed_ones_stop_counting(start_daphne, redis_server):
    """WS_MAX_SOCKETS_PER_USER counts a user's sockets on every daphne (Redis); the sockets of a
    daphne killed with SIGKILL (no disconnect ever runs) stop counting within three renewal
    periods (WS_RECHECK_SECONDS, here 1 s)."""
    cap = {"WS_MAX_SOCKETS_PER_USER": "3", "WS_RECHECK_SECONDS": "1"}
    a = start_daphne("daphne-1", redis=redis_server, **cap)
    b = start_daphne("daphne-2", redis=redis_server, **cap)
    token = login(a, "alice")
    on_a = [await ws_connect(a, "/ws/notifications/", token=token) for _ in range(2)]
    on_b = [await ws_connect(b, "/ws/notifications/", token=token)]
    try:
        for ws in on_a + on_b:
            await receive(ws, "connection_established")
        refused = await ws_connect(b, "/ws/notifications/", token=token)
        assert (await receive(refused, "error"))["code"] == "too_many_sockets"
        await refused.wait_closed()
        assert refused.close_code == 4008
        a.popen.kill()  # SIGKILL: its two sockets never say goodbye
        a.popen.wait(10)
        deadline = asyncio.get_running_loop().time() + 3 * 1 + 3
        while True:
            again = await ws_connect(b, "/ws/notifications/", token=token)
            first = await receive(again)
            if first["type"] == "connection_established":
                on_b.append(again)
                break
            await again.close()
            assert asyncio.get_running_loop().time() < deadline, "the killed daphne's sockets still count"
            await asyncio.sleep(0.5)
    finally:
        for ws in on_a + on_b:
            await ws.close()


async def test_the_layer_internals_has_member_reads_are_still_there(redis_server):
    """realtime.layers.INTERNALS: what has_member reads of channels_redis. An upgrade that moves
    them fails here, not as a FLUSHALL nobody notices."""
    from realtime.layers import RedisChannelLayer

    layer = RedisChannelLayer(hosts=[{"address": redis_server.url}])
    channel = await layer.new_channel()
    await layer.group_add("internals", channel)
    assert await layer.has_member("internals", channel) is True
    assert await layer.has_member("internals", channel + "x") is False
    assert await layer.has_member("no-such-group", channel) is False
    redis.Redis.from_url(redis_server.url).flushall()
    assert await layer.has_member("internals", channel) is False
    await layer.flush()
