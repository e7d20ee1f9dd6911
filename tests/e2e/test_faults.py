"""Faults on the local production stack (nginx -> 2 daphne, gunicorn, Redis, PostgreSQL under
supervisord, which restarts a dead process after its unit's RestartSec): Redis restarted and
paused, PostgreSQL paused and restarted, a daphne killed and stopped, nginx reloaded. What the
clients see, what the logs say, and that nothing is lost where delivery is promised. Each test
records its figures in test-artifacts/faults.txt (RELIABILITY.md quotes them)."""

import asyncio
import contextlib
import json
import random
import re
import shutil
import signal
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from ops.stack import Layout
from ops.testing.artifacts import append_line
from ops.testing.client import connect_on_each_instance, http, http_response, login, receive, ws_connect
from ops.testing.processes import DEMO_PASSWORD, LocalStack
from ops.tools import nofile_limit
from tests.browser.test_demo_page import browser  # noqa: F401 - a fixture

from .conftest import require_stack_tools, stack_directory

TEAM = "faults"
FEED = f"/ws/feed/?team={TEAM}"
WORKER_SHUTDOWN_TIMEOUT = 5
HEADER_TIMEOUT = 2
SETTINGS = {
    # The load comes from one address here: nginx's per-IP limits out of the way.
    "nginx_ws_connections_per_ip": 65535, "nginx_ws_handshake_rate": "100000r/s", "nginx_ws_handshake_burst": 100000,
    "nginx_login_rate": "100000r/s", "nginx_login_burst": 100000,
    "nginx_worker_shutdown_timeout": WORKER_SHUTDOWN_TIMEOUT,
    "nginx_client_header_timeout": HEADER_TIMEOUT,
}
BOTH = {"daphne-1", "daphne-2"}
TRACEBACK = re.compile(r"Traceback|Exception inside application")
def record(line):
    append_line("faults.txt", line)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_stack_tools()
    nofile_limit(65536)
    root = stack_directory()
    pg = Layout(root).pg
    running = LocalStack(root, tmp_path_factory.mktemp("faults") / "stack-output.log", settings={
        **SETTINGS,
        # The stack's own environment, plus a small send buffer for the slow-client test.
        "app_extra_env": json.dumps({"PGHOST": str(pg / "run"), "PYTHONUNBUFFERED": "1",
                                     "WS_MAX_SEND_BUFFER_BYTES": str(256 * 1024)}),
    })
    yield running
    running.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def carol(stack):
    return login(stack, "carol")  # staff: may pick the feed group with ?team=


@contextlib.asynccontextmanager
async def feed_sockets(stack, token, count):
    sockets = await asyncio.gather(*(ws_connect(stack, FEED, subprotocols=["bearer", token]) for _ in range(count)))
    try:
        for ws in sockets:
            await receive(ws, "connection_established")
        yield sockets
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


def announce(stack, token, text):
    return http("POST", stack.base_url + "/api/feed/announce/", token=token,
                body={"scope": "team", "value": TEAM, "message": text})


async def everyone_hears(stack, token, sockets, deadline_s):
    """Announce every half second until every socket has heard one of the announcements;
    seconds it took (fails past deadline_s)."""
    started = time.monotonic()
    heard = [False] * len(sockets)

    async def listen(n, ws):
        while True:
            message = await receive(ws)
            if message["type"] == "feed" and message["message"].startswith("probe"):
                heard[n] = True
                return

    listeners = [asyncio.create_task(listen(n, ws)) for n, ws in enumerate(sockets)]
    try:
        attempt = 0
        while not all(heard):
            assert time.monotonic() - started < deadline_s, f"{heard.count(False)} of {len(sockets)} sockets deaf"
            attempt += 1
            await asyncio.to_thread(announce, stack, token, f"probe {attempt}")
            await asyncio.sleep(0.5)
        return time.monotonic() - started
    finally:
        for listener in listeners:
            listener.cancel()


async def until(predicate, timeout, what):
    """wait_until without blocking the event loop (the clients' tasks keep running)."""
    deadline = time.monotonic() + timeout

    def holds():
        try:
            return predicate()
        except OSError:  # e.g. the socket of a process still starting
            return False

    while not await asyncio.to_thread(holds):
        assert time.monotonic() < deadline, f"{what}: not after {timeout} s"
        await asyncio.sleep(0.2)


def deep_health(stack):
    return http("GET", stack.base_url + "/api/websocket/health/")


def new_output(stack, offset):
    return stack.read_log()[offset:]


def no_traceback(output):
    lines = [line for line in output.splitlines() if TRACEBACK.search(line)]
    assert not lines, "\n".join(lines[:10])


async def all_open(sockets):
    """Every socket answers a ping (none was closed, none is deaf to its own frames)."""
    for n, ws in enumerate(sockets):
        await ws.send(json.dumps({"type": "ping", "ts": n}))
    for n, ws in enumerate(sockets):
        assert (await receive(ws, "pong"))["ts"] == n


# --- Redis --------------------------------------------------------------------------------------
async def test_a_redis_restart_leaves_no_socket_deaf(stack, carol):
    """Redis without persistence forgets every group when it restarts. Open sockets stay open,
    the health report says what is wrong while Redis is away, broadcasts are refused with 503 and
    a reason, and within 10 s of Redis returning every socket hears a broadcast again, no daphne
    restarted."""
    offset = len(stack.read_log())
    daphnes = {name: stack.pid(name) for name in ("daphne1", "daphne2")}
    async with feed_sockets(stack, carol, 200) as sockets:
        await everyone_hears(stack, carol, sockets, 10)
        stack.stop_process("redis")
        started = time.monotonic()
        status, report = await asyncio.to_thread(deep_health, stack)
        health_s = time.monotonic() - started
        assert status == 503 and report["status"] == "fail", report
        assert any(line.startswith("redis:") for line in report["recommendations"]), report
        started = time.monotonic()
        status, body = await asyncio.to_thread(announce, stack, carol, "while Redis is away")
        announce_s = time.monotonic() - started
        assert status == 503 and "channel layer" in body["detail"], body
        await all_open(sockets)  # nothing closed, nothing stuck while Redis is away
        stack.start_process("redis")
        stack.wait_running("redis", 10)
        recovered_s = await everyone_hears(stack, carol, sockets, 10)
        await all_open(sockets)
    assert {name: stack.pid(name) for name in daphnes} == daphnes, "a daphne restarted"
    no_traceback(new_output(stack, offset))
    record(f"redis restart: 200 sockets kept, health 503 in {health_s:.1f} s, announce 503 in {announce_s:.1f} s, "
           f"every socket heard a broadcast {recovered_s:.1f} s after Redis returned, 0 daphne restarts")


async def test_a_flushall_is_noticed_within_seconds_and_every_socket_is_told_to_resync(stack, carol):
    """FLUSHALL without a restart: the layer forgets every membership while every connection
    stays up, so nothing fails and only a probe can tell (it left sockets deaf for 163 s, up to
    the 300 s refresh). Within about REALTIME_PROBE_SECONDS (2 s) every process finds its probe
    membership gone, joins its groups again and tells its sockets to resync; old and new sockets
    hear broadcasts again."""
    import redis

    offset = len(stack.read_log())
    async with feed_sockets(stack, carol, 100) as sockets:
        await everyone_hears(stack, carol, sockets, 10)
        await asyncio.to_thread(redis.Redis(unix_socket_path=str(Layout(stack.root).redis_socket)).flushall)
        flushed = time.monotonic()
        async with feed_sockets(stack, carol, 10) as newcomers:
            told = await asyncio.gather(*(receive(ws, "resync", timeout=20) for ws in sockets))
            resync_s = time.monotonic() - flushed
            assert all("group memberships" in frame["reason"] for frame in told), told[:3]
            recovered_s = await everyone_hears(stack, carol, sockets + newcomers, 10) + resync_s
            await all_open(sockets)
    output = new_output(stack, offset)
    assert "the channel layer lost this process's group memberships" in output
    no_traceback(output)
    record(f"redis FLUSHALL: every one of 100 sockets told to resync {resync_s:.1f} s after, every socket (and 10 "
           f"opened after it) heard a broadcast within {recovered_s:.1f} s")


@pytest.mark.parametrize("paused_s", [5, 30])
async def test_a_logout_during_a_redis_pause_still_closes_its_sockets_within_the_recheck_bound(stack, paused_s):
    """The revocation broadcast cannot reach the daphnes while Redis is paused: the logout still
    answers 204, and the periodic check of open sockets (WS_RECHECK_SECONDS, 10 s) closes the
    token's sockets on both daphnes with 4001 within the bound, Redis paused or not."""
    token = login(stack, "alice")
    sockets = list((await connect_on_each_instance(stack, "/ws/notifications/", token, BOTH)).values())
    stack.pause("redis")
    paused = time.monotonic()
    try:
        status, _ = await asyncio.to_thread(http, "POST", stack.base_url + "/api/auth/logout/", token=token)
        assert status == 204
        logged_out = time.monotonic()
        codes = await asyncio.gather(*(close_code_of_socket(ws, 20) for ws in sockets))
        closed_s = time.monotonic() - logged_out
        assert codes == [4001] * 2, codes
        assert closed_s <= 10 + 3, closed_s  # WS_RECHECK_SECONDS and one check
        await asyncio.sleep(max(0.0, paused_s - (time.monotonic() - paused)))
    finally:
        stack.resume("redis")
    record(f"logout with Redis paused {paused_s} s: a socket on each daphne closed 4001 {closed_s:.1f} s after the 204 "
           "(bound: WS_RECHECK_SECONDS=10 plus one check)")


async def close_code_of_socket(ws, timeout):
    async with asyncio.timeout(timeout):
        try:
            while True:
                await ws.recv()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


async def test_a_user_deactivated_from_a_script_is_closed_on_every_daphne(stack):
    """manage.py shell (no ASGI process, no consumer imported): the signal's broadcast closes at
    once; a queryset update() that sends no signal is found by the periodic check."""
    user = "bob"
    for how in ("save", "update"):
        token = login(stack, user)
        sockets = list((await connect_on_each_instance(stack, "/ws/notifications/", token, BOTH)).values())
        code = ("from django.contrib.auth import get_user_model; User = get_user_model(); "
                + (f"u = User.objects.get(username='{user}'); u.is_active = False; u.save()" if how == "save"
                   else f"User.objects.filter(username='{user}').update(is_active=False)"))
        started = time.monotonic()
        try:
            result = await asyncio.to_thread(stack.manage, "shell", "-c", code)
            assert result.returncode == 0, result.stderr
            codes = await asyncio.gather(*(close_code_of_socket(ws, 20) for ws in sockets))
            closed_s = time.monotonic() - started
        finally:
            reactivate = (f"from django.contrib.auth import get_user_model; "
                          f"get_user_model().objects.filter(username='{user}').update(is_active=True)")
            await asyncio.to_thread(stack.manage, "shell", "-c", reactivate)
        assert codes == [4001] * 2, (how, codes)
        record(f"user deactivated from manage.py shell by {how}(): a socket on each daphne closed 4001 in "
               f"{closed_s:.1f} s")


async def test_a_paused_redis_is_answered_with_503s_in_seconds_and_closes_no_socket(stack, carol):
    offset = len(stack.read_log())
    async with feed_sockets(stack, carol, 50) as sockets:
        stack.pause("redis")
        try:
            started = time.monotonic()
            status, body = await asyncio.to_thread(announce, stack, carol, "while Redis is paused")
            announce_s = time.monotonic() - started
            assert status == 503 and "did not answer within" in body["detail"], body
            started = time.monotonic()
            status, _ = await asyncio.to_thread(deep_health, stack)
            health_s = time.monotonic() - started
            assert status == 503
            await asyncio.sleep(3)
        finally:
            stack.resume("redis")
        recovered_s = await everyone_hears(stack, carol, sockets, 10)
        await all_open(sockets)
    no_traceback(new_output(stack, offset))
    record(f"redis paused: announce 503 in {announce_s:.1f} s, health 503 in {health_s:.1f} s, 50 idle sockets kept, "
           f"broadcasts again {recovered_s:.1f} s after resume")


# --- PostgreSQL ---------------------------------------------------------------------------------
async def open_authenticated(stack, token):
    """(close code or None if connection_established, seconds it took)."""
    started = time.monotonic()
    async with ws_connect(stack, "/ws/notifications/", subprotocols=["bearer", token], open_timeout=70) as ws:
        try:
            await receive(ws, "connection_established", timeout=70)
            return None, time.monotonic() - started
        except ConnectionClosed:
            return ws.close_code, time.monotonic() - started


async def test_a_paused_database_fails_handshakes_fast_and_holds_up_nothing_else(stack, carol):
    offset = len(stack.read_log())
    async with ws_connect(stack, "/ws/test/") as idle:
        await receive(idle, "connection_established")
        stack.pause("postgres")
        try:
            results = await asyncio.gather(*(open_authenticated(stack, carol) for _ in range(10)))
            started = time.monotonic()
            await idle.send(json.dumps({"type": "ping"}))
            await receive(idle, "pong", timeout=2)
            ping_s = time.monotonic() - started
            async with ws_connect(stack, "/ws/test/") as anonymous:  # needs no database
                await receive(anonymous, "connection_established", timeout=5)
            # HTTP: requests that find no free connection are 503 with Retry-After after
            # DB_POOL_TIMEOUT (3 s); one that took an idle connection waits for the database (no
            # client-side deadline can end a query to a stopped server). Never a 500. The deep
            # health report says fail within its bound instead of hanging through the stall.
            api = [asyncio.create_task(asyncio.to_thread(
                http_response, "GET", stack.base_url + "/api/chat/conversations/", carol, timeout=30))
                for _ in range(12)]
            started = time.monotonic()
            health_status, report = await asyncio.to_thread(deep_health, stack)
            health_s = time.monotonic() - started
            done, _ = await asyncio.wait(api, timeout=6)
            fast = [task.result() for task in done]
        finally:
            stack.resume("postgres")
    answers = [status for status, _, _ in fast] + [(await task)[0] for task in api if task not in done]
    fast_503 = [status for status, _, headers in fast if status == 503 and headers.get("Retry-After")]
    assert set(answers) <= {200, 503}, answers
    assert fast_503, f"no request got a fast 503 while the database was paused: {answers}"
    assert health_status == 503 and report["checks"]["database"]["status"] == "fail", report
    assert "did not answer within" in " ".join(report["recommendations"]), report
    assert health_s < 5, health_s
    assert {code for code, _ in results} == {4013}, results
    slowest = max(seconds for _, seconds in results)
    assert slowest < 10, results  # WS_AUTH_TIMEOUT (5 s), never the 60 s handshake timeout
    started = time.monotonic()
    while (await open_authenticated(stack, carol))[0] is not None:
        assert time.monotonic() - started < 15, "authenticated connects still refused after the database resumed"
        await asyncio.sleep(0.5)
    output = new_output(stack, offset)
    assert "reason=no answer within 5.0 s (WS_AUTH_TIMEOUT)" in output
    no_traceback(output)
    record(f"postgres paused: 10 authenticated handshakes closed 4013 within {slowest:.1f} s, a ping answered in "
           f"{ping_s * 1000:.0f} ms, anonymous sockets unaffected, {len(fast_503)} of 12 API requests 503 with "
           f"Retry-After within 6 s, the rest answered after resume, none 500, the deep health report fail in "
           f"{health_s:.1f} s, connects work again after resume")


def test_fifty_logins_at_once_are_answered_200_or_503_and_bystanders_never_get_a_500(stack, carol):
    """Password hashing held a pooled connection: 50 logins at once (from 50 addresses; one here,
    the limits are off) got 500s after the pool's 10 s, bystanders too. Now each is 200 or 503 with
    Retry-After, and a request beside them is never a 500."""
    import concurrent.futures

    def log_in(_):
        status, body = http("POST", stack.base_url + "/api/auth/login/",
                            body={"username": "alice", "password": DEMO_PASSWORD})
        return status

    def bystander(_):
        return http_response("GET", stack.base_url + "/api/chat/conversations/", carol, timeout=30)[0]

    offset = len(stack.read_log())
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(60) as pool:
        logins = pool.map(log_in, range(50))
        bystanders = pool.map(bystander, range(10))
        logins, bystanders = list(logins), list(bystanders)
    took = time.monotonic() - started
    assert set(logins) <= {200, 503} and 200 in logins, logins
    assert set(bystanders) <= {200, 503}, bystanders
    output = new_output(stack, offset)
    no_traceback(output)
    record(f"50 logins at once: {logins.count(200)} 200, {logins.count(503)} 503 with Retry-After, bystanders "
           f"{bystanders.count(200)} 200 / {bystanders.count(503)} 503, no 500, in {took:.1f} s")


async def test_a_database_restart_costs_at_most_a_few_refused_handshakes(stack, carol):
    offset = len(stack.read_log())
    stack.restart("postgres")
    codes = []
    started = time.monotonic()
    while True:
        code, seconds = await open_authenticated(stack, carol)
        assert seconds < 10
        codes.append(code)
        if code is None:
            break
        assert time.monotonic() - started < 20, codes
        await asyncio.sleep(0.5)
    # Every pooled connection of the HTTP server died with the restart: each is checked as it
    # leaves the pool (DB_POOL_CHECK), so no request gets a 500 for it. Until the pool has a
    # connection again (it reconnects with a backoff), a request is a 503 with Retry-After after
    # DB_POOL_TIMEOUT, never a 500; then every request is answered.
    # Each HTTP worker has a pool of its own: wait for 20 answers in a row, every one before them
    # a 200 or a 503 with Retry-After.
    unavailable, in_a_row = 0, 0
    while in_a_row < 20:
        status, _, headers = await asyncio.to_thread(http_response, "GET", stack.base_url + "/api/auth/me/", carol,
                                                     timeout=30)
        if status == 200:
            in_a_row += 1
            continue
        assert status == 503 and headers.get("Retry-After"), (status, headers)
        unavailable, in_a_row = unavailable + 1, 0
        assert time.monotonic() - started < 40, "the API still answers 503 after the database restarted"
    no_traceback(new_output(stack, offset))
    record(f"postgres restarted: {len(codes) - 1} handshake(s) refused with 4013 before the first success, "
           f"{unavailable} API request(s) 503 with Retry-After, {time.monotonic() - started:.1f} s to 20 API "
           "requests in a row answered 200")


# --- daphne -------------------------------------------------------------------------------------
class ReconnectingClient:
    """A client as the JS one behaves: on an abnormal close it reconnects after a short jittered
    backoff, and records when it is back."""

    def __init__(self, stack, token):
        self.stack, self.token = stack, token
        self.instance, self.ws, self.back = None, None, asyncio.Event()
        self.task = None

    async def start(self):
        await self.connect()
        self.task = asyncio.create_task(self.run())

    async def connect(self):
        self.ws = await ws_connect(self.stack, FEED, subprotocols=["bearer", self.token])
        hello = await receive(self.ws, "connection_established")
        self.instance = hello["server"]["instance"].rsplit(":", 1)[-1]

    async def run(self):
        while True:
            with contextlib.suppress(ConnectionClosed):
                await self.ws.wait_closed()
            self.back.clear()
            delay = 0.1
            while True:
                await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311
                try:
                    await self.connect()
                    break
                except (OSError, ConnectionClosed, TimeoutError, Exception):  # noqa: BLE001 - retry as a client would
                    delay = min(delay * 2, 2)
            self.back.set()

    async def stop(self):
        self.task.cancel()
        await self.ws.close()


async def test_a_killed_daphne_is_restarted_and_its_clients_are_back_within_5_s(stack, carol):
    clients = [ReconnectingClient(stack, carol) for _ in range(500)]
    await asyncio.gather(*(client.start() for client in clients))
    try:
        victims = [client for client in clients if client.instance == "daphne-1"]
        assert victims, "nginx gave daphne-1 no socket"
        killed = stack.kill("daphne1", signal.SIGKILL)
        started = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(client.back.wait() for client in victims)), 15)
        back_s = time.monotonic() - started
        await asyncio.to_thread(stack.wait_running, "daphne1", stack.restart_sec("daphne1") + 15, killed)
        await until(lambda: stack.healthy("daphne1"), 20, "daphne1 serving again")
        restarted_s = time.monotonic() - started
        assert back_s < 5, f"{len(victims)} clients took {back_s:.1f} s"
        # Nobody lost their group: a broadcast reaches all 500.
        await everyone_hears(stack, carol, [client.ws for client in clients], 10)
    finally:
        await asyncio.gather(*(client.stop() for client in clients), return_exceptions=True)
    assert "daphne1" in stack.read_log() and "restart" in stack.read_log()
    record(f"daphne SIGKILL: {len(victims)} of 500 clients reconnected to a live instance within {back_s:.1f} s, "
           f"daphne1 serving again after {restarted_s:.1f} s (RestartSec {stack.restart_sec('daphne1')} s)")


async def test_a_stopped_daphne_says_going_away_and_its_clients_go_elsewhere(stack, carol):
    """What a deploy or `systemctl stop` does to one instance: its sockets close with 1001 (going
    away), so clients reconnect at once, and nginx sends them to the other instance."""
    sockets = []
    for _ in range(40):
        ws = await ws_connect(stack, FEED, subprotocols=["bearer", carol])
        hello = await receive(ws, "connection_established")
        sockets.append((hello["server"]["instance"].rsplit(":", 1)[-1], ws))
    on_first = [ws for name, ws in sockets if name == "daphne-1"]
    assert on_first, "nginx gave daphne-1 no socket"
    try:
        started = time.monotonic()
        stack.stop_process("daphne1")
        for ws in on_first:
            await asyncio.wait_for(ws.wait_closed(), 15)
        closed_s = time.monotonic() - started
        assert {ws.close_code for ws in on_first} == {1001}
        await all_open([ws for name, ws in sockets if name == "daphne-2"])
        async with ws_connect(stack, FEED, subprotocols=["bearer", carol]) as ws:
            assert (await receive(ws, "connection_established"))["server"]["instance"].endswith("daphne-2")
    finally:
        stack.start_process("daphne1")
        await until(lambda: stack.healthy("daphne1"), 30, "daphne1 serving again")
        await asyncio.gather(*(ws.close() for _, ws in sockets), return_exceptions=True)
    record(f"daphne stopped: its {len(on_first)} sockets closed with 1001 within {closed_s:.1f} s, the other "
           "instance's kept, new connects went to daphne-2")


# --- nginx --------------------------------------------------------------------------------------
def nginx_workers(stack):
    from ops.testing.processes import descendants

    return set(descendants(stack.pid("nginx")))


async def test_an_nginx_reload_keeps_open_sockets_and_drains_within_its_bound(stack, carol):
    async with feed_sockets(stack, carol, 1000) as sockets:
        old_workers = nginx_workers(stack)
        stack.kill("nginx", signal.SIGHUP)  # nginx -s reload
        reloaded = time.monotonic()
        # New connects work right away, on the new workers; old sockets still answer.
        async with ws_connect(stack, "/ws/test/") as fresh:
            await receive(fresh, "connection_established")
        await all_open(sockets)
        kept_s = time.monotonic() - reloaded
        # The old workers close what they hold after worker_shutdown_timeout and exit.
        await until(lambda: not (old_workers & nginx_workers(stack)), WORKER_SHUTDOWN_TIMEOUT + 10, "old workers exit")
        drained_s = time.monotonic() - reloaded
        closed = 0
        for ws in sockets:
            with contextlib.suppress(TimeoutError, ConnectionClosed):
                await asyncio.wait_for(ws.wait_closed(), 2)
            closed += ws.state.name == "CLOSED"
    assert drained_s < WORKER_SHUTDOWN_TIMEOUT + 10
    record(f"nginx reload: 1,000 sockets kept and answering {kept_s:.1f} s after the reload, new connects fine, "
           f"old workers gone after {drained_s:.1f} s (worker_shutdown_timeout {WORKER_SHUTDOWN_TIMEOUT} s), "
           f"{closed} sockets then closed for their clients to reconnect")


# --- clients that misbehave ---------------------------------------------------------------------
def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def raw_socket(stack, path, token, unix=None):
    """A WebSocket opened by hand (so the test decides what it reads and what it sends), through
    nginx or straight to a daphne's unix socket."""
    if unix:
        reader, writer = await asyncio.open_unix_connection(unix, limit=2**16)
    else:
        reader, writer = await asyncio.open_connection("127.0.0.1", stack.port, limit=2**16)
    writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                  f"Sec-WebSocket-Protocol: bearer, {token}\r\nOrigin: http://127.0.0.1\r\n\r\n").encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


def client_frame(opcode, payload):
    """A masked client frame (RFC 6455 5.2)."""
    mask = bytes(random.getrandbits(8) for _ in range(4))
    length = len(payload)
    header = bytes([0x80 | opcode])
    if length < 126:
        header += bytes([0x80 | length])
    elif length < 65536:
        header += bytes([0x80 | 126]) + length.to_bytes(2, "big")
    else:
        header += bytes([0x80 | 127]) + length.to_bytes(8, "big")
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def close_code_of(reader, timeout=10):
    """Read frames until the close frame; its code (None if the connection ended without one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            first = await asyncio.wait_for(reader.readexactly(2), deadline - time.monotonic())
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        length = first[1] & 0x7F
        if length == 126:
            length = int.from_bytes(await reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await reader.readexactly(8), "big")
        payload = await reader.readexactly(length)
        if first[0] & 0x0F == 0x8:
            return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
    raise TimeoutError("no close frame")


async def test_a_client_that_never_reads_is_cut_off_and_costs_bounded_memory(stack, carol):
    """Straight to daphne: through nginx the kernel's TCP buffers would hold megabytes first."""
    offset = len(stack.read_log())
    reader, writer = await raw_socket(stack, FEED, carol, unix=stack.root / "run" / "daphne-1.sock")
    daphnes = {name: stack.pid(name) for name in ("daphne1", "daphne2")}
    before = {name: rss_kib(pid) for name, pid in daphnes.items()}
    text = "x" * 1990  # the announcement limit is 2,000 characters
    async with feed_sockets(stack, carol, 10) as readers:
        received = [0] * len(readers)

        async def count(n, ws):
            while received[n] < 400:
                if (await receive(ws, timeout=30))["type"] == "feed":
                    received[n] += 1

        counting = asyncio.gather(*(count(n, ws) for n, ws in enumerate(readers)))
        for n in range(400):
            status, _ = await asyncio.to_thread(announce, stack, carol, f"{n}:{text}")
            assert status == 202
        await asyncio.wait_for(counting, 60)
    growth = max(rss_kib(pid) - before[name] for name, pid in daphnes.items())
    assert received == [400] * 10, received
    output = new_output(stack, offset)
    assert "code=4009 reason=the client is not reading" in output
    assert growth < 20 * 1024, f"daphne grew {growth} KiB"
    code = await close_code_of(reader, timeout=20)  # read at last: what was sent, then the close
    writer.close()
    assert code == 4009
    record(f"client that never reads: cut off with 4009 after 256 KiB unsent (WS_MAX_SEND_BUFFER_BYTES), daphne grew "
           f"{growth / 1024:.1f} MiB over 400 broadcasts of 2 KB, 10 other members got 400 of 400")


async def test_invalid_utf8_and_a_10_mb_frame_close_with_their_codes_and_cost_nothing(stack, carol):
    offset = len(stack.read_log())
    reader, writer = await raw_socket(stack, "/ws/test/", carol)
    writer.write(client_frame(0x1, b'{"type": "echo", "data": "\xff\xfe"}'))
    await writer.drain()
    assert await close_code_of(reader) == 1007
    writer.close()

    daphnes = [stack.pid(name) for name in ("daphne1", "daphne2")]
    before = [rss_kib(pid) for pid in daphnes]
    reader, writer = await raw_socket(stack, "/ws/test/", carol)
    with contextlib.suppress(ConnectionError):
        writer.write(client_frame(0x1, b"x" * (10 * 1024 * 1024)))
        await writer.drain()
    code = await close_code_of(reader)
    writer.close()
    growth = max(rss_kib(pid) - rss for pid, rss in zip(daphnes, before, strict=True))
    assert code in (1009, None), code  # None: dropped after the close frame while the client still wrote
    assert growth < 2 * 1024, f"daphne grew {growth} KiB on a refused 10 MB frame"
    output = new_output(stack, offset)
    assert re.search(r"websocket closed by the server: path=/ws/test/ code=1007", output), output[-2000:]
    assert re.search(r"websocket closed by the server: path=/ws/test/ code=1009", output), output[-2000:]
    record(f"bad frames: invalid UTF-8 closed with 1007, a 10 MB frame refused with 1009 from its header "
           f"(daphne grew {growth} KiB), each logged with its reason")


# --- leaks ---------------------------------------------------------------------------------------
SESSION_FOR_BOB = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
user = get_user_model().objects.get(username="bob")
session = SessionStore()
session[SESSION_KEY], session[HASH_SESSION_KEY] = str(user.pk), user.get_session_auth_hash()
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session.save()
print(session.session_key)
"""


async def test_no_credential_reaches_any_log_on_any_auth_path_even_while_upstreams_fail(stack):
    """Every way a socket can authenticate, while everything works and while the daphnes are down
    (nginx then writes the request line, query string included, into its error log: nginx's
    /ws/ error log level is crit for that reason) and while the database stalls."""
    from ops.testing.client import ticket

    token = login(stack, "bob")
    session = stack.manage("shell", "-c", SESSION_FOR_BOB).stdout.split()[-1]  # after Django 5.2's import notice
    secrets = {"token": token, "session": session}
    connects = {
        "?token=": dict(path=f"/ws/notifications/?token={token}"),
        "bearer subprotocol": dict(path="/ws/notifications/", subprotocols=["bearer", token]),
        "Authorization header": dict(path="/ws/notifications/", token=token),
        "session cookie": dict(path="/ws/notifications/", additional_headers={"Cookie": f"sessionid={session}"}),
    }
    for how, kwargs in connects.items():
        kwargs = dict(kwargs)
        async with ws_connect(stack, kwargs.pop("path"), **kwargs) as ws:
            assert (await receive(ws, "connection_established"))["user"]["username"] == "bob", how
    for name in ("url ticket", "subprotocol ticket"):
        secrets[name] = value = await asyncio.to_thread(ticket, stack, token)
        path, kwargs = (f"/ws/notifications/?ticket={value}", {}) if name == "url ticket" else (
            "/ws/notifications/", {"subprotocols": ["ticket", value]})
        async with ws_connect(stack, path, **kwargs) as ws:
            assert (await receive(ws, "connection_established"))["auth_method"] == "ticket"
    # Upstreams failing: no daphne to take the handshake (502), then a database that does not answer.
    spare = await asyncio.to_thread(ticket, stack, token)
    secrets["ticket while daphnes are down"] = spare
    for name in ("daphne1", "daphne2"):
        stack.stop_process(name)
    try:
        for path in (f"/ws/notifications/?token={token}", f"/ws/notifications/?ticket={spare}"):
            with pytest.raises(Exception, match="502"):
                await ws_connect(stack, path)
    finally:
        for name in ("daphne1", "daphne2"):
            stack.start_process(name)
        for name in ("daphne1", "daphne2"):
            await until(lambda name=name: stack.healthy(name), 30, f"{name} serving again")
    stack.pause("postgres")
    try:
        async with ws_connect(stack, f"/ws/notifications/?token={token}") as ws:
            with pytest.raises(ConnectionClosed):
                await receive(ws, timeout=15)
            assert ws.close_code == 4013
    finally:
        stack.resume("postgres")
    await asyncio.sleep(1)  # every process writes its last lines
    assert re.search(r'"GET /ws/notifications/ HTTP/1.1" 502 .*upstream_status=', stack.read_access_log())
    logs = {"launcher output (daphne, gunicorn, nginx error log, redis, supervisord)": stack.read_log(),
            "nginx access log": stack.read_access_log()}
    for path in [*(stack.root / "logs").glob("*.log"), stack.root / "postgres" / "postgres.log"]:
        logs[str(path.relative_to(stack.root))] = path.read_text(errors="replace")
    for log, text in logs.items():
        for what, value in secrets.items():
            assert value not in text, f"the {what} leaked into {log}"
    record(f"no credential in {len(logs)} logs after {len(connects) + 2} auth paths, 2 connects through a failed "
           "upstream (502) and 1 through a stalled database (4013)")


async def test_half_sent_handshakes_are_cut_off_after_the_header_timeout(stack):
    """A slowloris: 50 connections that start a handshake and never finish its headers. nginx
    drops each after nginx_client_header_timeout; a real handshake meanwhile is unaffected."""
    connections = []
    for _ in range(50):
        reader, writer = await asyncio.open_connection("127.0.0.1", stack.port)
        writer.write(b"GET /ws/test/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
        await writer.drain()
        connections.append((reader, writer))
    started = time.monotonic()
    async with ws_connect(stack, "/ws/test/") as ws:
        await receive(ws, "connection_established")
    for reader, writer in connections:
        assert await asyncio.wait_for(reader.read(), HEADER_TIMEOUT + 5) == b""  # closed, no answer
        writer.close()
    cut_s = time.monotonic() - started
    assert cut_s < HEADER_TIMEOUT + 5
    record(f"half-sent handshakes: 50 cut off {cut_s:.1f} s after they started (nginx_client_header_timeout "
           f"{HEADER_TIMEOUT} s here, 15 s by default), a real handshake meanwhile unaffected")


@pytest.mark.browser
def test_the_js_client_is_back_on_a_live_instance_within_5_s_after_its_daphne_is_killed(browser, stack):  # noqa: F811
    from ops.testing.processes import wait_until
    from tests.browser.test_revoke_relogin import Watched

    watched = Watched(browser, stack)
    page, hellos = watched.page, {}

    def page_until(predicate, timeout, what):
        # Playwright's sync API updates what it knows of the page only inside its own calls.
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
            page.wait_for_timeout(50)

    def remember_hello(ws):
        ws.on("framereceived", lambda payload: hellos.setdefault(ws, payload) if "connection_established" in str(
            payload) else None)

    page.on("websocket", remember_hello)
    watched.log_in("alice")
    chat = watched.open_sockets("/ws/chat/")[0]
    page_until(lambda: chat in hellos, 5, "the chat socket's connection_established")
    serving = json.loads(hellos[chat])["server"]["instance"].rsplit(":", 1)[-1]  # daphne-1 or daphne-2
    victim = serving.replace("-", "")
    killed = stack.kill(victim, signal.SIGKILL)
    started = time.monotonic()
    page_until(lambda: [ws for ws in watched.open_sockets("/ws/chat/") if ws in hellos and ws is not chat], 5,
               "the page's chat socket back on a live instance")
    back_s = time.monotonic() - started
    page.wait_for_selector("#status[data-state=open]", timeout=5000)
    page.fill("#chat-input", "after the kill")
    page.click("#send-button")
    page.wait_for_selector("#messages li:has-text('after the kill')", timeout=10000)
    assert page.locator("#messages li:has-text('after the kill')").count() == 1
    assert watched.errors == []
    page.context.close()
    stack.wait_running(victim, stack.restart_sec(victim) + 15, other_than=killed)
    wait_until(lambda: stack.healthy(victim), 20, f"{victim} serving again")
    assert back_s < 5
    record(f"daphne SIGKILL, the demo page in Chromium: its chat socket back on a live instance in {back_s:.1f} s, "
           "a message sent after it shown once")
