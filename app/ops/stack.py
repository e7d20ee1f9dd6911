"""The production topology on loopback, without root or containers: `make stack`.

    python -m ops.stack up [--dir DIR] [--port 8080] [--daphne 2] [--set KEY=VALUE ...]
    python -m ops.stack manage [--dir DIR] createsuperuser      # any manage.py command

`up` starts redis-server, a PostgreSQL cluster of its own (initdb + pg_ctl), N daphne
instances and the HTTP server with the production settings, and nginx on 127.0.0.1:PORT.
nginx, daphne and the HTTP server run from the nginx/ and systemd/ templates, rendered
here exactly as for a server: each process's command line is read from its rendered
systemd unit. honcho supervises them; Ctrl-C stops everything. Nothing is removed: the
database, static files and logs stay in DIR for the next run.
"""

import argparse
import http.client
import os
import resource
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import honcho.environ

from ops import render

APP_DIR = Path(__file__).resolve().parents[1]
PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


class StackError(Exception):
    pass


def find_tool(name, hint):
    for directory in [None, *PG_BIN_DIRS]:
        found = shutil.which(name, path=str(directory) if directory else None)
        if found:
            return found
    raise StackError(f"{name} not found: {hint}")


class Layout:
    """Where everything of one stack lives under its directory."""

    def __init__(self, root):
        self.root = Path(root).resolve()
        self.pg = self.root / "postgres"
        self.pg_data = self.pg / "data"
        self.pg_socket_dir = self.pg / "run"
        self.redis = self.root / "redis"
        self.redis_socket = self.redis / "redis.sock"
        self.run = self.root / "run"
        self.static = self.root / "static"
        self.logs = self.root / "logs"
        self.nginx = self.root / "nginx"
        self.systemd = self.root / "systemd"
        self.secret_key = self.root / "secret_key"
        self.env_file = self.root / "stack.env"
        self.procfile = self.root / "Procfile"
        self.nginx_access_log = self.logs / "nginx-access.log"


def parse_unit(path):
    """The [Service] settings of a rendered unit: {key: [values]} (keys may repeat)."""
    settings, section = {}, None
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service":
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def expand_specifiers(value, instance=""):
    return value.replace("%i", instance).replace("%H", socket.gethostname()).replace("%%", "%")


def unit_command(path, instance=""):
    """A shell command doing what systemd does for the unit: Environment, WorkingDirectory,
    ExecStartPre, then exec ExecStart. Sockets and lock files are cleaned the same way."""
    unit = parse_unit(path)
    steps = [f"cd {shlex.quote(unit['WorkingDirectory'][0])}"]
    steps += [expand_specifiers(pre, instance) for pre in unit.get("ExecStartPre", [])]
    env = [shlex.quote(expand_specifiers(item, instance)) for item in unit.get("Environment", [])]
    start = shlex.join(shlex.split(expand_specifiers(unit["ExecStart"][0], instance)))
    steps.append(f"exec env {' '.join(env)} {start}")
    return " && ".join(steps)


def tail(path, lines=20):
    """The last lines of a log file ("" when there is none yet), for error messages."""
    if not path or not Path(path).exists():
        return ""
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])


def nofile_limit(wanted):
    """Raise this process's (and so its children's) open-file limit, like LimitNOFILE=."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


class Stack:
    def __init__(self, root, port=8080, daphne=2, overrides=None, demo_password=None):
        self.layout = Layout(root)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.demo_password = demo_password
        self.as_root = os.geteuid() == 0
        self.pg_user = "postgres" if self.as_root else None  # PostgreSQL refuses to run as root
        self.nofile = nofile_limit(65536)
        overrides = overrides or {}
        local = self._local_variables(daphne, overrides.get("app_name", render.defaults()["app_name"]))
        self.variables = render.variables_from(overrides={**local, **overrides})
        self.pg_ctl = find_tool("pg_ctl", "install PostgreSQL's server (Debian: apt install postgresql-15)")

    def _local_variables(self, daphne, app_name):
        """The template variables that turn a server's config into one for this directory."""
        lay = self.layout
        return {
            "run_dir": str(lay.run),
            "static_root": str(lay.static),
            "app_dir": str(APP_DIR),
            "venv_dir": sys.prefix,
            "daphne_instances": daphne,
            # As root, nginx's workers would run as "nobody" anyway; say so. Otherwise they
            # run as the invoking user and the directive must be absent.
            "nginx_user": "nobody nogroup" if self.as_root else None,
            "nginx_worker_rlimit_nofile": self.nofile,
            "nginx_worker_connections": min(16384, self.nofile // 2),
            "nginx_pid_file": str(lay.nginx / "nginx.pid"),
            "nginx_error_log": "stderr",
            "nginx_access_log": str(lay.nginx_access_log),
            # Where render() writes the site file, which nginx.conf must include.
            "nginx_site_conf": str(lay.nginx / render.output_name(Path("app.conf.j2"), app_name)),
            "nginx_temp_dir": str(lay.nginx / "tmp"),
            "nginx_tls": False,
            "nginx_listen_address": "127.0.0.1",
            "nginx_http_port": self.port,
            "nginx_server_names": ["127.0.0.1", "localhost"],
        }

    # --- preparation --------------------------------------------------------------------
    def prepare(self):
        lay = self.layout
        for directory in (lay.root, lay.redis, lay.run, lay.static, lay.logs, lay.nginx / "tmp", lay.pg_socket_dir):
            directory.mkdir(parents=True, exist_ok=True)
        # Secret key, database and sockets are nobody else's business; only the PostgreSQL
        # user (when we are root) may pass through to its own directory.
        traversable = 0o711 if self.as_root else 0o700
        lay.root.chmod(traversable)
        for private in (lay.redis, lay.logs, lay.nginx, lay.pg):
            private.chmod(0o700)
        lay.run.chmod(traversable)  # as root, nginx's workers ("nobody") connect here
        if not lay.secret_key.exists():
            lay.secret_key.touch(mode=0o600)
            lay.secret_key.write_text(secrets.token_urlsafe(50))
        render.render(self.variables, lay.nginx, ["nginx"])
        render.render(self.variables, lay.systemd, ["systemd"])
        lay.env_file.write_text("".join(f"{key}={value}\n" for key, value in self.environment().items()))
        lay.env_file.chmod(0o600)
        lay.procfile.write_text("".join(f"{name}: {command}\n" for name, command in self.processes().items()))

    def environment(self):
        lay, port = self.layout, self.port
        return {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": lay.secret_key.read_text().strip(),
            # No TCP: PostgreSQL and Redis listen on unix sockets inside DIR only.
            "DATABASE_URL": "postgres://stack@/stack",
            "PGHOST": str(lay.pg_socket_dir),
            "REDIS_URL": f"unix://{lay.redis_socket}",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{port},http://localhost:{port}",
            "STATIC_ROOT": str(lay.static),
            # Plain HTTP on loopback: the TLS-only protections would lock the browser out.
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "SECURE_HSTS_SECONDS": "0",
            "PYTHONUNBUFFERED": "1",
        }

    def processes(self):
        lay = self.layout
        name = self.variables["app_name"]
        redis_server = find_tool("redis-server", "install it (Debian: apt install redis-server)")
        nginx = find_tool("nginx", "install it (Debian: apt install nginx)")
        processes = {
            "redis": shlex.join([
                redis_server, "--port", "0", "--unixsocket", str(lay.redis_socket), "--unixsocketperm", "700",
                "--dir", str(lay.redis), "--save", "", "--appendonly", "no", "--maxclients", "10000",
            ]),
            "http": unit_command(lay.systemd / f"{name}-http.service"),
        }
        for instance in range(1, self.variables["daphne_instances"] + 1):
            processes[f"daphne{instance}"] = unit_command(lay.systemd / f"{name}-daphne@.service", str(instance))
        processes["nginx"] = shlex.join(
            [nginx, "-c", str(lay.nginx / "nginx.conf"), "-e", "stderr", "-g", "daemon off;"]
        )
        return processes

    # --- PostgreSQL (initdb + pg_ctl, outside honcho: migrations need it first) --------
    def _as_pg_user(self, args):
        return ["runuser", "-u", self.pg_user, "--", *args] if self.pg_user else args

    def start_postgres(self):
        lay = self.layout
        if self.pg_user:
            for path in [lay.pg, *lay.pg.rglob("*")]:
                shutil.chown(path, self.pg_user, self.pg_user)
            probe = subprocess.run(self._as_pg_user(["test", "-w", str(lay.pg)]), check=False)
            if probe.returncode != 0:
                raise StackError(
                    f"PostgreSQL refuses to run as root, and the user {self.pg_user} cannot reach {lay.pg}: "
                    f"choose a --dir that user can traverse (e.g. under /tmp or /var/tmp)."
                )
        if not (lay.pg_data / "PG_VERSION").exists():
            initdb = find_tool("initdb", "install PostgreSQL's server (Debian: apt install postgresql-15)")
            self._run(self._as_pg_user([initdb, "-D", str(lay.pg_data), "-U", "stack", "--auth=trust",
                                        "--encoding=UTF8", "--no-instructions"]), "initdb")
        if self._pg_ctl("status").returncode == 0:
            return  # left running by a launcher that was killed: reuse it
        options = f"-c listen_addresses='' -k {lay.pg_socket_dir} -c max_connections=300 -c fsync=off"
        result = self._pg_ctl("start", "-w", "-t", "60", "-o", options, "-l", str(lay.pg / "postgres.log"))
        if result.returncode != 0:
            raise StackError(f"PostgreSQL did not start:\n{result.stdout}{tail(lay.pg / 'postgres.log')}")
        createdb = find_tool("createdb", "install PostgreSQL's client")
        subprocess.run([createdb, "-h", str(lay.pg_socket_dir), "-U", "stack", "stack"], capture_output=True,
                       check=False)  # fails harmlessly when it exists

    def stop_postgres(self):
        self._pg_ctl("stop", "-m", "fast", "-w")

    def _pg_ctl(self, *args):
        return subprocess.run(self._as_pg_user([self.pg_ctl, "-D", str(self.layout.pg_data), *args]),
                              capture_output=True, text=True, check=False)

    def _run(self, args, what, env=None):
        result = subprocess.run(args, capture_output=True, text=True, env=env, cwd=APP_DIR, check=False)
        if result.returncode != 0:
            raise StackError(f"{what} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    # --- Django ---------------------------------------------------------------------------
    def manage(self, *args):
        return self._run([sys.executable, "manage.py", *args], f"manage.py {' '.join(args)}",
                         env={**os.environ, **self.environment()})

    def prepare_django(self):
        self.manage("migrate", "--verbosity", "0")
        self.manage("createcachetable")
        self.manage("collectstatic", "--noinput", "--verbosity", "0")
        seed = ["seed_demo", "--allow-production"] + (["--password", self.demo_password] if self.demo_password else [])
        return self.manage(*seed)

    # --- running ----------------------------------------------------------------------------
    def ready(self):
        """nginx answers, every daphne and the HTTP server answer on their sockets, health is ok."""
        sockets = [self.layout.run / "http.sock"] + [
            self.layout.run / f"daphne-{i}.sock" for i in range(1, self.variables["daphne_instances"] + 1)
        ]
        for path in sockets:
            connection = UnixHTTPConnection(str(path), timeout=2)
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
        self.start_postgres()
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
            self.stop_postgres()
            print(f"stack stopped; its data stays in {self.layout.root}", flush=True)
        if interrupted:
            return 130  # the shell's convention for "stopped by Ctrl-C"
        # honcho only returns on its own when a process died: report it as a failure.
        return honcho.returncode or 1 if honcho is not None else 1

    def banner(self):
        daphnes = self.variables["daphne_instances"]
        print(
            f"\n  channels-stack is up: nginx -> {daphnes} daphne + gunicorn/uvicorn, Redis, PostgreSQL\n"
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
    # Parsed by honcho's own reader, so manage.py sees exactly what the processes see.
    env = {**os.environ, **honcho.environ.parse(layout.env_file.read_text())}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=APP_DIR, env=env, check=False).returncode


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ops.stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=str(APP_DIR.parent / ".stack"), help="state directory (default: .stack)")
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
    except (StackError, render.RenderError) as error:
        print(f"stack: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
