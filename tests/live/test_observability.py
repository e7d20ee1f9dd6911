"""Observability on real processes: a daphne and gunicorn's two workers sharing one
PROMETHEUS_MULTIPROC_DIR answer one scrape for all three (open sockets per route and instance,
connects, refusals, messages, HTTP counts, the channel layer), a killed daphne's sockets leave
the gauge; daphne's JSON log has one line per event with instance, route, user id and close code,
and no credential."""

import json
import os
import re
import signal
import time

import pytest
from websockets.exceptions import ConnectionClosed

from ops.testing.client import http, receive, ws_connect
from ops.testing.processes import DEMO_PASSWORD, django_env

from .servers import Gunicorn

CLIENT = "198.51.100.20"  # this test's logins count for an address of their own


def metric(exposition, name, **labels):
    """The value of one sample of a Prometheus text exposition, 0 when absent."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in exposition.splitlines():
        if line.startswith(f"{name}{{{wanted}}} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def scrape(server, **headers):
    status, body = http("GET", server.base_url + "/metrics", headers=headers)
    assert status == 200, body
    return body if isinstance(body, str) else json.dumps(body)


@pytest.fixture
def stack(start_daphne, redis_server, database_url, tmp_path):
    shared = tmp_path / "metrics"
    observed = {"METRICS_ENABLED": "true", "PROMETHEUS_MULTIPROC_DIR": str(shared), "LOG_FORMAT": "json",
                "WS_LOG_CONNECTIONS": "true"}
    daphne = start_daphne("daphne-1", redis=redis_server, **observed)
    http_server = Gunicorn(
        django_env("config.settings.production", database_url, REDIS_URL=redis_server.url,
                   SERVER_INSTANCE_ID="http", DJANGO_DEBUG="false", **observed),
        tmp_path / "gunicorn.log",
    )
    yield daphne, http_server, shared
    http_server.stop()


def login(server, username="alice"):
    status, body = http("POST", server.base_url + "/api/auth/login/", headers={"X-Forwarded-For": CLIENT},
                        body={"username": username, "password": DEMO_PASSWORD})
    assert status == 200, body
    return body["token"]


async def test_one_scrape_covers_every_process_of_the_host(stack):
    daphne, http_server, shared = stack
    token = login(http_server)
    status, me = http("GET", http_server.base_url + "/api/auth/me/", token=token)
    for _ in range(5):
        assert http("GET", http_server.base_url + "/healthz")[0] == 200

    async with ws_connect(daphne, "/ws/test/") as first, ws_connect(daphne, "/ws/test/") as second, \
            ws_connect(daphne, f"/ws/notifications/?token={token}") as notified:
        for ws in (first, second):
            await receive(ws, "connection_established")
            await ws.send(json.dumps({"type": "ping"}))
            await receive(ws, "pong")
        await receive(notified, "connection_established")
        async with ws_connect(daphne, "/ws/notifications/") as refused:  # no credential: 4001
            with pytest.raises(ConnectionClosed):
                await receive(refused)

        # Scraped from one gunicorn worker: daphne's sockets and both workers' requests.
        exposition = scrape(http_server)
        assert metric(exposition, "websocket_open_connections", route="/ws/test/", server="daphne-1") == 2
        assert metric(exposition, "websocket_open_connections", route="/ws/notifications/", server="daphne-1") == 1
        assert metric(exposition, "websocket_connects_total", route="/ws/test/", server="daphne-1") == 2
        assert metric(exposition, "websocket_refusals_total", route="/ws/notifications/", code="4001") == 1
        assert metric(exposition, "websocket_messages_received_total", route="/ws/test/") == 2
        assert metric(exposition, "websocket_messages_sent_total", route="/ws/test/") >= 4
        assert metric(exposition, "http_requests_total", method="GET", route="/healthz", status="200") >= 5
        assert metric(exposition, "http_requests_total", method="POST", route="/api/auth/login/", status="200") >= 1
        # The consumers joined their groups through the layer: timed operations, no error.
        assert metric(exposition, "channel_layer_operation_seconds_count", operation="group_add") >= 1
        assert "channel_layer_errors_total{" not in exposition
        # The same answer from daphne (any process answers for all of them).
        from_daphne = scrape(daphne)
        assert metric(from_daphne, "http_requests_total", method="GET", route="/healthz", status="200") >= 5

    # Sockets closed by the client: the gauge is back to 0, the counters stay.
    time.sleep(0.5)
    exposition = scrape(http_server)
    assert metric(exposition, "websocket_open_connections", route="/ws/test/", server="daphne-1") == 0
    assert metric(exposition, "websocket_disconnects_total", route="/ws/test/", code="1000") == 2

    # Outsiders get no metrics (X-Forwarded-For: the address nginx would pass).
    status, body = http("GET", http_server.base_url + "/metrics", headers={"X-Forwarded-For": "203.0.113.5"})
    assert status == 403 and "MONITORING_TOKEN" in body["detail"]

    # A daphne killed with sockets open: its sockets leave the gauge, its counts stay.
    async with ws_connect(daphne, "/ws/test/") as ws:
        await receive(ws, "connection_established")
        assert metric(scrape(http_server), "websocket_open_connections", route="/ws/test/", server="daphne-1") == 1
        os.killpg(daphne.popen.pid, signal.SIGKILL)
        daphne.popen.wait(10)
    exposition = scrape(http_server)
    assert metric(exposition, "websocket_open_connections", route="/ws/test/", server="daphne-1") == 0
    assert metric(exposition, "websocket_connects_total", route="/ws/test/", server="daphne-1") == 3
    assert not [name for name in os.listdir(shared) if name.endswith(f"_{daphne.popen.pid}.db")]

    # daphne's log: JSON, one event per line, with instance, route, user and close code, no token.
    lines = [line for line in daphne.read_log().splitlines() if line.startswith("{")]
    events = [json.loads(line) for line in lines]
    closed = [e for e in events if e["message"].startswith("websocket closed") and e["route"] == "/ws/notifications/"]
    authenticated = next(e for e in closed if e.get("user_id") == me["id"])
    assert authenticated["instance"] == "daphne-1" and authenticated["close_code"] == 1000
    assert authenticated["closed_by"] == "client" and authenticated["level"] == "INFO"
    refused = next(e for e in closed if e["close_code"] == 4001)
    assert refused["closed_by"] == "server" and "user_id" not in refused
    for log in (daphne.read_log(), http_server.read_log()):
        assert token not in log
        assert not re.search(r"token=(?!\[Filtered\])\w", log)
