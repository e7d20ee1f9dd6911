"""The rendered systemd units: `systemd-analyze verify` clean, exposure <= 2.0, and the
settings a WebSocket server needs (file limits, restarts, stop timeouts, stale sockets)."""

import re
import subprocess
import sys

import pytest

from config.settings.refusals import SERVER_EXIT_STATUS
from ops import render
from ops.testing.tools import require_tool
from ops.tools import APP_DIR
from ops.units import parse_unit

APP = "channels-stack"
# Template units are verified through an instance (systemd's alias form).
UNITS = {
    "daphne": f"{APP}-daphne@.service:{APP}-daphne@1.service",
    "http": f"{APP}-http.service",
    "token-cleanup": f"{APP}-token-cleanup.service",
}
TIMERS = [f"{APP}-token-cleanup.timer"]
MAX_EXPOSURE = 2.0


def analyze(*args, cwd):
    binary = require_tool("systemd-analyze", "unit files are checked by systemd's own analyzer")
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True)


@pytest.mark.process
def test_verify_is_clean(rendered_units):
    result = analyze("verify", *UNITS.values(), *TIMERS, f"{APP}.target", cwd=rendered_units)
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""  # warnings (unknown keys, bad values) count too


@pytest.mark.process
def test_verify_catches_a_broken_unit(rendered_units):
    """Negative control: a missing ExecStart binary fails verify."""
    unit = rendered_units / f"{APP}-http.service"
    unit.write_text(unit.read_text().replace("/bin/gunicorn", "/bin/no-such-gunicorn"))
    assert analyze("verify", UNITS["http"], cwd=rendered_units).returncode != 0


def exposure(output):
    return float(re.search(r"Overall exposure level for \S+: (\d+\.\d+)", output).group(1))


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.process
def test_exposure_at_most_two(rendered_units, unit):
    # --threshold is on a 0-100 scale: 20 fails anything above 2.0.
    result = analyze("security", "--offline=yes", f"--threshold={int(MAX_EXPOSURE * 10)}", UNITS[unit],
                     cwd=rendered_units)
    assert result.returncode == 0, result.stdout[-2000:]
    assert exposure(result.stdout) <= MAX_EXPOSURE


@pytest.mark.process
def test_exposure_check_fails_an_unhardened_unit(tmp_path):
    """Negative control: the same command fails a unit without the sandbox."""
    (tmp_path / "bare.service").write_text("[Service]\nExecStart=/bin/true\n")
    result = analyze("security", "--offline=yes", "--threshold=20", "bare.service", cwd=tmp_path)
    assert result.returncode != 0 and exposure(result.stdout) > MAX_EXPOSURE


def test_daphne_instance_unit(rendered_units):
    unit = parse_unit(rendered_units / f"{APP}-daphne@.service")
    exec_start = unit["ExecStart"][0]
    assert "--endpoint unix:address=/run/channels-stack/daphne-%i.sock:backlog=6024:lockfile=1" in exec_start
    assert "--proxy-headers" in exec_start
    # Stale socket and Twisted's lock file are removed before start (daphne refuses to bind).
    assert unit["ExecStartPre"] == [
        "/bin/rm -f /run/channels-stack/daphne-%i.sock /run/channels-stack/daphne-%i.sock.lock"
    ]
    assert unit["Type"] == ["simple"]  # daphne has no sd_notify
    close_timeout = int(re.search(r"--application-close-timeout (\d+)", exec_start).group(1))
    assert int(unit["TimeoutStopSec"][0]) > close_timeout
    assert "SERVER_INSTANCE_ID=%H:daphne-%i" in unit["Environment"]


@pytest.mark.parametrize("name", [f"{APP}-daphne@.service", f"{APP}-http.service"])
def test_service_basics(rendered_units, name):
    unit = parse_unit(rendered_units / name)
    assert unit["EnvironmentFile"] == ["/etc/channels-stack/app.env"]
    assert unit["LimitNOFILE"] == ["65536"]
    assert unit["Restart"] == ["on-failure"]
    # Refused settings (config.asgi's exit status) are not retried forever.
    assert unit["RestartPreventExitStatus"] == [str(SERVER_EXIT_STATUS)]
    assert unit["User"] == ["channels-stack"]
    assert "AF_UNIX" in unit["RestrictAddressFamilies"][0].split()  # the sockets nginx talks to
    assert unit["ReadWritePaths"] == ["/run/channels-stack"]


def test_http_server_stop_and_reload(rendered_units):
    unit = parse_unit(rendered_units / f"{APP}-http.service")
    exec_start = unit["ExecStart"][0]
    graceful = int(re.search(r"--graceful-timeout (\d+)", exec_start).group(1))
    assert int(unit["TimeoutStopSec"][0]) > graceful
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert "--access-logfile" not in exec_start  # uvicorn's access log would print query strings


def test_target_groups_every_process(rendered_units):
    text = (rendered_units / f"{APP}.target").read_text()
    wants = re.search(r"^Wants=(.*)$", text, re.M).group(1).split()
    assert wants == [f"{APP}-http.service", f"{APP}-daphne@1.service", f"{APP}-daphne@2.service"]
    for name in (f"{APP}-daphne@.service", f"{APP}-http.service"):
        assert f"PartOf={APP}.target" in (rendered_units / name).read_text()


def test_socket_directory_is_private_to_app_and_nginx(rendered_units):
    line = (rendered_units / f"{APP}-tmpfiles.conf").read_text().strip().splitlines()[-1]
    assert line.split() == ["d", "/run/channels-stack", "0750", "channels-stack", "www-data", "-"]


def test_token_cleanup_runs_the_command_as_the_app_on_a_timer(rendered_units):
    """Expired tokens are deleted on a schedule (issue 20): the service runs the command with
    the app's environment and user, the timer starts it, and it starts with the machine."""
    service = parse_unit(rendered_units / f"{APP}-token-cleanup.service")
    assert service["Type"] == ["oneshot"]
    assert service["ExecStart"][0].split()[-2:] == ["manage.py", "clear_expired_tokens"]
    assert service["ExecStart"][0].startswith(sys.prefix + "/bin/python ")  # the release's venv
    assert service["User"] == ["channels-stack"] and service["EnvironmentFile"] == ["/etc/channels-stack/app.env"]
    assert service["WorkingDirectory"] == [str(APP_DIR)]
    assert "TimeoutStartSec" in service  # a oneshot stuck on the database would block every later run
    timer = parse_unit(rendered_units / f"{APP}-token-cleanup.timer", "Timer")
    assert timer["OnCalendar"] == ["hourly"] and timer["Persistent"] == ["true"]
    assert timer["RandomizedDelaySec"] == ["10min"]
    install = parse_unit(rendered_units / f"{APP}-token-cleanup.timer", "Install")
    assert install["WantedBy"] == ["timers.target"]


@pytest.mark.process
def test_a_bad_token_cleanup_schedule_fails_verify(tmp_path):
    """Negative control: systemd's own parser judges token_cleanup_schedule."""
    variables = render.variables_from(overrides={"app_venv_dir": sys.prefix, "app_dir": str(APP_DIR),
                                                 "token_cleanup_schedule": "every other tuesday"})
    render.render(variables, tmp_path, ["systemd"])
    result = analyze("verify", *TIMERS, cwd=tmp_path)
    assert result.returncode != 0 and "every other tuesday" in result.stdout + result.stderr
