"""ops.supervise without running processes: the supervisord config the stack writes (read back
by supervisor's own parser), the Restart= rules, and the listener's stream."""

import io
import shlex
import signal
import threading

import pytest
from supervisor.options import ServerOptions

from ops.stack import Stack
from ops.supervise import Listener, Program, config, last_exit, parse_timespan, should_restart
from ops.testing.tools import require_tool


def supervisor_reads(text, tmp_path):
    """{program name: supervisor's ProcessConfig} as supervisord itself parses `text`."""
    path = tmp_path / "supervisord.conf"
    path.write_text(text)
    options = ServerOptions()
    options.configfile = str(path)
    options.process_config(do_usage=False)
    return {group.name: group.process_configs[0] for group in options.process_group_configs}


@pytest.fixture
def stack(tmp_path):
    for tool in ("redis-server", "nginx", "postgres", "pg_ctl"):
        require_tool(tool, "the stack's process list names them")
    stack = Stack(tmp_path / "stack", port=8123)
    stack.prepare()
    stack.postgres.socket_dir.mkdir(parents=True)  # as initialize() does, before supervisord reads the config
    return stack


def test_the_stack_runs_each_unit_command_line_with_the_units_restart_rule(stack, tmp_path):
    programs = {program.name: program for program in stack.programs()}
    assert list(programs) == ["postgres", "redis", "http", "daphne1", "daphne2", "nginx"]
    parsed = supervisor_reads(stack.layout.supervisord_conf.read_text(), tmp_path)
    assert set(parsed) == {*programs, "events"}
    for name, program in programs.items():
        # What supervisord will exec is exactly the argv the stack built ("%" survives expansion).
        assert shlex.split(parsed[name].command) == program.argv, name
        assert parsed[name].autorestart is False  # the listener restarts, after RestartSec=
        assert parsed[name].priority == program.priority
        assert parsed[name].killasgroup and not parsed[name].stopasgroup  # KillMode=mixed
    daphne = programs["daphne1"]
    assert daphne.argv[:2] == ["/bin/sh", "-c"] and "exec env " in daphne.argv[2]
    assert (daphne.restart, daphne.restart_sec, daphne.origin) == ("on-failure", 2, "its systemd unit")
    assert parsed["daphne1"].stopwaitsecs == 15  # TimeoutStopSec=: daphne_application_close_timeout + 5
    assert parsed["postgres"].stopsignal == signal.SIGINT  # fast shutdown
    assert programs["postgres"].stream is False and programs["postgres"].log.endswith("postgres/postgres.log")
    assert [p.name for p in programs.values() if p.autostart] == ["postgres", "redis"]  # the app after migrate
    assert programs["daphne2"].endpoint == {"unix": f"{stack.layout.run}/daphne-2.sock"}
    assert parsed["events"].stderr_logfile == "/dev/stdout"


def test_a_value_supervisord_would_cut_is_refused():
    program = Program("odd", ["sh", "-c", "echo a ; echo b"])
    with pytest.raises(ValueError, match="' ;'"):
        config([program], "/s.sock", "/s.pid", "/s.log", 1024, ["true"], "/")


@pytest.mark.parametrize(("text", "seconds"), [("2", 2), ("2s", 2), ("500ms", 0.5), ("1min 30s", 90)])
def test_systemd_time_spans(text, seconds):
    assert parse_timespan(text) == seconds


@pytest.mark.parametrize(("restart", "how", "expected", "restarts"), [
    ("on-failure", "terminated by SIGKILL", False, True),
    ("on-failure", "terminated by SIGSEGV (core dumped)", False, True),
    ("on-failure", "exit status 1", False, True),
    ("on-failure", "exit status 0", True, False),
    ("on-failure", "terminated by SIGTERM", False, False),  # systemd's clean signals
    ("on-failure", None, False, True),
    ("always", "exit status 0", True, True),
    ("no", "terminated by SIGKILL", False, False),
])
def test_restart_follows_systemd(restart, how, expected, restarts):
    assert should_restart(restart, how, expected) is restarts


class Starts:
    """Stands in for supervisord's API: records what the listener starts."""

    def __init__(self):
        self.started = threading.Event()
        self.names = []

    def start(self, name, wait=True):
        self.names.append(name)
        self.started.set()


def listener(tmp_path, supervisor=None, **rules):
    programs = {
        "daphne1": Program("daphne1", ["daphne"], **({"restart": "on-failure", "restart_sec": 0.01} | rules)),
        "redis": Program("redis", ["redis-server"]),
    }
    out = io.StringIO()
    stream = Listener(programs, supervisor or Starts(), tmp_path / "supervisord.log", out, clock=lambda _: "12:00:00")
    return stream, out


def test_output_is_one_prefixed_stream_that_bench_can_parse(tmp_path):
    stream, out = listener(tmp_path)
    stream.handle("PROCESS_LOG_STDOUT", "processname:daphne1 groupname:daphne1 pid:7 channel:stdout\nWARNING one\nhal")
    stream.handle("PROCESS_LOG_STDOUT", "processname:redis groupname:redis pid:8 channel:stdout\n* ready\n")
    stream.handle("PROCESS_LOG_STDOUT", "processname:daphne1 groupname:daphne1 pid:7 channel:stdout\nf a line\n")
    lines = out.getvalue().splitlines()
    assert lines == ["12:00:00 daphne1.1 | WARNING one", "12:00:00 redis.1   | * ready",
                     "12:00:00 daphne1.1 | half a line"]
    # bench/targets.py's reading: the process is the last word before the first "|".
    assert [line.partition("|")[0].split()[-1] for line in lines] == ["daphne1.1", "redis.1", "daphne1.1"]


def test_a_dead_process_is_reported_and_started_after_its_restart_sec(tmp_path):
    (tmp_path / "supervisord.log").write_text(
        "2025-01-01 12:00:00,000 WARN exited: daphne1 (terminated by SIGKILL; not expected)\n")
    starts = Starts()
    stream, out = listener(tmp_path, starts)
    stream.handle("PROCESS_STATE_RUNNING", "processname:daphne1 groupname:daphne1 from_state:STARTING pid:7")
    stream.handle("PROCESS_STATE_EXITED", "processname:daphne1 groupname:daphne1 from_state:RUNNING expected:0 "
                                          "pid:999999999")
    assert starts.started.wait(5) and starts.names == ["daphne1"]
    stream.handle("PROCESS_STATE_RUNNING", "processname:daphne1 groupname:daphne1 from_state:STARTING pid:8")
    assert out.getvalue().splitlines()[1:] == [
        "12:00:00 system    | daphne1.1 died (terminated by SIGKILL); restarting it in 0.01 s "
        "(the stack: Restart=on-failure, RestartSec=0.01)",
        "12:00:00 system    | daphne1.1 restarted (pid=8)",
    ]


def test_a_clean_exit_is_not_restarted_on_failure(tmp_path):
    (tmp_path / "supervisord.log").write_text("x INFO exited: daphne1 (exit status 0; expected)\n")
    starts = Starts()
    stream, out = listener(tmp_path, starts)
    stream.handle("PROCESS_STATE_EXITED", "processname:daphne1 groupname:daphne1 from_state:RUNNING expected:1 "
                                          "pid:999999999")
    assert not starts.started.wait(0.2)
    assert "daphne1.1 exited (exit status 0); not restarted" in out.getvalue()


def test_the_last_exit_is_read_from_supervisords_log(tmp_path):
    log = tmp_path / "supervisord.log"
    log.write_text("a WARN exited: daphne1 (exit status 3; not expected)\n"
                   "b WARN exited: daphne10 (terminated by SIGKILL; not expected)\n"
                   "c INFO stopped: daphne1 (terminated by SIGTERM)\n")
    assert last_exit(log, "daphne1") == "terminated by SIGTERM"
    assert last_exit(log, "daphne10") == "terminated by SIGKILL"
    assert last_exit(log, "redis") is None and last_exit(tmp_path / "missing.log", "redis") is None
