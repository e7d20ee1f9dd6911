"""A PostgreSQL cluster of the local stack's own: initdb + pg_ctl, unix socket only (no TCP)."""

import os
import shlex
import shutil
import subprocess

from ops.tools import find_tool, tail

INSTALL_HINT = "install PostgreSQL's server (Debian: apt install postgresql-15)"


class PostgresError(Exception):
    pass


class LocalPostgres:
    """The cluster in `directory` (data/, run/ for the socket, postgres.log). As root it runs
    as the `postgres` user, because PostgreSQL refuses to run as root."""

    def __init__(self, directory, user="stack", database="stack"):
        self.directory = directory
        self.data = directory / "data"
        self.socket_dir = directory / "run"
        self.log = directory / "postgres.log"
        self.user, self.database = user, database
        self.os_user = "postgres" if os.geteuid() == 0 else None
        self.pg_ctl = find_tool("pg_ctl", INSTALL_HINT)

    @property
    def url(self):
        """DATABASE_URL; the socket directory goes in PGHOST (libpq reads it)."""
        return f"postgres://{self.user}@/{self.database}"

    def _as_os_user(self, args):
        return ["runuser", "-u", self.os_user, "--", *args] if self.os_user else args

    def _pg_ctl(self, *args):
        return subprocess.run(self._as_os_user([self.pg_ctl, "-D", str(self.data), *args]),
                              capture_output=True, text=True, check=False)

    def prepare(self):
        """The directory, its owner and initdb (once): what starting the server needs first."""
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        if self.os_user:
            for path in [self.directory, *self.directory.rglob("*")]:
                shutil.chown(path, self.os_user, self.os_user)
            probe = subprocess.run(self._as_os_user(["test", "-w", str(self.directory)]), check=False)
            if probe.returncode != 0:
                raise PostgresError(
                    f"PostgreSQL refuses to run as root, and the user {self.os_user} cannot reach {self.directory}: "
                    f"choose a --dir that user can traverse (e.g. under /tmp or /var/tmp)."
                )
        if not (self.data / "PG_VERSION").exists():
            initdb = find_tool("initdb", INSTALL_HINT)
            result = subprocess.run(
                self._as_os_user([initdb, "-D", str(self.data), "-U", self.user, "--auth=trust", "--encoding=UTF8",
                                  "--no-instructions"]),
                capture_output=True, text=True, check=False,
            )
            if result.returncode != 0:
                raise PostgresError(f"initdb failed:\n{result.stdout}{result.stderr}")

    def server_options(self):
        """Unix socket in socket_dir only, no TCP; fsync off: a throwaway cluster."""
        return ["-c", "listen_addresses=", "-k", str(self.socket_dir), "-c", "max_connections=300", "-c", "fsync=off"]

    def start(self):
        self.prepare()
        if self._pg_ctl("status").returncode == 0:
            return  # left running by a launcher that was killed: reuse it
        result = self._pg_ctl("start", "-w", "-t", "60", "-o", shlex.join(self.server_options()), "-l", str(self.log))
        if result.returncode != 0:
            raise PostgresError(f"PostgreSQL did not start:\n{result.stdout}{tail(self.log)}")
        self.create_database()

    def create_database(self):
        createdb = find_tool("createdb", "install PostgreSQL's client")
        subprocess.run([createdb, "-h", str(self.socket_dir), "-U", self.user, self.database], capture_output=True,
                       check=False)  # fails harmlessly when it exists

    def stop(self):
        self._pg_ctl("stop", "-m", "fast", "-w")
