"""End to end through nginx: the production topology on loopback, real processes only.

nginx -> daphne x2 (unix sockets, least_conn) for /ws/, -> gunicorn/uvicorn for the rest;
Redis channel layer; tokens in a DatabaseCache on PostgreSQL.
"""

import asyncio
import http.client as http_client
import json
import re
import time
import urllib.parse

from websockets.exceptions import InvalidStatus

from ops.testing.client import connect_on_each_instance, http, instance, login, receive, ticket, ws_connect

from .conftest import SHORT_TIMEOUTS

DAPHNES = {"daphne-1", "daphne-2"}


def served_by(stack, method, path):
    """The upstream nginx logged for the last `method path` request."""
    deadline = time.monotonic() + 5  # nginx logs a request after its response has left
    while not (lines := [line for line in stack.read_access_log().splitlines() if f'"{method} {path} ' in line]):
        assert time.monotonic() < deadline, f"no {method} {path} in nginx's access log"
        time.sleep(0.05)
    return re.search(r"upstream=(\S+)", lines[-1]).group(1)


async def test_handshake_is_101_and_ping_pongs(stack):
    async with ws_connect(stack, "/ws/test/") as ws:
        assert ws.response.status_code == 101
        assert instance(await receive(ws, "connection_established")) in DAPHNES
        latency = await asyncio.wait_for(await ws.ping(), 5)  # protocol-level ping/pong
        assert latency < 5
        await ws.send(json.dumps({"type": "ping"}))  # application-level ping
        assert (await receive(ws, "pong"))["type"] == "pong"
    assert served_by(stack, "GET", "/ws/test/").endswith(("daphne-1.sock", "daphne-2.sock"))


async def test_token_from_the_http_server_works_on_every_daphne(stack):
    token = login(stack, "alice")
    assert served_by(stack, "POST", "/api/auth/login/").endswith("/http.sock")
    sockets = await connect_on_each_instance(stack, "/ws/notifications/", token, DAPHNES)
    try:
        status, me = http("GET", stack.base_url + "/api/auth/me/", token=token)
        assert status == 200 and me["username"] == "alice"
    finally:
        for ws in sockets.values():
            await ws.close()


async def test_chat_crosses_from_daphne_1_to_daphne_2(stack):
    alice, bob = login(stack, "alice"), login(stack, "bob")
    _, conversations = http("GET", stack.base_url + "/api/chat/conversations/", token=alice)
    room = f"/ws/chat/{conversations[0]['id']}/"
    alice_sockets = await connect_on_each_instance(stack, room, alice, {"daphne-1"})
    bob_sockets = await connect_on_each_instance(stack, room, bob, {"daphne-2"})
    on_1, on_2 = alice_sockets["daphne-1"], bob_sockets["daphne-2"]
    try:
        await on_1.send(json.dumps({"type": "message", "body": "from daphne-1"}))
        message = (await receive(on_2, "message"))["message"]
        assert message["body"] == "from daphne-1" and message["sender"]["username"] == "alice"
        await on_2.send(json.dumps({"type": "message", "body": "and back from daphne-2"}))
        while (message := (await receive(on_1, "message"))["message"])["sender"]["username"] != "bob":
            pass  # alice's own message comes back to her first
        assert message["body"] == "and back from daphne-2"
    finally:
        await on_1.close()
        await on_2.close()


async def test_http_action_reaches_sockets_on_both_instances(stack):
    token = login(stack, "carol")
    sockets = await connect_on_each_instance(stack, "/ws/notifications/", token, DAPHNES)
    try:
        status, _ = http("POST", stack.base_url + "/api/notifications/", token=token, body={"title": "via gunicorn"})
        assert status == 201
        assert served_by(stack, "POST", "/api/notifications/").endswith("/http.sock")
        for ws in sockets.values():
            assert (await receive(ws, "notification"))["notification"]["title"] == "via gunicorn"
    finally:
        for ws in sockets.values():
            await ws.close()


async def test_idle_socket_survives_three_read_timeouts(stack):
    """nginx cuts a socket after 5 s without traffic; daphne's pings every 2 s keep it busy.
    The client sends nothing at all (its own keepalive pings are off)."""
    read_timeout = SHORT_TIMEOUTS["nginx_ws_read_timeout"]
    async with ws_connect(stack, "/ws/test/", ping_interval=None) as ws:
        await receive(ws, "connection_established")
        await asyncio.sleep(3 * read_timeout + 1)
        await ws.send(json.dumps({"type": "ping"}))
        assert (await receive(ws, "pong"))["type"] == "pong"


async def test_no_token_or_ticket_in_any_log(stack):
    token = login(stack, "bob")
    one_time = ticket(stack, token)
    async with ws_connect(stack, f"/ws/notifications/?token={token}") as ws:
        assert (await receive(ws, "connection_established"))["user"]["username"] == "bob"
    async with ws_connect(stack, f"/ws/notifications/?ticket={one_time}") as ws:
        assert (await receive(ws, "connection_established"))["user"]["username"] == "bob"
    await asyncio.sleep(0.5)  # let every process flush its log lines
    access_log = stack.read_access_log()
    assert '"GET /ws/notifications/ HTTP/1.1" 101' in access_log  # the connects were logged...
    logs = {
        "nginx access log": access_log,
        "daphne, gunicorn and nginx error output": stack.read_log(),
        "postgres log": (stack.root / "postgres" / "postgres.log").read_text(errors="replace"),
    }
    for name, text in logs.items():
        assert token not in text, f"the token leaked into the {name}"  # ...without their secrets
        assert one_time not in text, f"the ticket leaked into the {name}"


CONNECTIONS = 1000
SOURCE_ADDRESSES = [f"127.0.0.{n}" for n in range(10, 50)]  # 25 sockets per client IP


async def test_thousand_concurrent_connections_across_both_daphnes(stack):
    """1,000 sockets open at once through nginx, from 40 loopback addresses (nginx limits
    are per client IP): every handshake is a 101, both daphnes carry a share, no 5xx."""
    log_offset = len(stack.read_access_log())

    async def open_one(n):
        ws = await ws_connect(stack, "/ws/test/", open_timeout=60,
                              local_addr=(SOURCE_ADDRESSES[n % len(SOURCE_ADDRESSES)], 0))
        return ws, instance(await receive(ws, "connection_established", timeout=60))

    results = await asyncio.gather(*(open_one(n) for n in range(CONNECTIONS)), return_exceptions=True)
    sockets = [result[0] for result in results if not isinstance(result, BaseException)]
    try:
        failures = [repr(result) for result in results if isinstance(result, BaseException)]
        assert not failures, f"{len(failures)} of {CONNECTIONS} failed, e.g. {failures[:3]}"
        per_instance = {name: sum(1 for _, i in results if i == name) for name in DAPHNES}
        assert sum(per_instance.values()) == CONNECTIONS
        assert min(per_instance.values()) >= CONNECTIONS // 4, per_instance  # least_conn spreads them
        # All still open at the same time: one echo round trip on a sample of them.
        for ws in sockets[:: CONNECTIONS // 20]:
            await ws.send(json.dumps({"type": "ping"}))
            await receive(ws, "pong")
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))
    new_lines = stack.read_access_log()[log_offset:].splitlines()
    statuses = [int(re.search(r'" (\d{3}) ', line).group(1)) for line in new_lines if "GET /ws/test/" in line]
    assert len(statuses) == CONNECTIONS and set(statuses) == {101}


async def test_handshake_flood_from_one_address_gets_429(stack):
    """limit_req: a burst beyond nginx_ws_handshake_burst from one IP is refused with 429,
    before daphne sees it; other addresses are unaffected."""
    async def attempt():
        try:
            ws = await ws_connect(stack, "/ws/test/", local_addr=("127.0.0.200", 0))
        except InvalidStatus as error:
            return error.response.status_code
        await ws.close()
        return 101

    statuses = await asyncio.gather(*(attempt() for _ in range(80)))
    assert set(statuses) == {101, 429} and statuses.count(101) <= 41 + 10
    async with ws_connect(stack, "/ws/test/", local_addr=("127.0.0.201", 0)) as ws:
        assert ws.response.status_code == 101


async def test_concurrent_sockets_per_address_are_capped_with_429(stack):
    """limit_conn: one IP holds at most nginx_ws_connections_per_ip (100) sockets; the next
    handshake gets 429 while the others stay open. Opened at the handshake rate limit."""
    address, held = ("127.0.0.202", 0), []
    try:
        for n in range(100):
            held.append(await ws_connect(stack, "/ws/test/", local_addr=address))
            if n >= 30:
                await asyncio.sleep(0.12)  # stay under 10 handshakes/s once the burst is used
        await asyncio.sleep(0.5)
        try:
            extra = await ws_connect(stack, "/ws/test/", local_addr=address)
        except InvalidStatus as error:
            assert error.response.status_code == 429
        else:
            await extra.close()
            raise AssertionError("the 101st socket from one address was accepted")
        await held[0].send(json.dumps({"type": "ping"}))
        assert (await receive(held[0], "pong"))["type"] == "pong"
    finally:
        await asyncio.gather(*(ws.close() for ws in held))


def test_unknown_host_gets_no_answer_but_a_load_balancers_health_check_does(stack):
    """An AWS ALB asks /healthz with the target's address as Host: answered (liveness, from the
    HTTP server); anything else for an unknown Host: the connection closes without a byte."""
    url = urllib.parse.urlsplit(stack.base_url)

    def ask(path):
        connection = http_client.HTTPConnection(url.hostname, url.port, timeout=5)
        try:
            connection.request("GET", path, headers={"Host": "10.0.1.10"})
            response = connection.getresponse()
            return response.status, response.read()
        except http_client.RemoteDisconnected:
            return None, b""
        finally:
            connection.close()

    assert ask("/healthz") == (200, b'{"status": "ok"}')
    assert ask("/api/websocket/health/") == (None, b"")
