"""The login limit holds across HTTP worker processes: gunicorn with two uvicorn workers, started
with the systemd unit's own command line, each worker sent half of the attempts over a
connection of its own. With the limit at 10 an hour, 10 of 30 logins get through, whether the count
lives in Redis (production) or in the database (no REDIS_URL); with a per-process cache (the
negative control, what CACHES["default"] was) each worker let its own 10 through."""

import http.client
import json
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ops.testing.processes import DEMO_PASSWORD, django_env

from .servers import Gunicorn

ATTEMPTS, LIMIT = 30, 10
# Per hour, not per minute: the counter's windows are fixed (up to twice the rate across an
# edge), and 30 logins take seconds; each test also starts clear of an edge (clear_of_a_window_edge).
RATE = f"{LIMIT}/hour"


def clear_of_a_window_edge(seconds=120, window=3600):
    """Wait out the end of the current window when fewer than `seconds` of it are left."""
    left = window - time.time() % window
    if left < seconds:
        time.sleep(left + 1)


def worker_connections(server, count=2, timeout=60):
    """Keep-alive connections that each stay with one worker, until `count` distinct workers
    answered: {instance: connection}. The deep report (loopback may read it) names the worker."""
    found, deadline = {}, time.monotonic() + timeout
    while len(found) < count:
        assert time.monotonic() < deadline, f"only {len(found)} worker(s) answered: {list(found)}"
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("GET", "/api/websocket/health/", headers={"Host": "127.0.0.1"})
        response = connection.getresponse()
        instance = json.loads(response.read())["checks"]["server"]["detail"]["instance"]
        if instance in found:
            connection.close()
        else:
            found[instance] = connection
    return found


def login_attempts(connections, client, attempts=ATTEMPTS):
    """`attempts` logins from `client`, alternating over the connections: statuses per worker.

    The client's address comes in X-Forwarded-For, as nginx sends it (the unit's
    --forwarded-allow-ips): each test counts for an address of its own, apart from the other
    live tests' logins from 127.0.0.1."""
    statuses = {instance: [] for instance in connections}
    body = json.dumps({"username": "alice", "password": DEMO_PASSWORD})
    headers = {"Host": "127.0.0.1", "Content-Type": "application/json", "X-Forwarded-For": client}
    for n in range(attempts):
        instance, connection = list(connections.items())[n % len(connections)]
        connection.request("POST", "/api/auth/login/", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        statuses[instance].append(response.status)
    return statuses


@pytest.fixture
def start_gunicorn(tmp_path, database_url):
    started = []

    def start(settings_module, **env):
        extra = {"DJANGO_DEBUG": "false", "LOGIN_THROTTLE_RATE": RATE, **env}
        server = Gunicorn(django_env(settings_module, database_url, **extra), tmp_path / "gunicorn.log")
        clear_of_a_window_edge()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def assert_limit_holds_across_workers(server, client):
    connections = worker_connections(server)
    statuses = login_attempts(connections, client)
    for instance, seen in statuses.items():
        assert len(seen) == ATTEMPTS // 2 and set(seen) <= {200, 429}, (instance, seen)
    every = [status for seen in statuses.values() for status in seen]
    assert every.count(200) == LIMIT and every.count(429) == ATTEMPTS - LIMIT, statuses


def test_login_limit_holds_across_workers_with_redis(start_gunicorn, redis_server):
    # A fresh Redis database for the count: the session's Redis serves other tests too.
    server = start_gunicorn("config.settings.production", REDIS_URL=redis_server.url.rsplit("/", 1)[0] + "/5")
    assert_limit_holds_across_workers(server, "198.51.100.1")


def test_a_burst_of_parallel_logins_gets_no_more_through(start_gunicorn, redis_server):
    """30 logins sent at once (new connections, both workers, their threads): one atomic
    increment per request, so exactly 10 pass. DRF's own throttle (read the history, append, write
    it back) lost increments to each other here."""
    server = start_gunicorn("config.settings.production", REDIS_URL=redis_server.url.rsplit("/", 1)[0] + "/6")
    worker_connections(server)  # both workers up
    body = json.dumps({"username": "alice", "password": DEMO_PASSWORD})
    headers = {"Host": "127.0.0.1", "Content-Type": "application/json", "X-Forwarded-For": "198.51.100.4"}

    def attempt(_):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            connection.request("POST", "/api/auth/login/", body=body, headers=headers)
            return connection.getresponse().status
        finally:
            connection.close()

    with ThreadPoolExecutor(ATTEMPTS) as pool:
        statuses = list(pool.map(attempt, range(ATTEMPTS)))
    assert statuses.count(200) == LIMIT and statuses.count(429) == ATTEMPTS - LIMIT, statuses


def test_login_limit_holds_across_workers_with_the_database_cache(start_gunicorn):
    """No REDIS_URL (dev settings, DEBUG off): the count lives in the database cache."""
    server = start_gunicorn("config.settings.dev")
    assert_limit_holds_across_workers(server, "198.51.100.2")


def test_a_per_process_cache_lets_each_worker_allow_the_full_rate(start_gunicorn, tmp_path):
    """Negative control: the bug this fixes, measured the same way."""
    (tmp_path / "per_process_settings.py").write_text(textwrap.dedent("""
        from config.settings.dev import *  # noqa: F403
        CACHES = {**CACHES, "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}  # noqa: F405
    """))
    server = start_gunicorn("per_process_settings", PYTHONPATH=str(tmp_path))
    statuses = login_attempts(worker_connections(server), "198.51.100.3")
    assert [seen.count(200) for seen in statuses.values()] == [LIMIT, LIMIT], statuses
