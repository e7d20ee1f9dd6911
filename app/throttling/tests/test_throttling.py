"""Per-client limits count in a cache every process shares, and a per-process one is refused."""

import logging
import time

import pytest
from django.core.cache import caches
from django.core.checks import run_checks
from rest_framework.throttling import ScopedRateThrottle

from config.tests.test_settings import manage

pytestmark = pytest.mark.django_db
LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


def errors(settings):
    return [m.id for m in run_checks() if m.id.startswith("throttling.")]


def test_the_default_cache_is_shared():
    from django.conf import settings

    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"


@pytest.mark.process
def test_production_counts_in_redis_with_short_timeouts():
    result = manage("shell", "-c", "from django.conf import settings; c = settings.CACHES['default']; "
                    "print(c['BACKEND'], c['LOCATION'], c['OPTIONS']['socket_timeout'])")
    assert result.stdout.splitlines()[-1].split() == ["throttling.cache.RedisCache", "redis://127.0.0.1:6379/0", "1.0"]


def test_a_per_process_cache_is_refused_in_production(settings):
    settings.DEBUG = False
    assert errors(settings) == []
    settings.CACHES = {**settings.CACHES, "default": {"BACKEND": LOCMEM}}
    assert errors(settings) == ["throttling.E001"]
    message = next(m for m in run_checks() if m.id == "throttling.E001")
    assert "API throttles" in message.msg and "admin's login limit" in message.msg and "REDIS_URL" in message.hint
    settings.DEBUG = True  # make run: one process
    assert errors(settings) == []


def test_the_admin_login_limit_cache_is_checked_too(settings):
    from axes.handlers.proxy import AxesProxyHandler
    from django.test import override_settings

    settings.DEBUG = False
    caches_with_axes = {**settings.CACHES, "axes": {"BACKEND": LOCMEM}}
    try:
        with override_settings(CACHES=caches_with_axes, AXES_CACHE="axes"):
            assert errors(settings) == ["throttling.E001"]
            with override_settings(AXES_HANDLER="axes.handlers.database.AxesDatabaseHandler"):
                assert errors(settings) == []
    finally:
        AxesProxyHandler.get_implementation(force=True)  # axes rebuilt its handler on the way: once more


def test_login_throttle_counts_in_the_shared_cache(client, alice, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "login": "3/min"})
    body = {"username": "alice", "password": "wrong"}
    statuses = [client.post("/api/auth/login/", body, content_type="application/json").status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]
    window = int(time.time() // 60)
    assert caches["default"].get(f"throttle_login_127.0.0.1_{window}") in (4, None)  # None: a new minute began
    # Another client (the address the server derived) has its own count.
    response = client.post("/api/auth/login/", body, content_type="application/json", REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 400


def test_a_forwarded_header_of_the_clients_own_is_not_the_client(client, alice, monkeypatch):
    """NUM_PROXIES=0: REMOTE_ADDR (which daphne/uvicorn took from nginx) is the client, not an
    X-Forwarded-For a client sends to dodge the limit."""
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "login": "2/min"})
    body = {"username": "alice", "password": "wrong"}
    statuses = [client.post("/api/auth/login/", body, content_type="application/json",
                            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(3)]
    assert statuses == [400, 400, 429]


# --- The Redis cache: one pool per process, open when Redis fails ---------------------------
REDIS_DOWN = {"BACKEND": "throttling.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
              "OPTIONS": {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}}


def test_cache_objects_share_one_client(settings):
    settings.CACHES = {**settings.CACHES, "shared": REDIS_DOWN}
    first, second = caches.create_connection("shared"), caches.create_connection("shared")
    assert first is not second and first._cache is second._cache


def test_a_redis_outage_lets_requests_through_with_one_warning(settings, caplog, monkeypatch):
    from throttling import cache

    monkeypatch.setattr(cache, "_last_warning", -1e9)
    settings.CACHES = {**settings.CACHES, "shared": REDIS_DOWN}
    shared = caches.create_connection("shared")
    with caplog.at_level(logging.WARNING, logger="throttling.cache"):
        assert shared.get("k", []) == []
        shared.set("k", [1], 60)
        assert shared.add("k", 1) is False
        assert shared.get_many(["a", "b"]) == {}
        assert shared.delete("k") is False
    warnings = [r for r in caplog.records if r.name == "throttling.cache"]
    assert len(warnings) == 1 and "let requests through" in warnings[0].getMessage()


def test_the_login_throttle_survives_a_redis_outage(client, alice, settings, monkeypatch):
    from throttling import cache

    monkeypatch.setattr(cache, "_last_warning", 0.0)
    settings.CACHES = {**settings.CACHES, "default": REDIS_DOWN}
    monkeypatch.setattr(ScopedRateThrottle, "cache", caches.create_connection("default"))
    response = client.post("/api/auth/login/", {"username": "alice", "password": "pw-for-tests-1"},
                           content_type="application/json")
    assert response.status_code == 200


# --- The admin's login limit (django-axes) ---------------------------------------------------
def admin_login(client, password, address="127.0.0.1", username="carol"):
    return client.post("/admin/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_the_admin_locks_a_username_and_address_out_at_the_fifth_failure(client, carol):
    for _ in range(4):
        assert admin_login(client, "wrong").status_code == 200  # the form again, with its error
    assert admin_login(client, "wrong").status_code == 429
    locked = admin_login(client, "pw-for-tests-1")  # the right password no longer helps
    assert locked.status_code == 429 and b"locked" in locked.content.lower()
    # The same user from elsewhere, and another user from here, are not locked out.
    assert admin_login(client, "pw-for-tests-1", address="10.0.0.2").status_code == 302
    assert admin_login(client, "wrong", username="someone-else").status_code == 200


def test_a_success_resets_the_count(client, carol):
    for _ in range(4):
        admin_login(client, "wrong")
    assert admin_login(client, "pw-for-tests-1").status_code == 302
    client.logout()
    for _ in range(4):  # counted from zero again
        assert admin_login(client, "wrong").status_code == 200


def test_the_api_login_is_not_counted_by_the_admin_limit(client, carol):
    for _ in range(8):
        client.post("/api/auth/login/", {"username": "carol", "password": "wrong"}, content_type="application/json")
    assert admin_login(client, "pw-for-tests-1").status_code == 302


def test_authenticate_without_a_request_still_works(carol):
    from django.contrib.auth import authenticate

    assert authenticate(username="carol", password="pw-for-tests-1") == carol


def test_a_lockout_is_lifted_by_the_documented_command(client, carol):
    from django.core.management import call_command

    for _ in range(5):
        admin_login(client, "wrong")
    assert admin_login(client, "pw-for-tests-1").status_code == 429
    call_command("axes_reset_ip_username", "127.0.0.1", "carol")
    assert admin_login(client, "pw-for-tests-1").status_code == 302


def test_the_counter_is_one_increment_per_request_and_says_when_to_come_back(rf, monkeypatch):
    from throttling.throttles import SharedScopedRateThrottle

    class View:
        throttle_scope = "login"

    monkeypatch.setattr(SharedScopedRateThrottle, "THROTTLE_RATES", {"login": "2/min"})
    monkeypatch.setattr(SharedScopedRateThrottle, "timer", lambda self: 6000.0 + 15)  # 15 s into a window
    request = rf.post("/api/auth/login/")
    request.user = None
    results = [SharedScopedRateThrottle().allow_request(request, View()) for _ in range(3)]
    assert results == [True, True, False]
    throttle = SharedScopedRateThrottle()
    throttle.allow_request(request, View())
    assert throttle.wait() == 45.0
    assert caches["default"].get("throttle_login_127.0.0.1_100") == 4
    monkeypatch.setattr(SharedScopedRateThrottle, "timer", lambda self: 6060.0)  # the next window
    assert SharedScopedRateThrottle().allow_request(request, View()) is True
