"""What the load generator is pointed at: the bare `websockets` ceiling, or the local production
stack (ops.testing.processes.LocalStack) in one configuration, reached through nginx or directly
on its daphne sockets. Each knows its URLs, its server processes (for RSS and CPU), how to count
a group's members in Redis, and what its logs said."""

import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import redis

from bench import httpc
from bench.system import command_line, pids_listening_on, server_pid
from ops.testing.processes import DEMO_PASSWORD, LocalStack

REPO_DIR = Path(__file__).resolve().parents[1]

# Configurations of the app measured against each other; "default" is the deployment's own.
CONFIGURATIONS = {
    "default": {"websocket_server": "daphne", "app_channel_layer": "redis"},
    "uvicorn": {"websocket_server": "uvicorn", "app_channel_layer": "redis"},
    "pubsub": {"websocket_server": "daphne", "app_channel_layer": "redis-pubsub"},
}

# nginx's per-IP limits stay on (their cost is nginx's) but out of the way of one load generator,
# and the ticket endpoint's per-user throttle (60/min) out of the way of a handshake benchmark.
LOAD_SETTINGS = {
    "nginx_ws_handshake_rate": "100000r/s",
    "nginx_ws_handshake_burst": 100000,
    "nginx_ws_connections_per_ip": 65535,
}
APP_ENV = {"WS_TICKET_THROTTLE_RATE": "1000000/min", "LOGIN_THROTTLE_RATE": "1000000/min"}


class Ceiling:
    """bench.ceiling in a process of its own."""

    name = "ceiling"
    layer = None
    membership = "the server's own sets"
    token = "ceiling"

    def __init__(self, log_dir):
        self.log_path = Path(log_dir) / "ceiling.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.ceiling"], stdout=subprocess.PIPE, stderr=open(self.log_path, "ab"),  # noqa: SIM115
            text=True, cwd=REPO_DIR,
        )
        line = self.process.stdout.readline()
        if not line.startswith("READY"):
            self.stop()
            raise RuntimeError(f"bench.ceiling did not start: {line!r}\n{self.log_path.read_text()}")
        fields = dict(part.split("=", 1) for part in line.split()[1:])
        self.ws_base, self.http_base = fields["ws"], fields["http"]
        self.conditions = {"server": "websockets (bench.ceiling)", "instances": 1, "proxy": "none",
                           "layer": "none (in-process groups)", "auth": "accepted, not checked"}

    def spec(self, path, auth="none", token=None):
        return {"url": self.ws_base + path, "http": self.http_base, "auth": auth, "token": token or "ceiling"}

    async def login(self):
        return self.token

    def servers(self):
        return {"ceiling": self.process.pid}

    def helpers(self):
        return {}

    def group_members(self, slug):
        return None

    def log_mark(self):
        return None

    def log_errors(self, mark):
        return {}

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Stack:
    """The local production stack in one configuration."""

    def __init__(self, name, log_dir, daphne=2, extra_settings=None):
        self.name = name
        self.settings = {**CONFIGURATIONS[name], **LOAD_SETTINGS, **(extra_settings or {})}
        self.root = Path(tempfile.mkdtemp(prefix=f"channels-stack-bench-{name}-"))
        self.log_path = Path(log_dir) / f"stack-{name}.log"
        # Merged with the launcher's own app_extra_env (PGHOST, PYTHONUNBUFFERED), key by key.
        settings = {**self.settings, "app_extra_env": json.dumps(APP_ENV)}
        try:
            self.stack = LocalStack(self.root, self.log_path, daphne=daphne, settings=settings)
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        self.http_base = self.stack.base_url
        self.ws_base = self.stack.ws_base
        self.sockets = [self.root / "run" / f"daphne-{n}.sock" for n in range(1, daphne + 1)]
        self.redis = redis.Redis(unix_socket_path=str(self.root / "redis" / "redis.sock"))
        self.layer = self.settings["app_channel_layer"]
        self.conditions = {"server": self.settings["websocket_server"], "instances": daphne, "proxy": "nginx",
                           "layer": self.layer, "settings": dict(self.settings), "app_env": dict(APP_ENV)}
        self.token = None
        self._servers, self._helpers = {}, {}

    def spec(self, path, auth="none", token=None):
        return {"url": self.ws_base + path, "http": self.http_base, "auth": auth, "token": token or self.token}

    async def login(self, username="carol"):
        status, body = await httpc.request("POST", self.http_base + "/api/auth/login/",
                                           body={"username": username, "password": DEMO_PASSWORD})
        if status != 200:
            raise RuntimeError(f"login as {username} failed: {status} {body}")
        self.token = body["token"]
        return self.token

    def servers(self):
        """{"daphne-1": pid, ...}: the WebSocket server behind each socket (daphne or uvicorn)."""
        if not self._servers or not all(pid and Path(f"/proc/{pid}").exists() for pid in self._servers.values()):
            self._servers = {path.name.removesuffix(".sock"): server_pid(path) for path in self.sockets}
        return self._servers

    def helpers(self):
        """The other processes whose CPU and memory count: nginx's workers, Redis, the HTTP server."""
        if not self._helpers or not all(Path(f"/proc/{pid}").exists() for pids in self._helpers.values()
                                        for pid in pids):
            self._helpers = self._find_helpers()
        return self._helpers

    def _find_helpers(self):
        found = {}
        nginx_pid_file = self.root / "nginx" / "nginx.pid"
        if nginx_pid_file.exists():
            master = int(nginx_pid_file.read_text().split()[0])
            found["nginx"] = [pid for pid in _children(master)]
        found["redis"] = pids_listening_on(self.root / "redis" / "redis.sock")
        found["http"] = pids_listening_on(self.root / "run" / "http.sock")
        return found

    @property
    def membership(self):
        return "subscriptions" if self.layer == "redis-pubsub" else "sorted set"

    def group_members(self, slug):
        """Members of feed.team.<slug> as Redis holds them: one per process with sockets in the
        group (realtime.groups), as the core layer's sorted set or the pubsub layer's
        subscriptions."""
        group = f"feed.team.{slug}"
        if self.layer == "redis-pubsub":
            return int(dict(self.redis.pubsub_numsub(f"asgi__group__{group}")).get(
                f"asgi__group__{group}".encode(), 0))
        return int(self.redis.zcard(f"asgi:group:{group}"))

    async def wait_group(self, slug, expected, timeout):
        """Poll until the group has `expected` members (or timeout); (members, seconds waited)."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        members = self.group_members(slug)
        while members != expected and loop.time() - start < timeout:
            await asyncio.sleep(0.1)
            members = self.group_members(slug)
        return members, round(loop.time() - start, 2)

    def log_mark(self):
        access = self.stack.access_log
        return (self.log_path.stat().st_size, access.stat().st_size if access.exists() else 0)

    def log_errors(self, mark):
        """What the processes logged since `mark`: tracebacks and exception names by process,
        nginx's error lines by message, the handshake statuses nginx answered."""
        output_offset, access_offset = mark
        with open(self.log_path, "rb") as log:
            log.seek(output_offset)
            lines = log.read().decode(errors="replace").splitlines()
        tracebacks, exceptions, nginx, warnings = Counter(), Counter(), Counter(), Counter()
        for line in lines:
            process, _, text = line.partition("|")
            process = process.split()[-1] if process.split() else "?"
            if "Traceback (most recent call last)" in text:
                tracebacks[process] += 1
            elif match := re.match(r"\s*([\w.]+(?:Error|Exception|Exhausted|Timeout))\b[:(]?", text):
                exceptions[f"{process}: {match.group(1)}"] += 1
            if match := re.search(r"\[(error|crit|alert|emerg)\] \d+#\d+: (?:\*\d+ )?(.*?)(?:, client: .*)?$", text):
                nginx[f"{match.group(1)}: {signature(match.group(2).strip())}"] += 1
            elif match := re.search(r"\b(ERROR|CRITICAL|WARNING)\b\s*(.*)", text):
                warnings[f"{process}: {match.group(1)} {signature(match.group(2))}"] += 1
        statuses = Counter()
        if self.stack.access_log.exists():
            with open(self.stack.access_log, "rb") as log:
                log.seek(access_offset)
                for line in log.read().decode(errors="replace").splitlines():
                    match = re.search(r'"GET (/ws/\S*) HTTP/[\d.]+" (\d{3})', line)
                    if match and match.group(2) != "101":
                        statuses[match.group(2)] += 1
        return {key: dict(sorted(value.items())) for key, value in (
            ("tracebacks", tracebacks), ("exceptions", exceptions), ("log_levels", warnings),
            ("nginx_errors", nginx), ("nginx_ws_failed_statuses", statuses)) if value}

    def server_commands(self):
        return {name: command_line(pid) for name, pid in self.servers().items() if pid}

    def stop(self):
        try:
            self.redis.close()
            self.stack.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class Direct:
    """The same stack's WebSocket servers reached on their unix sockets: no nginx."""

    def __init__(self, stack):
        self.stack = stack
        self.name = "direct"
        self.layer = stack.layer
        self.conditions = {**stack.conditions, "proxy": "none (the servers' unix sockets, round robin)"}

    def spec(self, path, auth="none", token=None):
        # Same Host and Origin as through nginx: only the proxy differs.
        return {"url": "ws://127.0.0.1" + path, "http": self.stack.http_base, "auth": auth,
                "token": token or self.stack.token, "unix": [str(p) for p in self.stack.sockets]}

    def __getattr__(self, name):
        return getattr(self.stack, name)


def signature(message):
    """A log message with its variable parts (objects, numbers, addresses) blanked, to count alike ones."""
    previous = None
    while previous != message:
        previous, message = message, re.sub(r"<[^<>]*>", "#", message)
    message = re.sub(r"\[[^\]]*\]|'[^']*'", "_", message)
    return re.sub(r"\d+", "N", message)[:120]


def _children(pid):
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)
