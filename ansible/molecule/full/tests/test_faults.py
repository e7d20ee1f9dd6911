"""Faults under systemd on the full host (RELIABILITY.md): Redis restarted (non-persistent, as the
redis role configures it by default) leaves no socket deaf and needs no daphne restart; a daphne
killed with SIGKILL is back within its RestartSec and its clients reconnect to a live instance;
a paused PostgreSQL fails handshakes fast (4013) instead of holding them."""

import asyncio
import re
import time

import pytest
from websockets.exceptions import ConnectionClosed

from conftest import DEMO_PASSWORD
from ops.testing import hosts
from ops.testing.artifacts import append_line
from ops.testing.client import connect_on_each_instance, http, login, receive, ws_connect

APP = hosts.APP_NAME
DAPHNES = {"daphne-1": f"{APP}-daphne@1.service", "daphne-2": f"{APP}-daphne@2.service"}


def record(line):
    """Figures for RELIABILITY.md, beside the local stack's (tests/e2e/test_faults.py)."""
    append_line("faults.txt", f"under systemd: {line}")


def main_pid(machine, unit):
    return hosts.run(machine, f"systemctl show --property MainPID --value {unit}").strip()


def seconds(timespan):
    """systemd's "2s", "100ms" or "1min 30s" in seconds."""
    units = {"min": 60, "s": 1, "ms": 0.001, "us": 0.000001}
    return sum(float(number) * units[unit] for number, unit in re.findall(r"([\d.]+)(min|ms|us|s)", timespan))


def restarts(machine, unit):
    return int(hosts.run(machine, f"systemctl show --property NRestarts --value {unit}").strip())


async def notification_reaches(site, token, sockets, deadline_s):
    """Post notifications every half second until every socket got one; seconds it took."""
    started = time.monotonic()
    pending = dict(sockets)
    attempt = 0
    while pending:
        assert time.monotonic() - started < deadline_s, f"deaf after {deadline_s} s: {sorted(pending)}"
        attempt += 1
        status, _ = await asyncio.to_thread(http, "POST", site.base_url + "/api/notifications/", token,
                                            {"title": f"probe {attempt}"})
        for name, ws in list(pending.items()):
            try:
                message = await receive(ws, "notification", timeout=0.5)
            except TimeoutError:
                continue
            if message["notification"]["title"].startswith("probe"):
                del pending[name]
    return time.monotonic() - started


async def test_a_redis_restart_leaves_no_socket_deaf_and_restarts_no_daphne(machine, site):
    token = login(site, "carol", DEMO_PASSWORD)
    sockets = await connect_on_each_instance(site, "/ws/notifications/", token, set(DAPHNES))
    pids = {unit: main_pid(machine, unit) for unit in DAPHNES.values()}
    try:
        hosts.run(machine, "systemctl restart redis-server.service")
        recovered_s = await notification_reaches(site, token, sockets, 10)
    finally:
        for ws in sockets.values():
            await ws.close()
    assert {unit: main_pid(machine, unit) for unit in DAPHNES.values()} == pids
    record(f"redis restart: both daphnes' sockets heard a broadcast {recovered_s:.1f} s after it, no daphne restarted")


async def test_a_killed_daphne_is_back_within_its_restartsec(machine, site):
    unit = DAPHNES["daphne-1"]
    restart_sec = seconds(hosts.run(machine, f"systemctl show --property RestartUSec --value {unit}"))
    before = restarts(machine, unit)
    token = login(site, "carol", DEMO_PASSWORD)
    sockets = await connect_on_each_instance(site, "/ws/test/", token, {"daphne-1"})
    victim = sockets["daphne-1"]
    hosts.run(machine, f"systemctl kill --signal=KILL {unit}")
    started = time.monotonic()
    with pytest.raises(ConnectionClosed):
        await receive(victim, timeout=10)
    async with ws_connect(site, "/ws/test/") as again:  # nginx passes over the dead instance
        await receive(again, "connection_established")
    reconnected_s = time.monotonic() - started
    hosts.wait_for(lambda: restarts(machine, unit) > before and hosts.run(machine, f"systemctl is-active {unit}")
                   .strip() == "active", restart_sec + 20, f"{unit} restarted")
    back_s = time.monotonic() - started
    assert reconnected_s < 5
    assert back_s < restart_sec + 20
    record(f"daphne SIGKILL: a client reconnected in {reconnected_s:.1f} s, the unit was active again after "
           f"{back_s:.1f} s (RestartSec {restart_sec:g} s)")


async def test_a_paused_database_fails_handshakes_fast(machine, site):
    token = login(site, "carol", DEMO_PASSWORD)
    hosts.run(machine, "systemctl kill --signal=STOP postgresql@15-main.service")
    try:
        started = time.monotonic()
        async with ws_connect(site, "/ws/notifications/", token=token, open_timeout=70) as ws:
            with pytest.raises(ConnectionClosed):
                await receive(ws, timeout=70)
            assert ws.close_code == 4013
        refused_s = time.monotonic() - started
    finally:
        hosts.run(machine, "systemctl kill --signal=CONT postgresql@15-main.service")
    assert refused_s < 10

    async def connects():
        async with ws_connect(site, "/ws/notifications/", token=token) as ws:
            try:
                return (await receive(ws))["type"] == "connection_established"
            except ConnectionClosed:
                return False

    deadline = time.monotonic() + 20
    while not await connects():
        assert time.monotonic() < deadline, "authenticated connects still refused after the database resumed"
        await asyncio.sleep(0.5)
    record(f"postgres paused: an authenticated handshake closed 4013 in {refused_s:.1f} s, connects work after resume")
