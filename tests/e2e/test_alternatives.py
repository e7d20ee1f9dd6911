"""The template's documented alternatives, each on a stack of its own through nginx: the
WebSocket instances under uvicorn instead of daphne (websocket_server), and channels_redis's
RedisPubSubChannelLayer instead of its core layer (app_channel_layer). Each must do what the
default does: authenticated sockets on both instances, a broadcast from HTTP reaching all of
them, a connect and disconnect storm without an error, and nothing left subscribed or grouped."""

import asyncio
import re
import shutil

import pytest
import redis

from ops.testing.client import connect_on_each_instance, http, login, receive, ws_connect
from ops.testing.processes import LocalStack
from ops.tools import nofile_limit

from .conftest import require_stack_tools, stack_directory
from .test_storms import ERROR_SIGNS

ALTERNATIVES = {
    "uvicorn": {"websocket_server": "uvicorn"},
    "redis-pubsub": {"app_channel_layer": "redis-pubsub"},
}
STORM = 500
SOURCE_ADDRESSES = [f"127.0.3.{n}" for n in range(1, 51)]


@pytest.fixture(scope="module", params=list(ALTERNATIVES))
def alternative(request, tmp_path_factory):
    require_stack_tools()
    nofile_limit(65536)
    root = stack_directory()
    stack = LocalStack(root, tmp_path_factory.mktemp(request.param) / "stack-output.log",
                       settings=ALTERNATIVES[request.param])
    yield request.param, stack
    stack.stop()
    shutil.rmtree(root, ignore_errors=True)


def redis_client(stack):
    return redis.Redis(unix_socket_path=str(stack.root / "redis" / "redis.sock"))


def leftovers(stack):
    """Group members (core layer) and subscribed channels (pub/sub layer) still in Redis."""
    client = redis_client(stack)
    try:
        members = sum(client.zcard(key) for key in client.scan_iter("asgi:group:*"))
        channels = [name for name in client.pubsub_channels() if not name.startswith(b"__")]
        return members, channels
    finally:
        client.close()


def served_by_the_alternative(stack, name):
    output = stack.read_log()
    if name == "uvicorn":
        return "Uvicorn running on unix socket" in output and "realtime.server" not in stack.read_access_log()
    return (stack.root / "app.env").read_text().count("CHANNEL_LAYER=redis-pubsub") == 1


async def test_the_alternative_serves_sockets_and_broadcasts_on_every_instance(alternative):
    name, stack = alternative
    assert served_by_the_alternative(stack, name)
    token = login(stack, "carol")
    sockets = await connect_on_each_instance(stack, "/ws/feed/?team=alt", token, {"daphne-1", "daphne-2"})
    try:
        status, _ = http("POST", stack.base_url + "/api/feed/announce/", token=token,
                         body={"scope": "team", "value": "alt", "message": f"hello from {name}"})
        assert status == 202
        for ws in sockets.values():
            assert (await receive(ws, "feed"))["message"] == f"hello from {name}"
    finally:
        for ws in sockets.values():
            await ws.close()


async def test_the_alternative_rides_out_a_storm_and_leaves_nothing_behind(alternative):
    name, stack = alternative
    log_offset = len(stack.read_log())
    token = login(stack, "carol")
    before = leftovers(stack)  # e.g. the channel of the health check's layer round trip

    async def open_one(n):
        ws = await ws_connect(stack, "/ws/feed/?team=alt-storm", subprotocols=["bearer", token], open_timeout=60,
                              local_addr=(SOURCE_ADDRESSES[n % len(SOURCE_ADDRESSES)], 0))
        await receive(ws, "connection_established", timeout=60)
        return ws

    results = await asyncio.gather(*(open_one(n) for n in range(STORM)), return_exceptions=True)
    sockets = [result for result in results if not isinstance(result, BaseException)]
    await asyncio.gather(*(ws.close() for ws in sockets))
    failures = [repr(result) for result in results if isinstance(result, BaseException)]
    assert not failures, f"{len(failures)} of {STORM} failed under {name}, e.g. {failures[:3]}"
    deadline = asyncio.get_running_loop().time() + 30
    while leftovers(stack) != before and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
    assert leftovers(stack) == before, f"still in Redis after every socket closed: {leftovers(stack)}"
    errors = [line for line in stack.read_log()[log_offset:].splitlines() if ERROR_SIGNS.search(line)]
    assert not errors, "\n".join(errors[:10])
    assert not re.search(r'"GET /ws/feed/ HTTP/1.1" 5\d\d ', stack.read_access_log())
