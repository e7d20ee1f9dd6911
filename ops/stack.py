"""The production topology on loopback, without root or containers: `make stack`.

    python -m ops.stack up [--dir DIR] [--port 8080] [--daphne 2] [--set KEY=VALUE ...]
    python -m ops.stack manage [--dir DIR] createsuperuser      # any manage.py command

`up` starts redis-server, a PostgreSQL cluster of its own (ops.postgres), N daphne instances
and the HTTP server with the production settings, and nginx on 127.0.0.1:PORT. Everything is
rendered from nginx/ and systemd/ exactly as for a server, and installed into DIR: nginx's
config, the units (each process runs its unit's command line, see ops.units) and app.env (the
environment of every process and of `manage`). honcho supervises them; Ctrl-C stops
everything. Nothing is removed: database, static files and logs stay in DIR for the next run.
"""

import argparse
import http.client
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import honcho.environ

from ops import render
from ops.postgres import LocalPostgres, PostgresError
from ops.tools import APP_DIR, REPO_DIR, ToolMissing, UnixHTTPConnection, find_tool, nofile_limit
from ops.units import unit_command


class StackError(Exception):
    pass


class Layout:
    """Where everything of one stack lives under its directory."""

    def __init__(self, root):
        self.root = Path(root).resolve()
        self.pg = self.root / "postgres"
        self.redis = self.root / "redis"
        self.redis_socket = self.redis / "redis.sock"
        self.run = self.root / "run"
        self.static = self.root / "static"
        self.logs = self.root / "logs"
        self.nginx = self.root / "nginx"
        self.systemd = self.root / "systemd"
        self.secret_key = self.root / "secret_key"
        self.env_file = self.root / "app.env"
        self.procfile = self.root / "Procfile"
        self.nginx_access_log = self.logs / "nginx-access.log"


def read_env_file(path):
    """KEY=value lines as the processes see them (honcho's own parser)."""
    return honcho.environ.parse(Path(path).read_text())


class Stack:
    def __init__(self, root, port=8080, daphne=2, overrides=None, demo_password=None):
        self.layout = Layout(root)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.demo_password = demo_password
        self.as_root = os.geteuid() == 0
        self.nofile = nofile_limit(65536)
        self.postgres = LocalPostgres(self.layout.pg)
        self.variables = render.variables_from(overrides={**self._local_variables(daphne), **(overrides or {})})

    def _secret_key(self):
        path = self.layout.secret_key
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(50))
        return path.read_text().strip()

    def _local_variables(self, daphne):
        """The template variables that turn a server's config into one for this directory."""
        lay = self.layout
        return {
            "app_dir": str(APP_DIR),
            "app_venv_dir": sys.prefix,
            "app_run_dir": str(lay.run),
            "app_static_root": str(lay.static),
            "app_env_file": str(lay.env_file),
            "app_server_names": ["127.0.0.1", "localhost"],
            # Plain HTTP on loopback: the TLS-only protections would lock the browser out.
            "app_https": False,
            "app_secret_key": self._secret_key(),
            # No TCP: PostgreSQL and Redis listen on unix sockets inside DIR only.
            "app_database_url": self.postgres.url,
            "app_redis_url": f"unix://{lay.redis_socket}",
            "app_extra_env": {"PGHOST": str(self.postgres.socket_dir), "PYTHONUNBUFFERED": "1"},
            "daphne_instances": daphne,
            "systemd_unit_dir": str(lay.systemd),
            "systemd_tmpfiles_dir": str(lay.systemd),
            "nginx_conf_dir": str(lay.nginx),
            # As root, nginx's workers would run as "nobody" anyway; say so. Otherwise they
            # run as the invoking user and the directive must be absent.
            "nginx_user": "nobody nogroup" if self.as_root else None,
            # This process's hard limit caps its children (20000 on some CI machines): each worker
            # gets what it may open, less room for files.
            "nginx_worker_rlimit_nofile": self.nofile,
            "nginx_worker_connections": self.nofile - 1024,
            "nginx_pid_file": str(lay.nginx / "nginx.pid"),
            "nginx_error_log": "stderr",
            "nginx_access_log": str(lay.nginx_access_log),
            "nginx_temp_dir": str(lay.nginx / "tmp"),
            "nginx_listen_address": "127.0.0.1",
            "nginx_http_port": self.port,
        }

    def installed(self, template):
        """Where the output of `template` (e.g. "systemd/app-http.service.j2") is installed."""
        (output,) = [o for o in render.outputs(self.variables) if o["template"] == template]
        return Path(output["dest"])

    # --- preparation --------------------------------------------------------------------
    def backlog_warning(self, somaxconn_file="/proc/sys/net/core/somaxconn"):
        """A plain-words warning when the kernel caps daphne's listen backlog below what it asks
        for (a storm of connects beyond it gets 502 from nginx), or None."""
        try:
            somaxconn = int(Path(somaxconn_file).read_text())
        except (OSError, ValueError):
            return None
        wanted = int(self.variables["daphne_listen_backlog"])
        if somaxconn >= wanted:
            return None
        return (f"stack: net.core.somaxconn is {somaxconn}, below daphne's listen backlog of {wanted}: more than "
                f"{somaxconn} handshakes arriving at one daphne at once get 502 from nginx. To hold a storm of "
                f"{self.variables['app_max_sockets']} sockets: sysctl -w net.core.somaxconn={wanted} "
                f"(the Ansible common role sets it on servers).")

    def prepare(self):
        lay = self.layout
        warning = self.backlog_warning()
        if warning:
            print(warning, file=sys.stderr, flush=True)
        for directory in (lay.root, lay.redis, lay.run, lay.static, lay.logs, lay.nginx / "tmp"):
            directory.mkdir(parents=True, exist_ok=True)
        # Secret key, database and sockets are nobody else's business; only the PostgreSQL
        # user (when we are root) may pass through to its own directory.
        traversable = 0o711 if self.as_root else 0o700
        lay.root.chmod(traversable)
        for private in (lay.redis, lay.logs, lay.nginx):
            private.chmod(0o700)
        lay.run.chmod(traversable)  # as root, nginx's workers ("nobody") connect here
        # To each file's dest, all inside DIR. Not the container entrypoint: no image here.
        render.render(self.variables, targets=("nginx", "systemd", "env"))
        lay.env_file.chmod(0o600)
        lay.procfile.write_text("".join(f"{name}: {command}\n" for name, command in self.processes().items()))

    def environment(self):
        return read_env_file(self.layout.env_file)

    def processes(self):
        lay = self.layout
        redis_server = find_tool("redis-server", "install it (Debian: apt install redis-server)")
        nginx = find_tool("nginx", "install it (Debian: apt install nginx)")
        processes = {
            "redis": shlex.join([
                redis_server, "--port", "0", "--unixsocket", str(lay.redis_socket), "--unixsocketperm", "700",
                "--dir", str(lay.redis), "--save", "", "--appendonly", "no", "--maxclients", "10000",
            ]),
            "http": unit_command(self.installed("systemd/app-http.service.j2")),
        }
        daphne_unit = self.installed("systemd/app-daphne@.service.j2")
        for number, instance in enumerate(self.variables["daphne_instance_ids"], start=1):
            processes[f"daphne{number}"] = unit_command(daphne_unit, str(instance))
        nginx_conf = self.installed("nginx/nginx.conf.j2")
        processes["nginx"] = shlex.join([nginx, "-c", str(nginx_conf), "-e", "stderr", "-g", "daemon off;"])
        return processes

    # --- Django ---------------------------------------------------------------------------
    def manage(self, *args):
        result = subprocess.run([sys.executable, "manage.py", *args], capture_output=True, text=True,
                                env={**os.environ, **self.environment()}, cwd=APP_DIR, check=False)
        if result.returncode != 0:
            raise StackError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def prepare_django(self):
        self.manage("migrate", "--verbosity", "0")  # creates the token cache table too
        self.manage("collectstatic", "--noinput", "--verbosity", "0")
        seed = ["seed_demo", "--allow-production"] + (["--password", self.demo_password] if self.demo_password else [])
        return self.manage(*seed)

    # --- running ----------------------------------------------------------------------------
    def app_connections(self):
        """An HTTP connection to each daphne instance and to the HTTP server, on the socket
        or port the units listen on."""
        v = self.variables

        def connection(unix_path, tcp_address, tcp_port):
            if tcp_port is None:
                return UnixHTTPConnection(unix_path, timeout=2)
            host = "127.0.0.1" if tcp_address in ("0.0.0.0", "::") else tcp_address  # noqa: S104
            return http.client.HTTPConnection(host, tcp_port, timeout=2)

        daphnes = [
            connection(v["daphne_socket"].replace("%i", str(instance)), v["daphne_tcp_address"],
                       None if v["daphne_tcp_port"] is None else instance)
            for instance in v["daphne_instance_ids"]
        ]
        return [connection(v["http_socket"], v["http_tcp_address"], v["http_tcp_port"]), *daphnes]

    def ready(self):
        """nginx answers, every daphne and the HTTP server answer directly, health is ok."""
        for connection in self.app_connections():
            connection.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
            if connection.getresponse().status != 200:
                return False
        with urllib.request.urlopen(self.url + "/api/websocket/health/", timeout=5) as response:  # noqa: S310
            return response.status == 200

    def wait_ready(self, honcho, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if honcho.poll() is not None:
                raise StackError("a process of the stack exited during start-up; its output is above")
            try:
                if self.ready():
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise StackError(f"the stack was not healthy after {timeout}s: see the output above and "
                         f"{self.url}/api/websocket/health/")

    def up(self):
        # Ctrl-C and `kill` (SIGTERM) both stop the stack cleanly. SIGINT is set explicitly:
        # a launcher started in the background by a shell inherits it ignored.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        self.prepare()
        self.postgres.start()
        honcho, interrupted = None, False
        try:
            print(self.prepare_django(), flush=True)
            honcho = subprocess.Popen(
                [str(Path(sys.prefix) / "bin" / "honcho"), "start", "--no-colour", "-f", str(self.layout.procfile),
                 "-e", str(self.layout.env_file), "-d", str(APP_DIR)],
            )
            self.wait_ready(honcho)
            self.banner()
            honcho.wait()
        except KeyboardInterrupt:
            interrupted = True
        finally:
            # A second Ctrl-C must not cut the clean-up short (PostgreSQL would keep running).
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if honcho is not None and honcho.poll() is None:
                honcho.send_signal(signal.SIGINT)
                honcho.wait()
            self.postgres.stop()
            print(f"stack stopped; its data stays in {self.layout.root}", flush=True)
        if interrupted:
            return 130  # the shell's convention for "stopped by Ctrl-C"
        # honcho only returns on its own when a process died: report it as a failure.
        return honcho.returncode or 1 if honcho is not None else 1

    def banner(self):
        daphnes = self.variables["daphne_instances"]
        print(
            f"\n  {self.variables['app_name']} is up: nginx -> {daphnes} daphne + gunicorn/uvicorn, Redis, PostgreSQL\n"
            f"  Demo page:  {self.url}/   (users and passwords above)\n"
            f"  Health:     {self.url}/api/websocket/health/\n"
            f"  Diagnose:   make stack-manage ARGS='wsdoctor {self.url}'\n"
            f"  Manage:     make stack-manage ARGS='createsuperuser'   (any manage.py command)\n"
            f"  Logs:       this terminal; nginx access log: {self.layout.nginx_access_log}\n"
            f"  READY {self.url}\n",
            flush=True,
        )


def manage_running(layout, args):
    """manage.py with the environment of the stack in layout (which must be running for
    anything that touches the database)."""
    if not layout.env_file.exists():
        raise StackError(f"no stack in {layout.root}: start one with `make stack` first")
    env = {**os.environ, **read_env_file(layout.env_file)}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=APP_DIR, env=env, check=False).returncode


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ops.stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=str(REPO_DIR / ".stack"), help="state directory (default: .stack)")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the stack in the foreground (Ctrl-C stops it)")
    up.add_argument("--port", type=int, default=8080, help="nginx port on 127.0.0.1 (default 8080)")
    up.add_argument("--daphne", type=int, default=2, help="daphne instances (default 2)")
    up.add_argument("--demo-password", help="one password for every demo user instead of random ones")
    up.add_argument("--set", action="append", default=[], type=render.parse_set, metavar="KEY=VALUE",
                    help="template variable, as for python -m ops.render (e.g. nginx_ws_read_timeout=5)")
    manage = commands.add_parser("manage", help="run manage.py with the running stack's environment")
    manage.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    try:
        if args.command == "manage":
            return manage_running(Layout(args.dir), args.args)
        stack = Stack(args.dir, args.port, args.daphne, dict(args.set), args.demo_password)
        return stack.up()
    except (StackError, PostgresError, ToolMissing, render.RenderError) as error:
        print(f"stack: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
