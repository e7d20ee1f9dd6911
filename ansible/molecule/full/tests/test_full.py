"""Every role on one host: what site.yml promises, checked from outside the host."""

import asyncio
import json
import re

import pytest

from conftest import DEMO_PASSWORD, NAME
from ops import render
from ops.testing import hosts
from ops.testing.client import http, login, receive, ticket, ws_connect

APP = hosts.APP_NAME
UNITS = [f"{APP}-http.service", f"{APP}-daphne@1.service", f"{APP}-daphne@2.service"]


def instance(established):
    return established["server"]["instance"].rsplit(":", 1)[-1]


def test_every_service_runs_and_starts_at_boot(machine):
    for name in ["nginx", "redis-server", "postgresql", "nftables", f"{APP}.target", *UNITS]:
        service = machine.service(name)
        assert service.is_enabled, name
        assert service.is_running if not name.endswith(".target") else service.is_valid, name


@pytest.mark.parametrize("unit", UNITS)
def test_app_units_keep_their_sandbox_while_running(machine, unit):
    """systemd-analyze security on the running unit, on the host: exposure at most 2.0."""
    result = machine.run(f"systemd-analyze security --threshold=20 --no-pager {unit}")
    exposure = float(re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout).group(1))
    assert result.rc == 0 and exposure <= 2.0, result.stdout[-1500:]


def test_installed_files_are_what_the_renderer_makes(machine):
    """The roles rendered nginx/ and systemd/ with ansible.builtin.template; ops.render makes the
    same bytes from the same variables."""
    targets = ["nginx", "systemd", "env"]  # all but "container" (the image's entrypoint)
    pairs = hosts.rendered_vs_installed(machine, NAME, targets)
    assert len(pairs) == sum(output["target"] in targets for output in render.MANIFEST["outputs"])
    for dest, rendered, installed in pairs:
        assert installed == rendered, dest


def test_health_is_ok_over_https_through_nginx(site):
    status, body = http("GET", site.base_url + "/api/websocket/health/")
    assert status == 200 and body["status"] == "ok", body


def test_plain_http_redirects_to_https(site):
    status, _ = http("GET", f"http://{site.name}/api/websocket/health/")
    assert status in (200, 301)  # urllib follows the 301 to https


async def connect_with_tickets(site, token, path, wanted=("daphne-1", "daphne-2")):
    """Sockets opened with single-use tickets until one is on each daphne instance."""
    found, spares = {}, []
    for _ in range(12):
        ws = await ws_connect(site, f"{path}?ticket={ticket(site, token)}")
        name = instance(await receive(ws, "connection_established"))
        if name in wanted and name not in found:
            found[name] = ws
        else:
            spares.append(ws)
        if set(wanted) <= set(found):
            break
    for ws in spares:
        await ws.close()
    assert set(wanted) <= set(found), f"least_conn never reached {set(wanted) - set(found)}"
    return found


async def test_login_ticket_and_a_broadcast_to_both_daphnes(site):
    token = login(site, "carol", DEMO_PASSWORD)
    sockets = await connect_with_tickets(site, token, "/ws/notifications/")
    try:
        status, _ = http("POST", site.base_url + "/api/notifications/", token=token, body={"title": "over https"})
        assert status == 201
        for ws in sockets.values():
            assert (await receive(ws, "notification"))["notification"]["title"] == "over https"
    finally:
        for ws in sockets.values():
            await ws.close()


def test_redis_refuses_a_client_without_the_password(machine):
    result = machine.run("redis-cli -h 127.0.0.1 PING")
    assert "NOAUTH" in result.stdout + result.stderr


async def test_stop_and_start_of_the_target(machine, site):
    """Stopping the target closes every socket with 1001 (going away); after a start the site
    answers again and sockets connect."""
    async with ws_connect(site, "/ws/test/") as ws:
        await receive(ws, "connection_established")
        hosts.run(machine, f"systemctl stop {APP}.target")
        with pytest.raises(Exception):  # noqa: B017 - any close ends the iteration
            while True:
                await asyncio.wait_for(ws.recv(), 20)
        assert ws.close_code == 1001, ws.close_code
    for unit in UNITS:
        assert not machine.service(unit).is_running, unit
    hosts.run(machine, f"systemctl start {APP}.target")
    hosts.wait_for(lambda: hosts.http_ok(site), 60, "health after start")
    async with ws_connect(site, "/ws/test/") as ws:
        assert (await receive(ws, "connection_established"))["type"] == "connection_established"
        await ws.send(json.dumps({"type": "ping"}))
        await receive(ws, "pong")
