"""The production topology on loopback, without root or containers: `make stack`.

    python -m ops.stack [--dir DIR] up [--port 8080] [--daphne 2] [--vars FILE ...] [--set KEY=VALUE ...]
    python -m ops.stack [--dir DIR] manage createsuperuser      # any manage.py command
    python -m ops.stack [--dir DIR] status                      # each process: state, pid, uptime
    python -m ops.stack [--dir DIR] restart daphne1             # stop, then start, one process
    python -m ops.stack [--dir DIR] ctl tail -f nginx           # any supervisorctl command

`up` starts redis-server, a PostgreSQL cluster of its own, N daphne instances and the HTTP
server with the production settings, and nginx on 127.0.0.1:PORT. Everything is rendered from
nginx/ and systemd/ exactly as for a server, and installed into DIR: nginx's config, the units
(each process runs its unit's command line, see ops.units) and app.env (the environment of
every process and of `manage`). supervisord runs them (ops.supervise): a process that dies is
restarted after its unit's RestartSec= while the others keep serving, as systemd does on a
server; Ctrl-C stops everything. Nothing is removed: database, static files and logs stay in
DIR for the next run.

Your variables (`--vars FILE`, then `--set`; `make stack VARS='my-vars.yml'`) go over
ops/defaults.yml as for a server, except the ones that place the stack in DIR (LAUNCHER_OWNED:
refused, with the option to use instead); a mapping such as `app_extra_env` is merged with the
launcher's, key by key.
"""

import argparse
import os
import secrets
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import yaml

from ops import render
from ops.postgres import INSTALL_HINT, LocalPostgres, PostgresError
from ops.supervise import Program, Supervisor, SupervisorError, unit_rules, write_programs
from ops.supervise import config as supervisord_config
from ops.tools import APP_DIR, REPO_DIR, ToolMissing, find_tool, http_connection, nofile_limit, port_in_use, tail
from ops.units import parse_unit, unit_command

DEFAULT_DIR = REPO_DIR / ".stack"
# Restart rules of the processes that have no unit of ours. Redis: Debian's redis-server.service
# says Restart=always. nginx and PostgreSQL: Debian's units do not restart them; here a crash
# (not a clean stop) brings them back, as the app's units do. One second: the app waits on
# them, and a process that crashes at once does not spin.
REDIS_RULES = {"restart": "always", "restart_sec": 1, "origin": "the local stack's rule"}
NGINX_RULES = {"restart": "on-failure", "restart_sec": 1, "origin": "the local stack's rule"}
POSTGRES_RULES = {"restart": "on-failure", "restart_sec": 1, "origin": "the local stack's rule"}


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
        self.nginx_access_log = self.logs / "nginx-access.log"
        self.supervisor = self.root / "supervisor"
        self.supervisord_conf = self.supervisor / "supervisord.conf"
        self.supervisor_socket = self.supervisor / "supervisord.sock"
        self.programs = self.supervisor / "programs.json"
        self.supervisord_log = self.logs / "supervisord.log"


def read_env_file(path):
    """KEY=value lines of the rendered app.env, as systemd's EnvironmentFile= reads them:
    comments and blank lines skipped, one pair of surrounding quotes removed."""
    env = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


class StackPostgres(LocalPostgres):
    """The stack's cluster (ops.postgres) in the foreground under supervisord rather than
    started by pg_ctl, so a killed postmaster comes back like any other process of the stack."""

    def initialize(self):
        """LocalPostgres.prepare(); a cluster an older launcher left running under pg_ctl is stopped."""
        self.prepare()
        if self._pg_ctl("status").returncode == 0:
            self.stop()

    def command(self):
        """The postmaster in the foreground, with LocalPostgres's options."""
        return [find_tool("postgres", INSTALL_HINT), "-D", str(self.data), *self.server_options()]

    def accepting(self):
        pg_isready = find_tool("pg_isready", "install PostgreSQL's client")
        return subprocess.run([pg_isready, "-q", "-h", str(self.socket_dir), "-U", self.user, "-d", "postgres"],
                              check=False).returncode == 0


# What the launcher sets to put the stack in its directory on loopback: yours would break it.
LAUNCHER_OWNED = {
    "app_dir": None, "app_venv_dir": None, "app_run_dir": "--dir", "app_static_root": "--dir",
    "app_env_file": "--dir", "app_secret_key": None, "app_database_url": None, "app_redis_url": None,
    "daphne_instances": "--daphne", "systemd_unit_dir": "--dir", "systemd_tmpfiles_dir": "--dir",
    "nginx_conf_dir": "--dir", "nginx_user": None, "nginx_pid_file": "--dir", "nginx_error_log": None,
    "nginx_access_log": "--dir", "nginx_temp_dir": "--dir", "nginx_listen_address": None,
    "nginx_http_port": "--port",
}


def merged_variables(launcher, user):
    """The launcher's variables with the user's over them: mappings merged key by key (the user's
    keys win), the launcher's own placement refused, every refusal at once."""
    refused = [f"{name} is set by the local stack itself" + (f" (use {LAUNCHER_OWNED[name]})" if LAUNCHER_OWNED[name]
                                                            else "")
               for name in sorted(set(user) & set(LAUNCHER_OWNED))]
    if refused:
        raise StackError("these variables cannot be given to the local stack: " + "; ".join(refused))
    merged = dict(launcher)
    for name, value in user.items():
        if isinstance(merged.get(name), dict) and isinstance(value, dict):
            merged[name] = {**merged[name], **value}
        else:
            merged[name] = value
    return merged


class Stack:
    def __init__(self, root, port=8080, daphne=2, overrides=None, demo_password=None, vars_files=()):
        self.layout = Layout(root)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.demo_password = demo_password
        self.as_root = os.geteuid() == 0
        self.nofile = nofile_limit(65536)
        self.postgres = StackPostgres(self.layout.pg)
        user = {}
        for path in vars_files:
            try:
                user.update(render.read_vars_file(path))
            except OSError as error:
                raise StackError(f"--vars {path}: {error.strerror}") from None
            except yaml.YAMLError as error:
                raise StackError(f"--vars {path} is not valid YAML: {error}") from None
        user.update(overrides or {})
        self.variables = render.variables_from(overrides=merged_variables(self._local_variables(daphne), user))

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
        for directory in (lay.root, lay.redis, lay.run, lay.static, lay.logs, lay.nginx / "tmp", lay.supervisor):
            directory.mkdir(parents=True, exist_ok=True)
        # Secret key, database and sockets are nobody else's business; only the PostgreSQL
        # user (when we are root) may pass through to its own directory.
        traversable = 0o711 if self.as_root else 0o700
        lay.root.chmod(traversable)
        for private in (lay.redis, lay.logs, lay.nginx, lay.supervisor):
            private.chmod(0o700)
        lay.run.chmod(traversable)  # as root, nginx's workers ("nobody") connect here
        # To each file's dest, all inside DIR. Not the container entrypoint: no image here.
        render.render(self.variables, targets=("nginx", "systemd", "env"))
        lay.env_file.chmod(0o600)
        (lay.root / "Procfile").unlink(missing_ok=True)  # honcho's, from launchers before supervisord
        programs = self.programs()
        write_programs(lay.programs, programs)
        listener = [sys.executable, "-m", "ops.supervise", "events", str(lay.programs), str(lay.supervisord_log)]
        lay.supervisord_conf.write_text(supervisord_config(
            programs, socket=lay.supervisor_socket, pidfile=lay.supervisor / "supervisord.pid",
            logfile=lay.supervisord_log, minfds=self.nofile, listener_argv=listener, listener_dir=REPO_DIR,
        ))

    def environment(self):
        return read_env_file(self.layout.env_file)

    def processes(self):
        """{name: argv}: redis-server, the HTTP server and each daphne (a shell running exactly
        their unit's command line), nginx."""
        lay = self.layout
        redis_server = find_tool("redis-server", "install it (Debian: apt install redis-server)")
        nginx = find_tool("nginx", "install it (Debian: apt install nginx)")
        processes = {
            "redis": [
                redis_server, "--port", "0", "--unixsocket", str(lay.redis_socket), "--unixsocketperm", "700",
                "--dir", str(lay.redis), "--save", "", "--appendonly", "no", "--maxclients", "10000",
            ],
            "http": ["/bin/sh", "-c", unit_command(self.installed("systemd/app-http.service.j2"))],
        }
        daphne_unit = self.installed("systemd/app-daphne@.service.j2")
        for number, instance in enumerate(self.variables["daphne_instance_ids"], start=1):
            processes[f"daphne{number}"] = ["/bin/sh", "-c", unit_command(daphne_unit, str(instance))]
        nginx_conf = self.installed("nginx/nginx.conf.j2")
        processes["nginx"] = [nginx, "-c", str(nginx_conf), "-e", "stderr", "-g", "daemon off;"]
        return processes

    def programs(self):
        """processes() and PostgreSQL as supervisord runs them: each with the restart and stop
        rules of its unit (the app's) or the stack's own (redis, nginx, PostgreSQL). The app's
        processes start once the database is migrated; PostgreSQL's log stays in its own file."""
        lay = self.layout
        argv = self.processes()
        endpoints = self.app_endpoints()
        units = {"http": parse_unit(self.installed("systemd/app-http.service.j2")),
                 "daphne": parse_unit(self.installed("systemd/app-daphne@.service.j2"))}
        programs = [
            # First up, last down: every other process may use it.
            Program("postgres", self.postgres.command(), **POSTGRES_RULES, priority=50, user=self.postgres.os_user,
                    # SIGINT: fast shutdown, what `pg_ctl stop -m fast` sends.
                    stop_signal="INT", stop_timeout=60, directory=str(lay.pg), log=str(self.postgres.log),
                    stream=False),
            Program("redis", argv["redis"], **REDIS_RULES, priority=100, log=str(lay.logs / "redis.log")),
        ]
        for name in argv:
            if name == "http" or name.startswith("daphne"):
                rules = unit_rules(units["http" if name == "http" else "daphne"])
                programs.append(Program(name, argv[name], **rules, priority=200, autostart=False,
                                        log=str(lay.logs / f"{name}.log"), endpoint=endpoints[name]))
        # SIGTERM: nginx's fast shutdown (SIGQUIT, Debian's, waits for every WebSocket to close).
        programs.append(Program("nginx", argv["nginx"], **NGINX_RULES, priority=300, autostart=False,
                                log=str(lay.logs / "nginx.log"), endpoint={"host": "127.0.0.1", "port": self.port}))
        return programs

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
    def app_endpoints(self):
        """{name: endpoint} of the HTTP server and each daphne instance: the socket or port
        their units listen on (ops.tools.http_connection)."""
        v = self.variables

        def endpoint(unix_path, tcp_address, tcp_port):
            if tcp_port is None:
                return {"unix": unix_path}
            host = "127.0.0.1" if tcp_address in ("0.0.0.0", "::") else tcp_address  # noqa: S104
            return {"host": host, "port": tcp_port}

        endpoints = {"http": endpoint(v["http_socket"], v["http_tcp_address"], v["http_tcp_port"])}
        for number, instance in enumerate(v["daphne_instance_ids"], start=1):
            endpoints[f"daphne{number}"] = endpoint(v["daphne_socket"].replace("%i", str(instance)),
                                                    v["daphne_tcp_address"],
                                                    None if v["daphne_tcp_port"] is None else instance)
        return endpoints

    def app_connections(self):
        """An HTTP connection to the HTTP server and to each daphne instance."""
        return [http_connection(endpoint, timeout=2) for endpoint in self.app_endpoints().values()]

    def app_answers(self):
        """Every daphne and the HTTP server answer /healthz directly."""
        for connection in self.app_connections():
            connection.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
            if connection.getresponse().status != 200:
                return False
        return True

    def ready(self):
        """nginx answers, every daphne and the HTTP server answer directly, health is ok."""
        if not self.app_answers():
            return False
        with urllib.request.urlopen(self.url + "/api/websocket/health/", timeout=5) as response:  # noqa: S310
            return response.status == 200

    @property
    def supervisor(self):
        return Supervisor(self.layout.supervisor_socket)

    def refuse_to_start(self):
        """Why `up` must not start anything: the port is taken, or a stack runs in DIR already."""
        try:
            taken = port_in_use("127.0.0.1", self.port)
        except OSError as error:
            raise StackError(f"nginx could not listen on 127.0.0.1:{self.port} ({error.strerror}): "
                             f"choose another port (make stack STACK_PORT=9000, or --port 9000)") from None
        if taken:
            raise StackError(f"port {self.port} on 127.0.0.1 is already in use (another `make stack`, or another "
                             f"server): stop that, or choose another port (make stack STACK_PORT=9000, or "
                             f"--port 9000). Nothing was started.")
        if self.supervisor.answering():
            pid = self.supervisor.pid()
            raise StackError(f"a stack is already running in {self.layout.root} (supervisord, pid {pid}): stop it "
                             f"(Ctrl-C where it runs, or kill {pid}) or choose another directory "
                             f"(STACK_DIR=... or --dir). Nothing was started.")

    def check_started(self, supervisord):
        """StackError when supervisord or one of its processes gave up during start-up."""
        if supervisord.poll() is not None:
            raise StackError("supervisord exited during start-up; its output is above")
        try:
            states = self.supervisor.states()
        except OSError:
            return  # its socket is not there yet
        failed = sorted(name for name, state in states.items() if state in ("BACKOFF", "FATAL", "EXITED"))
        if failed:
            logs = [str(Path(p.log)) for p in self.programs() if p.name in failed and p.log]
            raise StackError(f"{', '.join(failed)} exited during start-up; the output is above and in "
                             f"{', '.join(logs) or self.layout.logs}:\n{tail(logs[0] if logs else None)}")

    def wait_postgres(self, supervisord, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_started(supervisord)
            if self.postgres.accepting():
                self.postgres.create_database()
                return
            time.sleep(0.2)
        raise StackError(f"PostgreSQL did not accept connections after {timeout}s:\n{tail(self.postgres.log)}")

    def wait_ready(self, supervisord, timeout=90, app_only=False):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_started(supervisord)
            try:
                if self.app_answers() if app_only else self.ready():
                    return
            except OSError:
                pass
            time.sleep(0.2)
        if app_only:
            raise StackError(f"daphne or the HTTP server did not answer /healthz on its socket after {timeout}s: "
                             f"see the output above and {self.layout.logs}")
        raise StackError(f"the stack was not healthy after {timeout}s: see the output above and "
                         f"{self.url}/api/websocket/health/")

    def up(self):
        # Ctrl-C and `kill` (SIGTERM) both stop the stack cleanly. SIGINT is set explicitly:
        # a launcher started in the background by a shell inherits it ignored.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        self.refuse_to_start()
        self.prepare()
        self.postgres.initialize()
        supervisord, copier, interrupted = None, None, False
        try:
            # Every process gets app.env, as honcho's -e gave it (the units' EnvironmentFile=).
            # Its output (the listener's stream) comes through a pipe: reopening a file this
            # process writes too would write at its own offset, over our lines.
            supervisord = subprocess.Popen(
                [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.layout.supervisord_conf)],
                env={**os.environ, **self.environment()}, cwd=APP_DIR, stdout=subprocess.PIPE,
            )
            copier = threading.Thread(target=copy_lines, args=(supervisord.stdout, sys.stdout.buffer), daemon=True)
            copier.start()
            self.wait_postgres(supervisord)
            print(self.prepare_django(), flush=True)
            # The app first, nginx once each of its upstreams answers: a client already knocking
            # (a demo tab left open reconnects at once) reached an nginx whose upstream sockets
            # were not there yet, and a healthy start logged "[crit] connect() ... failed".
            for program in self.programs():
                if not program.autostart and program.name != "nginx":
                    self.supervisor.start(program.name, wait=False)
            self.wait_ready(supervisord, app_only=True)
            self.supervisor.start("nginx", wait=False)
            self.wait_ready(supervisord)
            self.banner()
            supervisord.wait()
            print(f"stack: supervisord exited on its own; its log is {self.layout.supervisord_log}",
                  file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            # A second Ctrl-C must not cut the clean-up short (PostgreSQL would keep running).
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if supervisord is not None and supervisord.poll() is None:
                # After Ctrl-C it has its own SIGINT already; SIGTERM (from `kill`) only reached us.
                supervisord.send_signal(signal.SIGTERM)
                supervisord.wait()  # it stops nginx, the app, then Redis and PostgreSQL
            if copier is not None:
                copier.join(10)
            print(f"stack stopped; its data stays in {self.layout.root}", flush=True)
        # Stopped on request (Ctrl-C, SIGTERM) is success; supervisord dying under us is not.
        return 0 if interrupted else 1

    def hint(self, target, args):
        """A make command for this stack: STACK_DIR only when it is not the default."""
        where = "" if self.layout.root == DEFAULT_DIR.resolve() else f" STACK_DIR={shlex.quote(str(self.layout.root))}"
        return f"make {target}{where} ARGS='{args}'"

    def banner(self):
        daphnes = self.variables["daphne_instances"]
        print(
            f"\n  {self.variables['app_name']} is up: nginx -> {daphnes} daphne + gunicorn/uvicorn, Redis, PostgreSQL\n"
            f"  Demo page:  {self.url}/   (users and passwords above)\n"
            f"  Health:     {self.url}/api/websocket/health/\n"
            f"  Diagnose:   {self.hint('stack-manage', f'wsdoctor {self.url}')}\n"
            f"  Manage:     {self.hint('stack-manage', 'createsuperuser')}   (any manage.py command)\n"
            f"  Processes:  {self.hint('stack-ctl', 'status')}   (or 'restart daphne1', 'tail -f nginx'); "
            f"one that dies is restarted\n"
            f"  Logs:       this terminal, and {self.layout.logs}/<process>.log; nginx access log: "
            f"{self.layout.nginx_access_log}\n"
            f"  READY {self.url}\n",
            flush=True,
        )


def copy_lines(source, destination):
    for line in iter(source.readline, b""):
        destination.write(line)
        destination.flush()


def manage_running(layout, args):
    """manage.py with the environment of the stack in layout (which must be running for
    anything that touches the database)."""
    if not layout.env_file.exists():
        raise StackError(f"no stack in {layout.root}: start one with `make stack` first")
    env = {**os.environ, **read_env_file(layout.env_file)}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=APP_DIR, env=env, check=False).returncode


def supervisorctl(layout, args):
    """supervisorctl against the stack running in layout."""
    if not layout.supervisord_conf.exists() or not Supervisor(layout.supervisor_socket).answering():
        raise StackError(f"no stack is running in {layout.root}: start one with `make stack` first")
    return subprocess.run([sys.executable, "-m", "supervisor.supervisorctl", "-c", str(layout.supervisord_conf),
                           *args], check=False).returncode


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ops.stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=str(DEFAULT_DIR), help="state directory (default: .stack)")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the stack in the foreground (Ctrl-C stops it)")
    up.add_argument("--port", type=int, default=8080, help="nginx port on 127.0.0.1 (default 8080)")
    up.add_argument("--daphne", type=int, default=2, help="daphne instances (default 2)")
    up.add_argument("--demo-password", help="one password for every demo user instead of random ones")
    up.add_argument("--vars", action="append", default=[], metavar="FILE",
                    help="a YAML file of template variables, as for python -m ops.render (repeatable)")
    up.add_argument("--set", action="append", default=[], type=render.parse_set, metavar="KEY=VALUE",
                    help="template variable, as for python -m ops.render (e.g. nginx_ws_read_timeout=5)")
    manage = commands.add_parser("manage", help="run manage.py with the running stack's environment")
    manage.add_argument("args", nargs=argparse.REMAINDER)
    commands.add_parser("status", help="every process of the running stack: state, pid, uptime")
    restart = commands.add_parser("restart", help="stop, then start, processes of the running stack")
    restart.add_argument("names", nargs="+", metavar="NAME", help="postgres, redis, http, daphne1, ..., nginx")
    ctl = commands.add_parser("ctl", help="any supervisorctl command against the running stack "
                                          "(stop NAME, start NAME, signal HUP nginx, tail -f daphne1, ...)")
    ctl.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    try:
        if args.command == "manage":
            return manage_running(Layout(args.dir), args.args)
        if args.command == "status":
            return supervisorctl(Layout(args.dir), ["status"])
        if args.command == "restart":
            return supervisorctl(Layout(args.dir), ["restart", *args.names])
        if args.command == "ctl":
            return supervisorctl(Layout(args.dir), args.args)
        stack = Stack(args.dir, args.port, args.daphne, dict(args.set), args.demo_password, args.vars)
        return stack.up()
    except KeyboardInterrupt:  # before anything was started
        return 0
    except (StackError, PostgresError, SupervisorError, ToolMissing, render.RenderError) as error:
        print(f"stack: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
