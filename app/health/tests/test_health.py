import pytest
from django.core.checks import run_checks
from django.test import override_settings

pytestmark = pytest.mark.django_db
# The async tests reach the database from sync_to_async's worker thread, so they cannot run
# inside the test's transaction, which holds SQLite's write lock (transaction_mode=IMMEDIATE).
db_from_threads = pytest.mark.django_db(transaction=True)


def test_healthz_is_cheap_and_ok(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.json() == {"status": "ok"}


@db_from_threads
async def test_deep_health_with_in_memory_layer_is_degraded_with_advice(async_client):
    response = await async_client.get("/api/websocket/health/")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "degraded"
    checks = body["checks"]
    assert checks["channel_layer"]["detail"]["round_trip_ms"] >= 0
    assert checks["token_cache"]["status"] == "ok" and checks["database"]["status"] == "ok"
    assert checks["server"]["detail"]["interface"] == "asgi"
    assert "/ws/chat/<int:conversation_id>/" in checks["websocket_routes"]["detail"]["routes"]
    assert any("REDIS_URL" in r for r in body["recommendations"])


LOCMEM_TOKENS = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "tokens": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}


@db_from_threads
async def test_per_process_token_cache_fails_with_503(async_client):
    with override_settings(CACHES=LOCMEM_TOKENS):
        response = await async_client.get("/api/websocket/health/")
    assert response.status_code == 503
    assert "per process" in response.json()["checks"]["token_cache"]["recommendation"]


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.cache.backends.locmem.LocMemCache",
        "django.core.cache.backends.dummy.DummyCache",
        "django.core.cache.backends.db.DatabaseCache",
    ],
)
def test_health_and_system_check_agree_on_per_process_token_caches(backend, settings):
    from health.checks import check_token_cache

    settings.CACHES = {**settings.CACHES, "tokens": {**settings.CACHES["tokens"], "BACKEND": backend}}
    refused_by_system_check = "realtime.E001" in [m.id for m in run_checks()]
    check = check_token_cache()
    assert refused_by_system_check is ("per process" in check.recommendation)
    assert check.status == ("fail" if refused_by_system_check else "ok")


@db_from_threads
async def test_unreachable_redis_fails_with_503(async_client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = await async_client.get("/api/websocket/health/")
    assert response.status_code == 503
    assert "redis-server" in response.json()["checks"]["redis"]["recommendation"]


def test_missing_cache_table_is_diagnosed(client, settings):
    settings.CACHES = {**settings.CACHES, "tokens": {**settings.CACHES["tokens"], "LOCATION": "no_such_table"}}
    body = client.get("/api/websocket/health/").json()
    assert body["status"] == "fail"
    recommendation = body["checks"]["token_cache"]["recommendation"]
    assert "manage.py migrate" in recommendation and "createcachetable" in recommendation


def test_wsgi_process_is_told_it_cannot_serve_websockets(client):
    body = client.get("/api/websocket/health/").json()
    assert body["checks"]["server"]["status"] == "fail"
    assert "daphne" in body["checks"]["server"]["recommendation"]


def test_system_check_refuses_locmem_token_cache():
    with override_settings(CACHES=LOCMEM_TOKENS):
        ids = [m.id for m in run_checks()]
    assert "realtime.E001" in ids


def test_system_check_warns_about_in_memory_layer_without_debug(settings):
    settings.DEBUG = False
    assert "realtime.W001" in [m.id for m in run_checks()]
    settings.DEBUG = True
    assert "realtime.W001" not in [m.id for m in run_checks()]


def test_system_check_refuses_a_redis_timeout_shorter_than_the_blocking_receive(settings):
    from config.settings.base import redis_channel_layer

    settings.CHANNEL_LAYERS = {"default": redis_channel_layer("redis://127.0.0.1:6379/0")}
    assert "realtime.E002" not in [m.id for m in run_checks()]  # the project's default: 15 s
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["socket_timeout"] = 5
    assert "realtime.E002" in [m.id for m in run_checks()]
    del settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["socket_timeout"]  # redis-py's default: 5 s
    assert "realtime.E002" in [m.id for m in run_checks()]


async def test_a_paused_channel_layer_fails_the_probe_within_its_timeout(monkeypatch, settings):
    """A paused Redis held the probe's send for the Redis socket timeout (15 s)."""
    import asyncio
    import time

    from channels.layers import get_channel_layer

    from health import checks

    settings.HEALTH_CHECK_TIMEOUT = 0.3

    async def paused(channel, message):
        await asyncio.sleep(30)

    monkeypatch.setattr(get_channel_layer(), "send", paused)
    started = time.monotonic()
    check = await checks.check_channel_layer()
    assert check.status == "fail" and "within 0.3 s" in check.recommendation
    assert time.monotonic() - started < 2


# --- Who reads what ---------------------------------------------------------------------------
OUTSIDER = {"REMOTE_ADDR": "203.0.113.7"}


@pytest.fixture(autouse=True)
def fresh_public_answer():
    from health.views import WebSocketHealthView

    WebSocketHealthView._public = None
    yield
    WebSocketHealthView._public = None


def test_outsiders_get_the_status_only(client, settings):
    settings.CACHES = {**settings.CACHES, "tokens": {**settings.CACHES["tokens"], "LOCATION": "no_such_table"}}
    response = client.get("/api/websocket/health/", **OUTSIDER)
    body = response.json()
    assert response.status_code == 503 and body["status"] == "fail"
    assert set(body) == {"status", "detail"} and "MONITORING_TOKEN" in body["detail"]
    assert "no_such_table" not in response.content.decode()  # no exception text, no figures


def test_staff_and_the_monitoring_token_get_the_report(client, settings, alice, carol, token_for):
    settings.MONITORING_TOKEN = "m" * 40
    url = "/api/websocket/health/"
    assert "checks" in client.get(url, HTTP_AUTHORIZATION=f"Token {token_for(carol)}", **OUTSIDER).json()
    assert "checks" in client.get(url, HTTP_AUTHORIZATION="Bearer " + "m" * 40, **OUTSIDER).json()
    # A user who is not staff, a wrong monitoring token, a bad token: the public answer, not a 401.
    for header in (f"Token {token_for(alice)}", "Bearer " + "x" * 40, "Token not-a-token"):
        response = client.get(url, HTTP_AUTHORIZATION=header, **OUTSIDER)
        assert response.status_code != 401 and "checks" not in response.json(), header


def test_the_admins_session_reads_the_report(client, carol):
    client.force_login(carol)
    assert "checks" in client.get("/api/websocket/health/", **OUTSIDER).json()


def test_allowed_networks_read_the_report(client, settings):
    settings.MONITORING_ALLOWED_IPS = ["10.1.0.0/16"]
    assert "checks" in client.get("/api/websocket/health/", REMOTE_ADDR="10.1.2.3").json()
    assert "checks" not in client.get("/api/websocket/health/", REMOTE_ADDR="127.0.0.1").json()


def test_outsiders_are_throttled_operators_never(client, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "health": "2/min"})
    # (503 rather than 200: the test client is WSGI, which the report's server check fails.)
    statuses = [client.get("/api/websocket/health/", **OUTSIDER).status_code for _ in range(3)]
    assert statuses == [503, 503, 429]
    assert [client.get("/api/websocket/health/").status_code for _ in range(3)] == [503] * 3  # loopback


def test_public_answers_reuse_one_round_of_probes(client, monkeypatch):
    from health import views

    calls = []
    real = views.run_checks
    monkeypatch.setattr(views, "run_checks", lambda is_asgi: calls.append(1) or real(is_asgi))
    for address in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        assert client.get("/api/websocket/health/", REMOTE_ADDR=address).json()["status"] == "fail"  # WSGI
    assert len(calls) == 1


def test_the_report_writes_nothing_to_the_database(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert "checks" in client.get("/api/websocket/health/").json()
    statements = [query["sql"].split()[0].upper() for query in queries.captured_queries]
    assert statements and set(statements) <= {"SELECT"}, statements


def test_a_unix_socket_peer_is_local(rf):
    """daphne and uvicorn on a unix socket, asked directly (no X-Forwarded-For): no client address."""
    from observability.access import monitoring_access

    request = rf.get("/api/websocket/health/")
    del request.META["REMOTE_ADDR"]
    assert monitoring_access(request) == "address"


def test_wsdoctor_sends_its_token_to_the_report_and_says_when_it_got_the_status_only(monkeypatch):
    import json

    from health import doctor

    sent = []

    def fake_get(url, timeout, headers=None):
        sent.append(headers)
        return 200, json.dumps({"status": "ok", "detail": "Status only."}).encode()

    monkeypatch.setattr(doctor, "_http_get", fake_get)
    step = doctor.Doctor("https://example.org", token="t" * 43).check_health()
    assert sent == [{"Authorization": "Token " + "t" * 43}]
    assert step.status == doctor.PASS and "status only" in step.detail
    doctor.Doctor("https://example.org").check_health()
    assert sent[-1] == {}
