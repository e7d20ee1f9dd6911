"""Real processes for live tests and benchmarks: redis-server and daphne on loopback, and the
local production stack.

Each process gets a free port, a log file, and is stopped (then killed) at teardown.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ops.supervise import Supervisor, read_programs
from ops.tools import APP_DIR, REPO_DIR, http_connection, tail

DEMO_PASSWORD = "live-demo-password-1"
# Every test logs in and asks for tickets from 127.0.0.1, many times a minute: the per-client
# limits (shared by every process now) would answer 429. The storms, faults and benchmarks hold
# thousands of sockets with one account: no cap per user. Tests of the limits set their own.
TEST_LIMITS = {"LOGIN_THROTTLE_RATE": "100000/min", "WS_TICKET_THROTTLE_RATE": "100000/min",
               "WS_MAX_SOCKETS_PER_USER": "0"}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout, what, process=None, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{tail(log, 40)}")
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout}s:\n{tail(log, 40)}")



class Process:
    def __init__(self, args, log_path, env=None, cwd=None):
        self.log_path = Path(log_path)
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            args, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )

    def await_ready(self, predicate, timeout, what):
        """Wait for predicate(); on failure stop the process, so a failed start leaks nothing."""
        try:
            wait_until(predicate, timeout, what, self.popen, self.log_path)
        except BaseException:
            self.stop()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self, timeout=10):
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self.log.close()

    def read_log(self):
        return self.log_path.read_text(errors="replace")


class RedisServer(Process):
    def __init__(self, binary, workdir):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        super().__init__(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(workdir), "--maxclients", "10000"],
            Path(workdir) / "redis.log",
        )
        self.await_ready(self.ping, 15, "redis-server")

    def ping(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")


def django_env(settings_module, database_url, **extra):
    """Environment for a manage.py / daphne child: only what the app reads, plus PATH."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "PYTHONUNBUFFERED": "1",
        **TEST_LIMITS,
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def manage(env, *args):
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=APP_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def prepare_database(env, demo_password):
    manage(env, "migrate", "--verbosity", "0")
    manage(env, "seed_demo", "--password", demo_password, "--allow-production")


class DjangoServer(Process):
    """This project served on 127.0.0.1:<free port> by `command(port)`; ready once /healthz answers 200."""

    def __init__(self, command, env, log_path, name, ready_timeout=30):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        super().__init__(command(self.port), log_path, env=env, cwd=APP_DIR)
        self.await_ready(self.healthy, ready_timeout, f"{name} on port {self.port}")

    def healthy(self):
        with urllib.request.urlopen(self.base_url + "/healthz", timeout=1) as response:  # noqa: S310
            return response.status == 200


class Daphne(DjangoServer):
    """One daphne process serving config.asgi."""

    def __init__(self, env, log_path, extra_args=()):
        self.instance = env.get("SERVER_INSTANCE_ID")
        super().__init__(
            # realtime.server: daphne that closes sockets with 1001 when stopped, as the units run it.
            lambda port: [sys.executable, "-m", "realtime.server", "-b", "127.0.0.1", "-p", str(port), *extra_args,
                          "config.asgi:application"],
            env,
            log_path,
            "daphne",
        )


def runserver(env, log_path):
    """`manage.py runserver`, what `make run` starts."""
    return DjangoServer(
        lambda port: [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        env,
        log_path,
        "runserver",
    )


def wsgi_server(env, log_path):
    """The same project over WSGI (wsgiref): what a WSGI-only deployment looks like."""
    return DjangoServer(
        lambda port: [
            sys.executable,
            "-c",
            "from django.core.wsgi import get_wsgi_application; from wsgiref.simple_server import make_server; "
            f"make_server('127.0.0.1', {port}, get_wsgi_application()).serve_forever()",
        ],
        env,
        log_path,
        "wsgi server",
        ready_timeout=20,
    )


class LocalStack(Process):
    """`python -m ops.stack up`: the same launcher as `make stack`, in a directory of its own.

    Its output (the stream of every process but PostgreSQL, "HH:MM:SS daphne1.1 | text", and the
    stack's own "system | ..." lines: started, died, restarted, stopped) goes to `log_path`;
    nginx's access log is `access_log`. Ready once the launcher prints READY, which it does
    after nginx, every daphne, the HTTP server and /api/websocket/health/ answer.

    Its processes (postgres, redis, http, daphne1.., nginx) are supervisord's: `pid`, `kill`,
    `restart`, `stop_process`, `start_process`, `pause`/`resume` and `wait_running` reach them
    through supervisord's unix socket in the stack's directory. One that dies is restarted after
    its `restart_sec`, as its systemd unit says.
    """

    def __init__(self, root, log_path, daphne=2, settings=(), ready_timeout=150, env=()):
        self.root = Path(root)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        self.access_log = self.root / "logs" / "nginx-access.log"
        self.supervisor = Supervisor(self.root / "supervisor" / "supervisord.sock")
        self.paused = set()
        args = [sys.executable, "-m", "ops.stack", "--dir", str(self.root), "up", "--port", str(self.port),
                "--daphne", str(daphne), "--demo-password", DEMO_PASSWORD]
        for key, value in dict(settings).items():
            args += ["--set", f"{key}={value}"]
        # The launcher's environment reaches every process of the stack (beside app.env).
        super().__init__(args, log_path, env={**os.environ, "PYTHONUNBUFFERED": "1", **TEST_LIMITS, **dict(env)},
                         cwd=REPO_DIR)
        self.await_ready(lambda: f"READY {self.base_url}" in self.read_log(), ready_timeout, "the local stack")
        self.programs = read_programs(self.root / "supervisor" / "programs.json")

    def stop(self, timeout=40):
        # The launcher has supervisord stop every process (PostgreSQL last), then exits.
        for name in list(self.paused):
            self.resume(name)
        super().stop(timeout)

    # --- its processes ----------------------------------------------------------------------
    def pid(self, name):
        """The PID of process `name` (0 while it is not running)."""
        return self.supervisor.info(name)["pid"]

    def state(self, name):
        """supervisord's state of `name`: RUNNING, STARTING, EXITED (waiting RestartSec), STOPPED..."""
        return self.supervisor.info(name)["statename"]

    def restart_sec(self, name):
        return self.programs[name].restart_sec

    def kill(self, name, signum=signal.SIGKILL):
        """Send `signum` to the process's main PID (nginx's master, gunicorn's arbiter); returns it."""
        pid = self.pid(name)
        self.supervisor.signal(name, signum)
        return pid

    def restart(self, name):
        """Stop (its stop signal; SIGKILL after its stop timeout) and start it again, as
        `systemctl restart` would; returns once it runs."""
        self.supervisor.restart(name)

    def stop_process(self, name):
        """Stop it and keep it stopped (a stopped process is not restarted)."""
        self.supervisor.stop(name)

    def start_process(self, name):
        self.supervisor.start(name)

    def pause(self, name):
        """SIGSTOP the process and every process under it (PostgreSQL's backends, nginx's workers):
        alive, holding its sockets, answering nothing. `resume` (and `stop`) continue it."""
        for pid in [self.pid(name), *descendants(self.pid(name))]:
            os.kill(pid, signal.SIGSTOP)
        self.paused.add(name)

    def resume(self, name):
        for pid in [self.pid(name), *descendants(self.pid(name))]:
            os.kill(pid, signal.SIGCONT)
        self.paused.discard(name)

    def wait_running(self, name, timeout, other_than=None):
        """Wait until supervisord runs `name` (with a PID other than `other_than`, e.g. the one
        killed); returns its PID. RUNNING means up for a second, not yet serving: see healthy()."""
        found = {}

        def running():
            info = self.supervisor.info(name)
            found["pid"] = info["pid"]
            return info["statename"] == "RUNNING" and info["pid"] not in (0, other_than)

        wait_until(running, timeout, f"{name} running again", log=self.log_path)
        return found["pid"]

    def healthy(self, name):
        """Whether `name` (http, daphne1..: its own socket or port, not through nginx; nginx:
        through nginx) answers /healthz with 200."""
        connection = http_connection(self.programs[name].endpoint, timeout=2)
        try:
            connection.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
            return connection.getresponse().status == 200
        finally:
            connection.close()

    # --- Django and logs ------------------------------------------------------------------------
    def manage(self, *args, env=None):
        return self.manage_in(self.root, *args, env=env)

    @staticmethod
    def manage_in(root, *args, env=None):
        """`python -m ops.stack manage ...`, what `make stack-manage ARGS=...` runs."""
        return subprocess.run(
            [sys.executable, "-m", "ops.stack", "--dir", str(root), "manage", *args],
            cwd=REPO_DIR, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=120,
        )

    def read_access_log(self):
        return self.access_log.read_text(errors="replace") if self.access_log.exists() else ""


def descendants(pid):
    """PIDs of every process under `pid` (children, their children...), from /proc."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found
