"""Small helpers shared by the launcher and the tests: finding tools, reading logs, file
limits, HTTP over a unix socket."""

import errno
import http.client
import resource
import shutil
import socket
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
APP_DIR = REPO_DIR / "app"
PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


class ToolMissing(Exception):
    pass


def find_tool(name, hint):
    """The path of `name` on PATH, then in PostgreSQL's bin directories (Debian keeps initdb
    and pg_ctl there); ToolMissing with the hint otherwise."""
    for directory in [None, *PG_BIN_DIRS]:
        found = shutil.which(name, path=str(directory) if directory else None)
        if found:
            return found
    raise ToolMissing(f"{name} not found: {hint}")


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


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix socket (daphne's and gunicorn's sockets)."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def http_connection(endpoint, timeout):
    """An HTTP connection to {"unix": path} or {"host": h, "port": p}."""
    if "unix" in endpoint:
        return UnixHTTPConnection(endpoint["unix"], timeout=timeout)
    return http.client.HTTPConnection(endpoint["host"], endpoint["port"], timeout=timeout)


def port_in_use(address, port):
    """Whether something listens on address:port already (a bind fails the way nginx's would);
    TIME_WAIT leftovers do not count, nginx binds with SO_REUSEADDR too."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return True
            raise
    return False
