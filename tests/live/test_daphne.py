"""One real daphne process: handshake, ping, every browser-usable auth path, and logs that
never contain a credential."""

import json

import pytest
from websockets.exceptions import ConnectionClosed

from ops.testing.client import login, receive, ticket, ws_connect
from ops.testing.processes import django_env, runserver


@pytest.fixture
def server(start_daphne):
    return start_daphne("solo")


async def test_handshake_ping_and_instance_id(server):
    async with ws_connect(server, "/ws/test/") as ws:
        hello = await receive(ws)
        assert hello["type"] == "connection_established" and hello["server"]["instance"] == "solo"
        await ws.send(json.dumps({"type": "ping", "ts": 1}))
        assert await receive(ws) == {"type": "pong", "ts": 1, "timestamp": 1, "message": "pong"}


async def test_credentials_never_reach_the_log(server):
    token = login(server)
    one_time = ticket(server, token)
    async with ws_connect(server, f"/ws/notifications/?ticket={one_time}") as ws:
        assert (await receive(ws))["auth_method"] == "ticket"
    async with ws_connect(server, f"/ws/notifications/?token={token}") as ws:
        assert (await receive(ws))["auth_method"] == "query:token"
    async with ws_connect(server, "/ws/notifications/", subprotocols=["bearer", token]) as ws:
        assert ws.subprotocol == "bearer"
        assert (await receive(ws))["auth_method"] == "subprotocol:token"
    # A replayed ticket is refused with 4001 and its reason is logged, without the ticket.
    async with ws_connect(server, f"/ws/notifications/?ticket={one_time}") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
        assert closed.value.rcvd.code == 4001
    server.stop()
    log = server.read_log()
    assert "WSCONNECT /ws/notifications/" in log  # the access log is on, and path-only
    assert "already used ticket" in log and "code=4001" in log
    assert token not in log and one_time not in log


async def test_stopping_the_server_closes_sockets_with_going_away(server):
    """SIGTERM (systemctl stop, a deploy): each open socket gets close code 1001, so clients
    know to reconnect, and the consumer finishes its disconnect handler instead of being cancelled."""
    async with ws_connect(server, "/ws/test/") as ws:
        await receive(ws, "connection_established")
        server.popen.terminate()
        with pytest.raises(ConnectionClosed):
            while True:
                await receive(ws, timeout=15)
        assert ws.close_code == 1001
    assert server.popen.wait(20) == 0
    assert "Closed 1 WebSocket(s) with 1001; cancelled 0 pending application instance(s)" in server.read_log()


async def test_runserver_serves_websockets(tmp_path, database_url):
    """`manage.py runserver` (what `make run` starts) speaks WebSocket, because daphne is first
    in INSTALLED_APPS."""
    with runserver(django_env("config.settings.dev", database_url), tmp_path / "runserver.log") as server:
        async with ws_connect(server, "/ws/test/") as ws:
            assert (await receive(ws))["type"] == "connection_established"
            await ws.send(json.dumps({"action": "ping"}))
            assert (await receive(ws))["type"] == "pong"
    assert "Starting ASGI/Daphne" in server.read_log()
