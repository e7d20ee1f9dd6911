"""Prometheus metrics: nothing when off; sockets, messages, refusals, HTTP and the channel layer
when on; one scrape for every process of a host (multiprocess directory)."""

import glob
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator
from django.test import override_settings
from prometheus_client import REGISTRY

from realtime.testing import ORIGIN

APP_DIR = Path(__file__).resolve().parents[2]
ON = {"METRICS_ENABLED": True, "WS_LOG_CONNECTIONS": True, "SERVER_INSTANCE_ID": "test-1"}


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.process
def test_off_by_default_nothing_wraps_or_loads():
    """The default app is the plain chain: no observer, no metrics middleware, no /metrics, and
    prometheus_client is not even imported."""
    code = ("import sys, config.asgi as a; from django.conf import settings; "
            "print(type(a.application.application_mapping['websocket']).__name__, "
            "any('observability' in m for m in settings.MIDDLEWARE), 'prometheus_client' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "METRICS_ENABLED",
                                                            "WS_LOG_CONNECTIONS", "LOG_FORMAT", "SENTRY_DSN")}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.dev"
    result = subprocess.run([sys.executable, "-c", code], cwd=APP_DIR, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.split() == ["LoggingOriginValidator", "False", "False"], result.stderr


def test_metrics_url_is_absent_when_off(client):
    assert client.get("/metrics").status_code == 404


@pytest.fixture
def observed_app():
    with override_settings(**ON):
        from config.asgi import websocket_application

        yield websocket_application()


async def open_socket(app, path, origin=ORIGIN, **kwargs):
    communicator = WebsocketCommunicator(app, path, headers=[origin], **kwargs)
    connected, _ = await communicator.connect()
    return connected, communicator


@pytest.mark.django_db(transaction=True)
async def test_sockets_messages_and_closes_are_counted_and_logged(observed_app, alice_token, caplog):
    route = "/ws/test/"
    before = {name: value(name, route=route, server="test-1") for name in
              ("websocket_connects_total", "websocket_open_connections")}
    sent_before, received_before = value("websocket_messages_sent_total", route=route), value(
        "websocket_messages_received_total", route=route)
    with caplog.at_level(logging.INFO, logger="observability.websocket"):
        connected, socket = await open_socket(observed_app, route)
        assert connected
        await socket.receive_json_from()  # connection_established
        opened = value("websocket_open_connections", route=route, server="test-1")
        assert opened == before["websocket_open_connections"] + 1
        await socket.send_json_to({"type": "ping"})
        await socket.receive_json_from()
        await socket.disconnect(code=1000)
    assert value("websocket_connects_total", route=route, server="test-1") == before["websocket_connects_total"] + 1
    assert value("websocket_open_connections", route=route, server="test-1") == before["websocket_open_connections"]
    assert value("websocket_messages_received_total", route=route) == received_before + 1
    assert value("websocket_messages_sent_total", route=route) == sent_before + 2
    assert value("websocket_disconnects_total", route=route, code="1000") >= 1
    line = next(r for r in caplog.records if r.name == "observability.websocket")
    assert line.close_code == 1000 and line.closed_by == "client" and line.messages_received == 1

    # Refusals by close code: no credential (4001), and a wrong Origin before the handshake (403).
    notifications = "/ws/notifications/"
    refused_4001 = value("websocket_refusals_total", route=notifications, code="4001")
    connected, socket = await open_socket(observed_app, notifications)
    await socket.receive_output()  # the error frame, then the close
    await socket.wait()
    assert value("websocket_refusals_total", route=notifications, code="4001") == refused_4001 + 1
    refused_403 = value("websocket_refusals_total", route=notifications, code="403")
    connected, socket = await open_socket(observed_app, notifications, origin=(b"origin", b"https://evil.example"))
    assert not connected
    await socket.wait()
    assert value("websocket_refusals_total", route=notifications, code="403") == refused_403 + 1


@pytest.mark.django_db(transaction=True)
async def test_connection_log_lines_carry_the_user_and_never_the_token(observed_app, alice, alice_token, caplog):
    with caplog.at_level(logging.INFO, logger="observability.websocket"):
        connected, socket = await open_socket(observed_app, f"/ws/notifications/?token={alice_token}")
        assert connected
        await socket.receive_json_from()
        await socket.disconnect(code=1001)
    line = next(r for r in caplog.records if r.name == "observability.websocket")
    assert f"user_id={alice.pk}" in line.getMessage() and line.close_code == 1001
    assert alice_token not in caplog.text


@pytest.mark.django_db
def test_http_requests_are_counted_and_the_scrape_is_for_operators(client, settings):
    settings.ROOT_URLCONF, settings.MONITORING_TOKEN = "observability.tests.urls_with_metrics", "t" * 40
    settings.MIDDLEWARE = ["observability.middleware.HttpMetricsMiddleware", *settings.MIDDLEWARE]
    before = value("http_requests_total", method="GET", route="/healthz", status="200")
    assert client.get("/healthz").status_code == 200
    assert value("http_requests_total", method="GET", route="/healthz", status="200") == before + 1
    assert client.get("/no/such/page/").status_code == 404
    assert value("http_requests_total", method="GET", route="unmatched", status="404") >= 1

    scrape = client.get("/metrics")  # from loopback
    assert scrape.status_code == 200 and scrape["Content-Type"].startswith("text/plain")
    assert b'http_requests_total{method="GET",route="/healthz",status="200"}' in scrape.content
    outsider = {"REMOTE_ADDR": "203.0.113.9"}
    refused = client.get("/metrics", **outsider)
    assert refused.status_code == 403 and "MONITORING_TOKEN" in refused.json()["detail"]
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer " + "t" * 40, **outsider).status_code == 200


async def test_layer_operations_are_timed_and_failures_counted(settings):
    from realtime.layers import RedisChannelLayer

    settings.METRICS_ENABLED = True
    layer = RedisChannelLayer(hosts=[{"address": "redis://127.0.0.1:1/0", "socket_connect_timeout": 0.2}])
    count = value("channel_layer_operation_seconds_count", operation="send")
    with pytest.raises(Exception) as failed:
        await layer.send("some.channel", {"type": "x"})
    assert value("channel_layer_operation_seconds_count", operation="send") == count + 1
    assert value("channel_layer_errors_total", operation="send", error=type(failed.value).__name__) >= 1
    settings.METRICS_ENABLED = False
    assert RedisChannelLayer(hosts=["redis://127.0.0.1:1/0"])._observe is None


def test_without_a_shared_directory_production_is_warned(settings):
    from django.core.checks import run_checks

    settings.DEBUG, settings.METRICS_ENABLED, settings.PROMETHEUS_MULTIPROC_DIR = False, True, ""
    assert "observability.W001" in [m.id for m in run_checks()]
    settings.PROMETHEUS_MULTIPROC_DIR = "/run/app/metrics"
    assert "observability.W001" not in [m.id for m in run_checks()]


# --- The token store, counted at each scrape ------------------------------------------------
@pytest.fixture
def scrape(client, settings):
    settings.ROOT_URLCONF = "observability.tests.urls_with_metrics"  # from loopback: an operator

    def scrape():
        response = client.get("/metrics")
        assert response.status_code == 200
        return response.content.decode()

    return scrape


def store_expired(count):
    from tokens import store
    from tokens.cache import TokenDatabaseCache

    cache = TokenDatabaseCache(store.token_cache().table, {"OPTIONS": {"MAX_ENTRIES": 10**9}})
    for number in range(count):
        cache.set(f"{store.TOKEN_PREFIX}expired-{number}", {"user_id": 0}, timeout=-1)


@pytest.mark.django_db
@pytest.mark.parametrize("shared_directory", [False, True])
def test_live_and_expired_tokens_are_counted_at_each_scrape(scrape, settings, alice, tmp_path, monkeypatch,
                                                            shared_directory):
    from tokens import store

    if shared_directory:  # a figure of the shared table: once, never added up over processes
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    settings.TOKEN_CACHE_WARN_ENTRIES = 50
    store.token_cache().clear()  # rows of earlier transactional tests outlive their flush (no model's table)
    for _ in range(3):
        store.issue_token(alice)
    store.issue_ticket(alice)
    store_expired(2)
    body = scrape()
    assert sample(body, 'token_store_entries{state="live"}') == 4.0
    assert sample(body, 'token_store_entries{state="expired"}') == 2.0
    assert sample(body, "token_store_warn_entries ") == 50.0
    assert sample(body, "token_store_max_entries ") == 100_000.0
    assert body.count('token_store_entries{state="live"}') == 1
    store.issue_token(alice)
    assert sample(scrape(), 'token_store_entries{state="live"}') == 5.0
    # Not in the process's registry: reading a sample there (as these tests do) queries nothing.
    assert REGISTRY.get_sample_value("token_store_entries", {"state": "live"}) is None


@pytest.mark.django_db
def test_a_token_store_that_cannot_be_counted_leaves_the_rest_of_the_scrape(scrape, settings, caplog):
    settings.CACHES = {**settings.CACHES, "tokens": {**settings.CACHES["tokens"], "LOCATION": "no_such_table"}}
    with caplog.at_level(logging.WARNING, logger="observability.metrics"):
        body = scrape()
    assert "token_store_entries{" not in body and "websocket_open_connections" in body
    assert "token_store_entries not counted: OperationalError" in caplog.text


# --- Several processes, one scrape ----------------------------------------------------------
def run_probe(directory, mode):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(PROMETHEUS_MULTIPROC_DIR=str(directory), PYTHONPATH=str(APP_DIR))
    result = subprocess.run([sys.executable, str(Path(__file__).with_name("multiprocess_probe.py")), mode],
                            cwd=APP_DIR, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def sample(exposition, line_start):
    return float(next(line for line in exposition.splitlines() if line.startswith(line_start)).split()[-1])


@pytest.mark.process
def test_one_scrape_adds_up_every_process_and_forgets_dead_ones(tmp_path):
    run_probe(tmp_path, "record")  # two processes that record and exit (recycled workers)
    run_probe(tmp_path, "record")
    assert len(glob.glob(str(tmp_path / "*.db"))) == 6  # counter, gauge, histogram per process
    exposition = run_probe(tmp_path, "scrape")  # a third adds its own, then answers for all
    connects = 'websocket_connects_total{route="/ws/test/",server="daphne-1"}'
    assert sample(exposition, connects) == 9.0
    assert sample(exposition, 'websocket_open_connections{route="/ws/test/",server="daphne-1"}') == 2.0  # live only
    assert sample(exposition, 'channel_layer_operation_seconds_count{operation="send"}') == 3.0
    # The dead processes' files are folded into one archive per type: counts kept, files gone;
    # the scraping process's own stay until a scrape finds it gone too.
    names = sorted(os.path.basename(p).split("_")[-1] for p in glob.glob(str(tmp_path / "*.db")))
    assert len(names) == 5 and names.count("archive.db") == 2 and len(set(names) - {"archive.db"}) == 1, names
    again = run_probe(tmp_path, "scrape")
    assert sample(again, connects) == 12.0
    assert sample(again, 'channel_layer_operation_seconds_count{operation="send"}') == 4.0


@pytest.mark.process
def test_an_unusable_directory_is_refused_in_words(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.dev", METRICS_ENABLED="true",
               PROMETHEUS_MULTIPROC_DIR=str(blocker / "metrics"))
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=APP_DIR, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    assert "PROMETHEUS_MULTIPROC_DIR=" in result.stderr and "cannot be created" in result.stderr
