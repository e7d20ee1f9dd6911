"""The launcher itself: it refuses a taken port before starting anything, the manage.py and
supervisorctl passthroughs work against the running stack, Ctrl-C stops every process
(PostgreSQL included) and what the user made survives a restart; and a process that dies is
restarted after its unit's RestartSec= while the others keep serving, as systemd does."""

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import redis
from websockets.exceptions import ConnectionClosed

from ops.testing import processes
from ops.testing.client import connect_on_each_instance, http, login, receive, ws_connect
from ops.testing.processes import LocalStack, descendants, wait_until
from ops.tools import REPO_DIR

from .conftest import require_stack_tools, stack_directory

# A restarted process is back within its RestartSec plus this: a daphne imports Django and the
# app in a few seconds, on two busy cores.
START_ALLOWANCE = 25


def processes_under(root):
    """PIDs whose command line mentions the stack directory (every process of the stack does)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(root) in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(proc.name))
            except OSError:
                continue
    return [pid for pid in found if pid != os.getpid()]


def alive(pid):
    """Running (a zombie waiting for its reaper is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def answers(stack, name):
    try:
        return stack.healthy(name)
    except OSError:
        return False


def ops_stack(root, *args):
    return subprocess.run([sys.executable, "-m", "ops.stack", "--dir", str(root), *args], cwd=REPO_DIR,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def root():
    require_stack_tools()
    directory = stack_directory()
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_a_taken_port_is_refused_before_anything_starts(root):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = ops_stack(root, "up", "--port", str(port))
        took = time.monotonic() - started
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "STACK_PORT=" in result.stderr and "Nothing was started" in result.stderr
    assert "READY" not in result.stdout
    assert took < 20  # no PostgreSQL, no migrate: it only read the templates
    assert not (Path(root) / "postgres").exists()  # not even initdb ran
    assert not processes_under(root)


def test_manage_without_a_stack_says_how_to_start_one(root):
    result = LocalStack.manage_in(root, "check")
    assert result.returncode == 2 and "start one with `make stack`" in result.stderr
    status = ops_stack(root, "status")
    assert status.returncode == 2 and "no stack is running" in status.stderr


def knock(port, stop):
    """What a demo tab left open does while the stack starts: it reloads and reconnects at once,
    again and again, through nginx to the HTTP server and daphne."""
    while not stop.is_set():
        for path in ("/", "/api/websocket/health/"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1).close()  # noqa: S310
            except OSError:  # refused before nginx listens; HTTPError is an OSError too
                pass
        stop.wait(0.05)


def assert_a_clean_start(root, output):
    """A healthy start says nothing alarming: nginx (its error log is the stack's nginx.log) logs
    no failed upstream connect, and no process complains about a missing app/.env."""
    logs = {path.name: path.read_text(errors="replace") for path in (Path(root) / "logs").glob("*.log")}
    alarming = [line for line in logs["nginx.log"].splitlines() if any(f"[{level}]" in line for level in
                                                                       ("crit", "error", "alert", "emerg"))]
    assert alarming == [], alarming
    for name, text in {"the stack's output": output, **logs}.items():
        assert ".env not found" not in text, name


def test_ctrl_c_stops_everything_and_keeps_the_data(root, tmp_path, monkeypatch):
    # The port is chosen here, so that a client can knock on it while the stack starts.
    port = processes.free_port()
    monkeypatch.setattr(processes, "free_port", lambda: port)
    stop_knocking = threading.Event()
    knocker = threading.Thread(target=knock, args=(port, stop_knocking), daemon=True)
    knocker.start()
    try:
        first = LocalStack(root, tmp_path / "first.log", daphne=1)
    finally:
        stop_knocking.set()
        knocker.join(10)
    try:
        assert_a_clean_start(root, first.read_log())
        created = first.manage(
            "createsuperuser", "--noinput", "--username", "ops", "--email", "ops@example.com",
            env={"DJANGO_SUPERUSER_PASSWORD": "kept-across-restarts-1"},
        )
        assert created.returncode == 0, created.stderr
        status = ops_stack(root, "status")
        for name in ("postgres", "redis", "http", "daphne1", "nginx"):
            assert any(line.split()[:2] == [name, "RUNNING"] for line in status.stdout.splitlines()), status.stdout
        # launcher, supervisord, its listener, postgres, redis, daphne, gunicorn, nginx
        assert len(processes_under(root)) >= 8
        # Ctrl-C: the terminal sends SIGINT to the launcher's whole process group.
        os.killpg(first.popen.pid, signal.SIGINT)
        assert first.popen.wait(60) == 0  # stopped as asked: success
    finally:
        first.stop()
    wait_until(lambda: not processes_under(root), 20, "every process of the stack to exit")
    output = first.read_log()
    assert "stack stopped; its data stays in" in output
    for label in ("nginx.1", "daphne1.1", "http.1", "redis.1", "postgres.1"):
        assert f"{label} stopped (" in output, label

    second = LocalStack(root, tmp_path / "second.log", daphne=1)
    try:
        status, body = http("POST", second.base_url + "/api/auth/login/",
                            body={"username": "ops", "password": "kept-across-restarts-1"})
        assert status == 200, body
    finally:
        second.stop()
    wait_until(lambda: not processes_under(root), 20, "every process of the stack to exit")


# --- a process dies: one stack for the module (after the tests above stopped theirs) --------------
@pytest.fixture(scope="module")
def running(tmp_path_factory):
    require_stack_tools()
    directory = stack_directory()
    stack = LocalStack(directory, tmp_path_factory.mktemp("faults") / "stack-output.log")
    yield stack
    stack.stop()
    shutil.rmtree(directory, ignore_errors=True)


async def closes(ws, timeout):
    """Whether `ws` is closed within `timeout` (messages before that are skipped)."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except ConnectionClosed:
        return True
    except TimeoutError:
        return False


async def pong(ws):
    await ws.send(json.dumps({"type": "ping"}))
    return (await receive(ws, "pong"))["type"] == "pong"


async def test_a_killed_daphne_comes_back_while_the_other_keeps_serving(running):
    token = login(running, "carol")
    sockets = await connect_on_each_instance(running, "/ws/feed/?team=faults", token, {"daphne-1", "daphne-2"})
    survivor, victim = sockets["daphne-2"], sockets["daphne-1"]
    restart_sec = running.restart_sec("daphne1")
    offset = len(running.read_log())
    try:
        killed = running.kill("daphne1", signal.SIGKILL)
        started = time.monotonic()
        assert await closes(victim, 10)  # its sockets went with it

        # The restart window: daphne2 keeps its socket and takes every new one nginx passes on.
        connects = 0
        while not answers(running, "daphne1"):
            assert time.monotonic() - started < restart_sec + START_ALLOWANCE, "daphne1 did not come back"
            async with ws_connect(running, "/ws/feed/?team=faults", token=token) as ws:
                await receive(ws, "connection_established")
            connects += 1
            assert await pong(survivor)
            await asyncio.sleep(0.25)  # inside nginx's handshake rate (10/s per address)
        back = time.monotonic() - started

        assert connects > 0
        assert restart_sec <= back <= restart_sec + START_ALLOWANCE
        assert running.pid("daphne1") not in (0, killed)
        assert await pong(survivor)
    finally:
        await survivor.close()
    wait_until(lambda: "daphne1.1 restarted (pid=" in running.read_log()[offset:], 10, "the restart in the output")
    output = running.read_log()[offset:]
    assert f"daphne1.1 died (terminated by SIGKILL); restarting it in {restart_sec:g} s" in output
    assert "daphne2.1 stopped" not in output and "daphne2.1 died" not in output


def test_a_killed_redis_is_restarted(running):
    offset = len(running.read_log())
    killed = running.kill("redis", signal.SIGKILL)
    running.wait_running("redis", running.restart_sec("redis") + START_ALLOWANCE, other_than=killed)
    client = redis.Redis(unix_socket_path=str(running.root / "redis" / "redis.sock"))
    try:
        wait_until(client.ping, 10, "redis answering PING")
    finally:
        client.close()
    wait_until(lambda: "redis.1 restarted (pid=" in running.read_log()[offset:], 10, "the restart in the output")
    assert "redis.1 died (terminated by SIGKILL); restarting it in 1 s" in running.read_log()[offset:]


def test_a_killed_nginx_is_restarted_without_its_old_workers(running):
    master = running.pid("nginx")
    workers = descendants(master)
    assert workers
    offset = len(running.read_log())
    running.kill("nginx", signal.SIGKILL)
    running.wait_running("nginx", running.restart_sec("nginx") + START_ALLOWANCE, other_than=master)
    # The old workers, which would hold the port, went with their master (as in systemd's cgroup).
    wait_until(lambda: not any(alive(pid) for pid in workers), 10, "the old master's workers to exit")
    wait_until(lambda: answers(running, "nginx"), 10, "nginx serving again")
    wait_until(lambda: "nginx.1 restarted (pid=" in running.read_log()[offset:], 10, "the restart in the output")
    assert "nginx.1 died (terminated by SIGKILL); restarting it in 1 s" in running.read_log()[offset:]
