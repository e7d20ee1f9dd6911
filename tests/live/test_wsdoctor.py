"""wsdoctor against a good server and deliberately broken ones, each failure mapped to its cause."""

import subprocess
import sys

import pytest

from ops.testing.client import login
from ops.testing.processes import APP_DIR, django_env, free_port, wsgi_server
from tests.live.proxies import MisbehavingProxy


def wsdoctor(url, *args):
    result = subprocess.run(
        [sys.executable, "manage.py", "wsdoctor", url, *args],
        cwd=APP_DIR,
        env=django_env("config.settings.test", "sqlite:///:memory:"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.fixture
def good(start_daphne):
    return start_daphne("doctor-good")


def test_good_server_passes_every_step(good):
    code, out = wsdoctor(good.base_url, f"--token={login(good)}", "--idle", "2")
    assert code == 0, out
    for step in ("http", "health", "websocket", "ping", "auth", "idle"):
        assert f"] {step}" in out
    assert "FAIL" not in out and "authenticated as alice" in out


def test_nothing_listening(db):
    code, out = wsdoctor(f"http://127.0.0.1:{free_port()}")
    assert code == 1 and "Nothing answers" in out


def test_wsgi_only_server_means_no_asgi(tmp_path, database_url):
    """The same Django project served over WSGI: HTTP works, /ws/ is a 404."""
    env = django_env("config.settings.dev", database_url, DJANGO_DEBUG="false")
    with wsgi_server(env, tmp_path / "wsgi.log") as server:
        code, out = wsdoctor(server.base_url)
    assert code == 1
    assert "HTTP 404" in out and "no ASGI server" in out
    assert "serves WSGI, which cannot speak WebSocket" in out  # from the health report


def test_proxy_dropping_upgrade_headers(good):
    with MisbehavingProxy(good.port, strip_upgrade=True) as proxy:
        code, out = wsdoctor(proxy.base_url)
    assert code == 1
    assert "drops the Upgrade/Connection headers" in out and "proxy_http_version 1.1" in out


def test_server_demanding_upgrade_426(db):
    with MisbehavingProxy(fixed_status=426) as proxy:
        code, out = wsdoctor(proxy.base_url)
    assert code == 1 and "HTTP 426" in out and "Upgrade" in out


def test_wrong_origin_is_403_with_allowed_hosts_advice(good):
    code, out = wsdoctor(good.base_url, "--origin", "https://elsewhere.example")
    assert code == 1 and "HTTP 403" in out and "ALLOWED_HOSTS" in out
    assert "origin https://elsewhere.example is not in ALLOWED_HOSTS" in good.read_log()


def test_bad_token_is_4001(good):
    code, out = wsdoctor(good.base_url, "--token", "not-a-real-token")
    assert code == 1 and "closed 4001" in out and "Log in again" in out
    assert "not-a-real-token" not in good.read_log()


def test_idle_drop_points_at_the_proxy_read_timeout(good):
    with MisbehavingProxy(good.port, idle_timeout=1.5) as proxy:
        code, out = wsdoctor(proxy.base_url, "--idle", "4")
    assert code == 1
    assert "dropped after" in out and "proxy_read_timeout" in out
