"""supervisord for the local stack: its config, a client over its unix socket, and the event
listener that turns every process's output into one stream and restarts a process that died.

The stream is honcho's format, which bench/ and the tests parse: `HH:MM:SS daphne1.1 | text`,
the stack's own words under `system`. Restarts are the listener's, not supervisord's
`autorestart`: supervisord restarts at once and has nothing like systemd's RestartSec= (its
backoff only spaces out failed starts), while the units wait RestartSec= first. supervisord
still spawns, reaps, signals and stops every process; the listener only decides when to call
startProcess, with the rule of the process's unit (Restart=, RestartSec=).

    python -m ops.supervise events PROGRAMS.json SUPERVISORD.log   # run by supervisord, not by hand
"""

import json
import math
import os
import re
import shlex
import signal
import sys
import threading
import time
import xmlrpc.client
from dataclasses import asdict, dataclass, field
from pathlib import Path

from supervisor import childutils
from supervisor.xmlrpc import Faults, SupervisorTransport

LISTENER = "events"
# Exit signals systemd counts as a clean stop: Restart=on-failure does not restart after them.
CLEAN_SIGNALS = {"SIGHUP", "SIGINT", "SIGTERM", "SIGPIPE"}
SYSTEMD_DEFAULT_RESTART_SEC = 0.1


@dataclass
class Program:
    """One process of the stack, with its unit's restart and stop rules."""

    name: str
    argv: list
    restart: str = "no"  # systemd's Restart=: no, on-failure or always
    restart_sec: float = SYSTEMD_DEFAULT_RESTART_SEC
    origin: str = "the stack"  # where the rule comes from, for the messages
    stop_signal: str = "TERM"
    stop_timeout: float = 10
    priority: int = 200  # lower starts first and stops last
    autostart: bool = True
    user: str = None
    directory: str = None
    log: str = None  # its own log file (supervisorctl tail reads it)
    stream: bool = True  # its output also goes to the stream
    endpoint: dict = field(default_factory=dict)  # where it answers /healthz, for tests

    @property
    def label(self):
        return f"{self.name}.1"  # honcho's name for the first (only) process of a type


def parse_timespan(value):
    """Seconds in a systemd time span: "2", "2s", "500ms", "1min 30s"."""
    units = {"": 1, "s": 1, "sec": 1, "ms": 0.001, "msec": 0.001, "m": 60, "min": 60}
    parts = re.findall(r"([\d.]+)\s*([a-z]*)", value.strip())
    if not parts or any(unit not in units for _, unit in parts):
        raise ValueError(f"not a time span this parser knows: {value!r}")
    return sum(float(number) * units[unit] for number, unit in parts)


def unit_rules(settings):
    """Restart=, RestartSec= and TimeoutStopSec= of a parsed unit (ops.units.parse_unit), with
    systemd's defaults."""
    return {
        "restart": settings.get("Restart", ["no"])[-1],
        "restart_sec": parse_timespan(settings.get("RestartSec", ["100ms"])[-1]),
        "stop_timeout": parse_timespan(settings.get("TimeoutStopSec", ["90s"])[-1]),
        "origin": "its systemd unit",
    }


def _value(value):
    """A value for supervisord's ini file: it expands %(name)s in them, and its parser cuts a
    line at ' ;' or ' #' (inline comments)."""
    text = str(value)
    if "\n" in text or " ;" in text or " #" in text:
        raise ValueError(f"supervisord's config cannot hold {text!r} (newline, ' ;' or ' #')")
    return text.replace("%", "%%")


def config(programs, socket, pidfile, logfile, minfds, listener_argv, listener_dir):
    """supervisord.conf: supervisord in the foreground, its API on a unix socket only, each
    program with its rules, and the listener that prints the stream and restarts."""
    lines = [
        "; Written by python -m ops.stack at every start, do not edit.",
        "[supervisord]",
        "nodaemon=true",
        "silent=true",  # its own log goes to logfile; the stream is the listener's
        f"logfile={_value(logfile)}",
        "logfile_maxbytes=10MB",
        "logfile_backups=1",
        "loglevel=info",  # the "exited: NAME (terminated by SIGKILL...)" lines the listener reads
        f"pidfile={_value(pidfile)}",
        f"minfds={minfds}",  # LimitNOFILE=
        "",
        "[unix_http_server]",
        f"file={_value(socket)}",
        "chmod=0700",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{_value(socket)}",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        f"[eventlistener:{LISTENER}]",
        f"command={_value(shlex.join(listener_argv))}",
        f"directory={_value(listener_dir)}",
        "events=PROCESS_STATE,PROCESS_LOG",
        "buffer_size=10000",  # events wait here while it prints; the default (10) drops output
        "priority=1",  # up first, stopped last: it reports every other stop
        "autorestart=true",
        "stdout_logfile=NONE",  # its stdout is the protocol with supervisord
        "stderr_logfile=/dev/stdout",  # the stream: supervisord's stdout, a pipe to the launcher
        "stderr_logfile_maxbytes=0",
        "",
    ]
    for program in programs:
        lines += [
            f"[program:{program.name}]",
            f"command={_value(shlex.join(program.argv))}",
            f"priority={program.priority}",
            f"autostart={str(program.autostart).lower()}",
            "autorestart=false",  # the listener restarts, after RestartSec=
            "startsecs=1",
            "startretries=3",
            "exitcodes=0",
            f"stopsignal={program.stop_signal}",
            f"stopwaitsecs={math.ceil(program.stop_timeout)}",
            # KillMode=mixed: the stop signal to the main process, SIGKILL to all that is left.
            "stopasgroup=false",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={_value(program.log) if program.log else 'NONE'}",
            "stdout_logfile_maxbytes=10MB",
            "stdout_logfile_backups=1",
            f"stdout_events_enabled={str(program.stream).lower()}",
        ]
        if program.user:
            lines.append(f"user={program.user}")
        if program.directory:
            lines.append(f"directory={_value(program.directory)}")
        lines.append("")
    return "\n".join(lines)


def write_programs(path, programs):
    Path(path).write_text(json.dumps([asdict(program) for program in programs], indent=1))


def read_programs(path):
    return {item["name"]: Program(**item) for item in json.loads(Path(path).read_text())}


class SupervisorError(Exception):
    pass


class Supervisor:
    """supervisord's XML-RPC API on its unix socket (what supervisorctl talks to)."""

    def __init__(self, socket):
        self.socket = Path(socket)

    @property
    def rpc(self):
        # One proxy per call: the listener calls from a timer thread too.
        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def answering(self):
        try:
            return self.rpc.getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Error):
            return False

    def pid(self):
        return self.rpc.getPID()

    def info(self, name):
        try:
            return self.rpc.getProcessInfo(name)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode == Faults.BAD_NAME:
                raise SupervisorError(f"no process named {name!r} in this stack") from None
            raise

    def states(self):
        return {info["name"]: info["statename"] for info in self.rpc.getAllProcessInfo()}

    def start(self, name, wait=True):
        """Start it; a process already running (or already being restarted) is left alone."""
        try:
            self.rpc.startProcess(name, wait)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode != Faults.ALREADY_STARTED:
                raise

    def stop(self, name, wait=True):
        """Stop it (its stop signal, then SIGKILL after its stop timeout); the listener leaves a
        stopped process stopped."""
        try:
            self.rpc.stopProcess(name, wait)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode != Faults.NOT_RUNNING:
                raise

    def restart(self, name):
        self.stop(name)
        self.start(name)

    def signal(self, name, signum):
        """Send `signum` to the process (its main PID, as `kill` would)."""
        self.rpc.signalProcess(name, signal.Signals(signum).name.removeprefix("SIG"))


def last_exit(logfile, name):
    """How the last run of `name` ended, from supervisord's log ("terminated by SIGKILL",
    "exit status 1"), None when it does not say: its state events do not carry it, and its API
    refuses readLog once it is shutting down."""
    try:
        with open(logfile, "rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 16384))
            text = log.read().decode(errors="replace")
    except OSError:
        return None
    found = re.findall(rf"(?:exited|stopped): {re.escape(name)} \(([^;)]*)", text)
    return found[-1] if found else None


def should_restart(restart, how, expected):
    """systemd's Restart= rule for a process that ended `how` ("exit status N", "terminated by
    SIGNAME ..." or None when unknown; `expected`: supervisord saw exit status 0)."""
    if restart == "always":
        return True
    if restart != "on-failure":
        return False
    if how is None:
        return not expected
    if how == "exit status 0":
        return False
    return not (how.startswith("terminated by ") and how.split()[2] in CLEAN_SIGNALS)


class Listener:
    """Prints supervisord's PROCESS_LOG events as prefixed lines and its state events in plain
    words, and restarts a process that exited as its Restart=/RestartSec= say."""

    def __init__(self, programs, supervisor, logfile, out, clock=time.strftime):
        self.programs = programs
        self.supervisor = supervisor
        self.logfile = logfile  # supervisord's own log
        self.out = out
        self.clock = clock
        self.width = max(len(name) for name in ["system", *(p.label for p in programs.values())])
        self.partial = {}  # name -> the last line, until its newline comes
        self.restarting = set()  # died, to be started again
        self.states = {}  # name -> its last state event
        self.lock = threading.Lock()

    def write(self, label, text):
        with self.lock:
            self.out.write(f"{self.clock('%H:%M:%S')} {label.ljust(self.width)} | {text}\n")
            self.out.flush()

    def system(self, text):
        self.write("system", text)

    def label(self, name):
        program = self.programs.get(name)
        return program.label if program else name

    def output(self, name, data):
        lines = (self.partial.pop(name, "") + data).split("\n")
        if lines[-1]:
            self.partial[name] = lines[-1]
        for line in lines[:-1]:
            self.write(self.label(name), line.rstrip("\r"))

    def flush(self, name):
        if self.partial.get(name):
            self.write(self.label(name), self.partial.pop(name))

    def handle(self, event, payload):
        if event.startswith("PROCESS_LOG"):
            header, _, data = payload.partition("\n")
            self.output(_headers(header)["processname"], data)
            return
        headers = _headers(payload)
        name = headers["processname"]
        if name == LISTENER or name not in self.programs:
            return
        state = self.states[name] = event.removeprefix("PROCESS_STATE_")
        if state == "RUNNING":
            again = name in self.restarting
            self.restarting.discard(name)
            self.system(f"{self.label(name)} {'restarted' if again else 'started'} (pid={headers['pid']})")
        elif state == "EXITED":
            self.flush(name)
            self.exited(self.programs[name], int(headers["pid"]), headers["expected"] == "1")
        elif state == "STOPPED":
            self.stopped(name)
        elif state == "BACKOFF":
            self.flush(name)
            self.system(f"{self.label(name)} exited within a second of starting; supervisord tries again "
                        f"(try {headers['tries']})")
        elif state == "FATAL":
            self.restarting.discard(name)
            self.system(f"{self.label(name)} did not stay up after its retries: supervisord gave up on it "
                        f"(its output is above)")

    def stopped(self, name):
        self.flush(name)
        self.restarting.discard(name)
        how = last_exit(self.logfile, name)
        self.system(f"{self.label(name)} stopped" + (f" ({how})" if how else ""))

    def finish(self):
        """On the listener's own stop, the last in the stack's: supervisord sends no more events
        by then, so report what was still stopping (it has stopped: the listener goes last)."""
        for name in list(self.partial):
            self.flush(name)
        for name, state in self.states.items():
            if state == "STOPPING":
                self.stopped(name)

    def exited(self, program, pid, expected):
        # The unit's control group: what the main process leaves behind (nginx's or gunicorn's
        # workers) dies with it, as systemd does, or it would hold the port the restart needs.
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        how = last_exit(self.logfile, program.name)
        clean = how == "exit status 0" or (how is None and expected)
        ended = f"{'exited' if clean else 'died'} ({how or ('exit status 0' if expected else 'unexpectedly')})"
        rule = f"{program.origin}: Restart={program.restart}, RestartSec={program.restart_sec:g}"
        if not should_restart(program.restart, how, expected):
            self.system(f"{program.label} {ended}; not restarted ({rule})")
            return
        self.restarting.add(program.name)
        self.system(f"{program.label} {ended}; restarting it in {program.restart_sec:g} s ({rule})")
        timer = threading.Timer(program.restart_sec, self.restart, [program.name])
        timer.daemon = True
        timer.start()

    def restart(self, name):
        try:
            self.supervisor.start(name, wait=False)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode != Faults.SHUTDOWN_STATE:  # the stack is stopping: leave it
                self.system(f"{self.label(name)} could not be restarted: {fault.faultString}")
        except OSError as error:
            self.system(f"{self.label(name)} could not be restarted: {error}")


def _headers(line):
    return dict(token.split(":", 1) for token in line.split())


def listen(programs_file, logfile):
    """The event listener's loop (supervisor's protocol: READY, an event, RESULT)."""
    stdin = open(sys.stdin.fileno(), encoding="utf-8", closefd=False)  # noqa: SIM115 - the process's stdin
    programs = {name: p for name, p in read_programs(programs_file).items() if name != LISTENER}
    listener = Listener(programs, Supervisor(os.environ["SUPERVISOR_SERVER_URL"].removeprefix("unix://")),
                        logfile, sys.stderr)

    def stop(signum, frame):
        listener.finish()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    while True:
        headers, payload = childutils.listener.wait(stdin, sys.stdout)
        try:
            listener.handle(headers["eventname"], payload)
        except Exception as error:  # noqa: BLE001 - one bad event must not stop the stream
            listener.system(f"the stack's event listener could not handle {headers['eventname']}: {error!r}")
        childutils.listener.ok(sys.stdout)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3 or argv[0] != "events":
        print(__doc__, file=sys.stderr)
        return 2
    listen(argv[1], argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
