"""Connect, disconnect and reconnect storms through nginx (the pattern of a deploy or a network
blip): every socket gets in, every broadcast reaches every socket, and afterwards no log holds
an error and no Redis group holds a dead channel name (each daphne is one member of the group
while it has sockets in it, and leaves it with its last socket)."""

import asyncio
import re
import shutil
import time

import pytest
import redis

from ops.testing.client import http, login, receive, ws_connect
from ops.testing.processes import LocalStack
from ops.tools import nofile_limit

from .conftest import require_stack_tools, stack_directory

SOCKETS = 3000
# nginx limits sockets and handshakes per client IP: 20 sockets per loopback address keep a
# connect and a reconnect storm inside the handshake burst (40), as from many real clients.
SOURCE_ADDRESSES = [f"127.0.1.{n}" for n in range(1, 151)]
TEAM = "storm"
GROUP_KEY = f"asgi:group:feed.team.{TEAM}"
# What may never appear in the output of daphne, gunicorn and nginx during a storm.
ERROR_SIGNS = re.compile(
    r"Traceback|MaxConnectionsError|Too many connections|Exception inside application|\[(error|crit|alert|emerg)\]"
    r"|worker_connections are not enough|\bERROR\b|CRITICAL"
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A stack of its own with the shipped timeouts: the session stack's 5 s proxy timeout
    (there to prove idle sockets survive) would cut handshakes that queue behind a storm."""
    require_stack_tools()
    nofile_limit(65536)  # this process holds every client socket
    root = stack_directory()
    running = LocalStack(root, tmp_path_factory.mktemp("storm") / "stack-output.log")
    yield running
    running.stop()
    shutil.rmtree(root, ignore_errors=True)


def redis_groups(stack):
    """{group key: members} of every channel-layer group in the stack's Redis."""
    client = redis.Redis(unix_socket_path=str(stack.root / "redis" / "redis.sock"))
    try:
        return {key.decode(): client.zcard(key) for key in client.scan_iter("asgi:group:*")}
    finally:
        client.close()


async def storm_connect(stack, token):
    """SOCKETS feed sockets opened at the same moment; returns them once every one is established."""
    gate = asyncio.Event()

    async def open_one(n):
        await gate.wait()
        ws = await ws_connect(stack, f"/ws/feed/?team={TEAM}", subprotocols=["bearer", token], open_timeout=60,
                              local_addr=(SOURCE_ADDRESSES[n % len(SOURCE_ADDRESSES)], 0))
        await receive(ws, "connection_established", timeout=60)
        return ws

    tasks = [asyncio.create_task(open_one(n)) for n in range(SOCKETS)]
    await asyncio.sleep(0.2)
    started = time.monotonic()
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    sockets = [result for result in results if not isinstance(result, BaseException)]
    failures = [repr(result) for result in results if isinstance(result, BaseException)]
    if failures:
        await asyncio.gather(*(ws.close() for ws in sockets))
    assert not failures, f"{len(failures)} of {SOCKETS} failed, e.g. {failures[:3]}"
    return sockets, time.monotonic() - started


async def storm_close(stack, sockets):
    """Close every socket at once; wait until the group in Redis is empty (it must be)."""
    await asyncio.gather(*(ws.close() for ws in sockets))
    deadline = time.monotonic() + 30
    while redis_groups(stack).get(GROUP_KEY) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert redis_groups(stack).get(GROUP_KEY, 0) == 0, "dead channel names stayed in the group"


async def announce_reaches_everyone(stack, staff_token, sockets, text):
    status, _ = http("POST", stack.base_url + "/api/feed/announce/", token=staff_token,
                     body={"scope": "team", "value": TEAM, "message": text})
    assert status == 202
    received = await asyncio.gather(*(receive(ws, "feed", timeout=30) for ws in sockets), return_exceptions=True)
    delivered = sum(1 for message in received if isinstance(message, dict) and message["message"] == text)
    assert delivered == len(sockets), f"{len(sockets) - delivered} of {len(sockets)} never got the broadcast"


async def test_connect_disconnect_and_reconnect_storms_leave_no_error_and_no_stale_member(stack):
    log_offset, access_offset = len(stack.read_log()), len(stack.read_access_log())
    token = login(stack, "carol")  # staff: may pick the feed group with ?team=
    try:
        sockets, _ = await storm_connect(stack, token)
        # One member per daphne (realtime.groups), however many sockets each holds.
        assert redis_groups(stack)[GROUP_KEY] == 2
        await announce_reaches_everyone(stack, token, sockets, "after the connect storm")
        await storm_close(stack, sockets)

        sockets, _ = await storm_connect(stack, token)  # everyone comes back at once
        await announce_reaches_everyone(stack, token, sockets, "after the reconnect storm")
        await storm_close(stack, sockets)
    finally:
        await asyncio.sleep(1)  # let the last disconnects log whatever they would
        output = stack.read_log()[log_offset:]
    errors = [line for line in output.splitlines() if ERROR_SIGNS.search(line)]
    assert not errors, f"{len(errors)} error lines, e.g.:\n" + "\n".join(errors[:10])
    statuses = [int(match.group(1)) for match in re.finditer(r'"GET /ws/feed/ HTTP/1.1" (\d{3}) ',
                                                             stack.read_access_log()[access_offset:])]
    assert len(statuses) == 2 * SOCKETS and set(statuses) == {101}, sorted(set(statuses))
    assert not redis_groups(stack).get(GROUP_KEY)
