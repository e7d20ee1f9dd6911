"""deploy.yml under load: a new release while HTTP requests loop and 100 WebSocket clients
are connected gives no 5xx and every client is back within 5 s; a release that fails its
health check is rolled back and the site keeps serving."""

import asyncio
import shutil

import pytest

from ops.testing import hosts
from ops.testing.artifacts import append_line
from ops.testing.load import HttpLoop, ReconnectingClients
from ops.tools import APP_DIR

APP = hosts.APP_NAME
pytestmark = pytest.mark.timeout(1200)


def release_copy(tmp_path, name, extra_settings=""):
    """A copy of app/ that differs from the deployed one (so it is a new release)."""
    source = tmp_path / name
    shutil.copytree(APP_DIR, source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3",
                                                                   "staticfiles", ".env"))
    settings = source / "config" / "settings" / "production.py"
    settings.write_text(settings.read_text() + f"\n# release {name}\n{extra_settings}")
    return source


def current_release(machine):
    return machine.file(f"/srv/{APP}/current").linked_to


async def test_a_release_deploys_without_downtime(machine, site, tmp_path):
    before = current_release(machine)
    source = release_copy(tmp_path, "next")
    async with ReconnectingClients(site, count=100) as clients:
        with HttpLoop(site) as requests:
            # In a thread: the clients' event loop must keep running during the deploy.
            result = await asyncio.to_thread(hosts.playbook, "deploy.yml", "-e", f"app_release_source={source}")
        back = await clients.all_connected(10)
    after = current_release(machine)
    figures = (f"deploy: {requests.sent} requests, {requests.server_errors} 5xx/errors, "
               f"{sum(clients.closes.values())} socket closes {dict(clients.closes)}, "
               f"longest reconnect {max(clients.gaps, default=0):.2f} s")
    append_line("deploy-figures.txt", figures)  # for the record, whatever the outcome
    assert after != before, result.stdout[-3000:]
    assert requests.server_errors == 0, requests.failures[:20]
    assert requests.sent > 0
    assert sum(clients.closes.values()) >= 100  # every socket was on a restarted daphne
    assert back, f"{100 - len(clients.connected)} clients did not come back"
    assert max(clients.gaps) < 5, sorted(clients.gaps)[-10:]


async def test_a_release_that_fails_its_health_check_is_rolled_back(machine, site, tmp_path):
    before = current_release(machine)
    # A release whose channel layer points at nothing: processes start, health says 503.
    broken = release_copy(tmp_path, "broken", extra_settings=(
        'CHANNEL_LAYERS = {"default": redis_channel_layer("redis://127.0.0.1:1/0")}  # noqa: F405\n'))
    # The deep health check is what fails on the broken release; pages and liveness must not.
    with HttpLoop(site, paths=("/healthz", "/")) as requests:
        result = hosts.playbook("deploy.yml", "-e", f"app_release_source={broken}", "-e", "app_health_timeout=10",
                                check=False)
    output = result.stdout + result.stderr  # ansible-core 2.19 prints a task's failure on stderr
    assert result.returncode != 0
    assert "failed its health check" in output and "Rolled back to" in output, output[-3000:]
    assert current_release(machine) == before
    hosts.wait_for(lambda: hosts.http_ok(site), 30, "health after the rollback")
    assert requests.server_errors == 0, requests.failures[:20]
