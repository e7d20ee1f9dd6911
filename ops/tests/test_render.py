"""The renderer: variables resolved as Ansible resolves them, output names and install paths
from ops/outputs.yml, the rules, and the command line."""

import subprocess
import sys

import pytest

from ops import render
from ops.stack import Stack
from ops.testing.tools import require_tool
from ops.tools import REPO_DIR
from ops.units import parse_unit, unit_command

# Long enough for the secret rules (render.SECRET_MIN_LENGTH).
SECRETS = {"app_secret_key": "render-test-key-" + "0123456789" * 4, "app_redis_password": "redis-pw-render-test",
           "app_database_password": "db-pw-render-test"}


def run_render(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "ops.render", *map(str, args)], cwd=REPO_DIR, input=stdin,
                          capture_output=True, text=True)


def test_output_names_follow_app_name(tmp_path):
    written = render.render(render.variables_from(overrides={"app_name": "chat", **SECRETS}), tmp_path)
    assert sorted(written) == [
        "app.env", "chat-daphne@.service", "chat-http.service", "chat-tmpfiles.conf", "chat-token-cleanup.service",
        "chat-token-cleanup.timer", "chat.conf", "chat.target", "entrypoint", "nginx.conf",
    ]


@pytest.mark.process
def test_install_below_a_destdir_keeps_paths_and_modes(tmp_path):
    """What the Dockerfile's render stage does: each file at its dest, under /tree."""
    result = run_render("--install", "--destdir", tmp_path, "--vars", "ops/container.yml", "nginx", "container")
    assert result.returncode == 0, result.stderr
    entrypoint = tmp_path / "app/bin/entrypoint"
    assert (entrypoint.stat().st_mode & 0o777) == 0o755
    assert (tmp_path / "etc/nginx/conf.d/channels-stack.conf").is_file()
    assert (tmp_path / "etc/nginx/nginx.conf").is_file()
    assert "--destdir goes with --install" in run_render("--out", tmp_path, "--destdir", tmp_path).stderr


def test_a_renamed_project_has_no_trace_of_the_old_name(tmp_path):
    variables = render.variables_from(overrides={"app_name": "chat", **SECRETS})
    written = render.render(variables, tmp_path)
    for name, path in written.items():
        assert "channels-stack" not in path.read_text(), name
    installed = {output["dest"] for output in render.outputs(variables)}
    assert not [dest for dest in installed if "channels-stack" in dest]
    assert "include /etc/nginx/sites-enabled/chat.conf;" in (tmp_path / "nginx.conf").read_text()
    unit = parse_unit(tmp_path / "chat-daphne@.service")
    assert unit["User"] == ["chat"] and unit["EnvironmentFile"] == ["/etc/chat/app.env"]
    assert "/run/chat/daphne-%i.sock" in unit["ExecStart"][0]


@pytest.mark.process
def test_installed_files_of_a_renamed_project_pass_nginx_t(tmp_path):
    """Installed where ops/outputs.yml says (here under tmp_path), nginx.conf includes the
    site file that was really written."""
    nginx = require_tool("nginx", "the installed files are checked by nginx -t")
    (tmp_path / "tmp").mkdir()
    variables = render.variables_from(overrides={
        "app_name": "chat", "app_https": False, "nginx_user": None, "nginx_conf_dir": str(tmp_path / "etc"),
        "nginx_pid_file": str(tmp_path / "nginx.pid"), "nginx_error_log": "stderr",
        "nginx_access_log": str(tmp_path / "access.log"), "nginx_temp_dir": str(tmp_path / "tmp"),
    })
    written = render.render(variables, targets=["nginx"])
    assert written["chat.conf"] == tmp_path / "etc" / "sites-enabled" / "chat.conf"
    result = subprocess.run([nginx, "-t", "-c", str(written["nginx.conf"]), "-e", "stderr"], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr


def env_file(path):
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


def test_django_and_nginx_agree_on_static_files_and_host_names(tmp_path):
    variables = render.variables_from(overrides={"app_server_names": ["chat.example.org", "www.example.org"],
                                                 **SECRETS})
    render.render(variables, tmp_path)
    env = env_file(tmp_path / "app.env")
    site = (tmp_path / "channels-stack.conf").read_text()
    assert f"alias {env['STATIC_ROOT']}/;" in site
    assert env["STATIC_ROOT"] == "/srv/channels-stack/current/static"
    assert f"server_name {env['ALLOWED_HOSTS'].replace(',', ' ')};" in site
    assert env["CSRF_TRUSTED_ORIGINS"] == "https://chat.example.org,https://www.example.org"
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    assert env["REDIS_URL"] == "redis://:redis-pw-render-test@127.0.0.1:6379/0"
    assert env["DATABASE_URL"] == "postgres://channels_stack:db-pw-render-test@127.0.0.1:5432/channels_stack"
    assert "SECURE_SSL_REDIRECT" not in env  # production's secure defaults stay on


def test_plain_http_site_on_another_port(tmp_path):
    variables = render.variables_from(overrides={"app_https": False, "nginx_http_port": 8080,
                                                 "app_server_names": ["localhost"], **SECRETS})
    render.render(variables, tmp_path, ["env"])
    env = env_file(tmp_path / "app.env")
    assert env["CSRF_TRUSTED_ORIGINS"] == "http://localhost:8080"
    assert env["SECURE_SSL_REDIRECT"] == "false" and env["SESSION_COOKIE_SECURE"] == "false"


def test_secrets_are_required_with_a_clear_message(tmp_path):
    with pytest.raises(render.RenderError, match="app_secret_key is a secret with no default"):
        render.render(render.variables_from(), tmp_path, ["env"])
    # A default built from a secret says which secret it needs.
    overrides = {"app_secret_key": SECRETS["app_secret_key"], "app_database_password": SECRETS["app_database_password"]}
    with pytest.raises(render.RenderError, match="app_redis_url cannot be resolved: app_redis_password is a secret"):
        render.render(render.variables_from(overrides=overrides), tmp_path, ["env"])
    # nginx and the units need no secret.
    assert render.render(render.variables_from(), tmp_path, ["nginx", "systemd"])


@pytest.mark.process
def test_secrets_can_come_from_standard_input(tmp_path):
    secrets = "".join(f"{key}: {value}\n" for key, value in SECRETS.items())
    result = run_render("--out", tmp_path, "--vars", "-", "env", stdin=secrets)
    assert result.returncode == 0, result.stderr
    assert "SECRET_KEY=" + SECRETS["app_secret_key"] + "\n" in (tmp_path / "app.env").read_text()
    assert (tmp_path / "app.env").stat().st_mode & 0o777 == 0o640  # not readable by others


def test_references_resolve_like_ansible():
    variables = render.variables_from(overrides={
        "app_name": "chat", "daphne_instances": 3, "nginx_temp_dir": None, "app_home": "/opt/{{ app_name }}",
    })
    assert variables["app_run_dir"] == "/run/chat"
    assert variables["app_static_root"] == "/opt/chat/current/static"
    assert variables["daphne_instance_ids"] == [1, 2, 3]  # one whole expression keeps its type
    assert variables["nginx_tls"] is True
    assert variables["app_public_port"] == 443
    assert variables["nginx_temp_dir"] is None


def test_a_reference_loop_is_refused():
    loop = "loop: (app_home -> app_current -> app_home|app_current -> app_home -> app_current)"
    with pytest.raises(render.RenderError, match=loop):
        render.variables_from(overrides={"app_home": "{{ app_current }}/..", "app_current": "{{ app_home }}/x"})


def test_unknown_variable_is_refused():
    with pytest.raises(render.RenderError, match="unknown variable.*nginx_tsl"):
        render.variables_from(overrides={"nginx_tsl": False})


@pytest.mark.parametrize("name", ["Chat", "chat_app", "-chat", "chat/x"])
def test_app_name_must_fit_file_unit_and_zone_names(name):
    with pytest.raises(render.RenderError, match="app_name"):
        render.variables_from(overrides={"app_name": name})


def test_tls_on_a_plain_http_site_is_refused():
    with pytest.raises(render.RenderError, match="nginx_tls is on but app_https is off"):
        render.variables_from(overrides={"app_https": False, "nginx_tls": True})


def test_http_port_inside_the_daphne_ports_is_refused():
    with pytest.raises(render.RenderError, match="http_tcp_port 8002 is one of the daphne ports 8001-8002"):
        render.variables_from(overrides={"daphne_tcp_port": 8001, "http_tcp_port": 8002,
                                         "daphne_tcp_address": "0.0.0.0"})


def test_vars_file_must_be_a_mapping(tmp_path):
    (tmp_path / "vars.yml").write_text("- a\n- b\n")
    with pytest.raises(render.RenderError, match="expected a mapping"):
        render.variables_from([tmp_path / "vars.yml"])


def test_macro_files_are_not_outputs():
    assert not [o for o in render.MANIFEST["outputs"] if "/_" in o["template"]]


@pytest.mark.process
def test_command_line_renders_with_vars_file_and_set(tmp_path):
    (tmp_path / "vars.yml").write_text("app_server_names: [chat.example.org]\n")
    result = run_render("--out", tmp_path / "out", "--vars", tmp_path / "vars.yml", "--set", "daphne_instances=4",
                        "nginx")
    assert result.returncode == 0, result.stderr
    site = (tmp_path / "out" / "channels-stack.conf").read_text()
    assert "server_name chat.example.org;" in site and "daphne-4.sock" in site
    assert not (tmp_path / "out" / "channels-stack-http.service").exists()


@pytest.mark.process
def test_command_line_explains_a_bad_combination(tmp_path):
    result = run_render("--out", tmp_path, "--set", "nginx_ws_read_timeout=10")
    assert result.returncode == 2
    assert "daphne_ping_interval (20 s) must be shorter than nginx_ws_read_timeout (10 s)" in result.stderr


@pytest.mark.process
def test_check_runs_the_rules_and_writes_nothing(tmp_path):
    """What Ansible's preflight calls: the same rules, no files."""
    (tmp_path / "good.yml").write_text("app_name: chat\n")
    good = run_render("--check", "--vars", tmp_path / "good.yml", "nginx", "systemd")
    assert good.returncode == 0 and "render: ok" in good.stdout, good.stderr
    (tmp_path / "bad.yml").write_text("daphne_ping_interval: 90\n")
    bad = run_render("--check", "--vars", tmp_path / "bad.yml")
    assert bad.returncode == 2 and "must be shorter than nginx_ws_read_timeout" in bad.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yml", "good.yml"]


def test_units_wrap_one_flag_per_line_and_the_launcher_reads_them(tmp_path):
    render.render(render.variables_from(), tmp_path, ["systemd"])
    text = (tmp_path / "channels-stack-daphne@.service").read_text()
    assert max(len(line) for line in text.splitlines()) < 120
    command = unit_command(tmp_path / "channels-stack-daphne@.service", "2")
    assert command.startswith("cd /srv/channels-stack/current/app && /bin/rm -f /run/channels-stack/daphne-2.sock ")
    assert "exec env SERVER_INSTANCE_ID=" in command and ":daphne-2 " in command
    endpoint = "unix:address=/run/channels-stack/daphne-2.sock:backlog=6024:lockfile=1"
    assert f"--endpoint {endpoint} --proxy-headers" in command
    assert command.endswith("--application-close-timeout 10 --websocket-max-message-size 65536 "
                            "--websocket-max-frame-size 65536 config.asgi:application")
    http = unit_command(tmp_path / "channels-stack-http.service")
    assert "--forwarded-allow-ips '*' --no-control-socket" in http  # quoted: the shell must not glob it


def test_units_on_tcp_are_instances_named_by_port(tmp_path):
    variables = render.variables_from(overrides={"daphne_tcp_port": 8001, "daphne_tcp_address": "0.0.0.0",
                                                 "http_tcp_port": 8000, "http_tcp_address": "0.0.0.0"})
    render.render(variables, tmp_path, ["systemd"])
    daphne = parse_unit(tmp_path / "channels-stack-daphne@.service")
    assert "--endpoint tcp:port=%i:interface=0.0.0.0:backlog=6024 " in daphne["ExecStart"][0]
    assert "ExecStartPre" not in daphne  # no socket file to clean up
    http = parse_unit(tmp_path / "channels-stack-http.service")
    assert "--bind 0.0.0.0:8000 " in http["ExecStart"][0]
    target = (tmp_path / "channels-stack.target").read_text()
    assert "channels-stack-daphne@8001.service channels-stack-daphne@8002.service" in target


def test_command_macros_serve_other_launchers():
    """A container entrypoint or a platform's start command: same flags, its own endpoint, one line."""
    env = render.environment(REPO_DIR / "systemd")
    commands = env.get_template("_commands.j2").make_module(render.variables_from())
    line = str(commands.daphne_command("tcp:port=$PORT:interface=0.0.0.0"))
    assert "\n" not in line
    assert line.startswith(
        "/srv/channels-stack/current/venv/bin/python -m realtime.server --endpoint tcp:port=$PORT:interface=0.0.0.0 "
    )
    assert "--ping-interval 20" in line
    assert str(commands.http_command("0.0.0.0:8000")).count("--bind 0.0.0.0:8000") == 1


def test_stack_renders_and_installs_everything_inside_its_directory(tmp_path):
    require_tool("pg_ctl", "the launcher looks for it on creation")
    stack = Stack(tmp_path / "stack", port=8123, overrides={"app_name": "chat"})
    written = render.render(stack.variables, targets=("nginx", "systemd", "env"))
    root = str((tmp_path / "stack").resolve())
    assert all(str(path).startswith(root) for path in written.values()), written
    assert f"include {root}/nginx/sites-enabled/chat.conf;" in written["nginx.conf"].read_text()
    env = env_file(written["app.env"])
    assert env["STATIC_ROOT"] == f"{root}/static"
    assert env["CSRF_TRUSTED_ORIGINS"] == "http://127.0.0.1:8123,http://localhost:8123"
    assert env["REDIS_URL"] == f"unix://{root}/redis/redis.sock"
    assert stack.environment()["PGHOST"] == f"{root}/postgres/run"


@pytest.mark.process
def test_container_entrypoint_runs_the_units_command_lines(tmp_path):
    """The image's entrypoint (target container) and the units, rendered from ops/container.yml:
    the same server command lines, the unit's %i being the container's port."""
    variables = render.variables_from(["ops/container.yml"])
    written = render.render(variables, tmp_path, targets=("systemd", "container"))
    entrypoint = written["entrypoint"].read_text()
    assert entrypoint.startswith("#!/bin/sh\n")
    lines = [line.strip() for line in entrypoint.splitlines()]
    execs = [line.removeprefix("exec ") for line in lines if line.startswith("exec /")]
    daphne = parse_unit(written["channels-stack-daphne@.service"])["ExecStart"][0]
    http = parse_unit(written["channels-stack-http.service"])["ExecStart"][0]
    as_run = [" ".join(daphne.replace("%i", "8000").split()), " ".join(http.split())]
    assert [" ".join(line.split()) for line in execs] == as_run
    assert "--bind 0.0.0.0:8001 " in as_run[1] and "tcp:port=8000:interface=0.0.0.0:" in as_run[0]
    result = subprocess.run(["sh", "-n", written["entrypoint"]], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_websocket_instances_can_run_uvicorn_on_the_same_sockets(tmp_path):
    render.render(render.variables_from(overrides={"websocket_server": "uvicorn"}), tmp_path, ["systemd"])
    command = unit_command(tmp_path / "channels-stack-daphne@.service", "2")
    assert "/srv/channels-stack/current/venv/bin/uvicorn config.asgi:application" in command
    assert "--uds /run/channels-stack/daphne-2.sock --backlog 6024 " in command
    assert "--ws-ping-interval 20 --ws-ping-timeout 30 --timeout-graceful-shutdown 10" in command
    assert "realtime.server" not in command


def test_limits_follow_the_socket_count_the_host_is_sized_for():
    variables = render.variables_from(overrides={"app_max_sockets": 40_000})
    assert variables["app_limit_nofile"] >= 40_000 + 4096
    assert variables["nginx_worker_connections"] >= 80_000
    assert variables["kernel_somaxconn"] >= max(variables["daphne_listen_backlog"], variables["nginx_listen_backlog"])


@pytest.mark.parametrize(("name", "value"), [("websocket_server", "hypercorn"), ("app_channel_layer", "kafka")])
def test_unknown_server_or_layer_is_refused(name, value):
    with pytest.raises(render.RenderError, match=f"{name} is '{value}': choose one of"):
        render.check(render.variables_from(overrides={name: value}))


def test_the_stack_says_when_the_kernel_caps_daphnes_backlog(tmp_path):
    stack = Stack(tmp_path / "stack")
    low, high = tmp_path / "low", tmp_path / "high"
    low.write_text("4096\n")
    high.write_text("65535\n")
    warning = stack.backlog_warning(low)
    assert "net.core.somaxconn is 4096, below daphne's listen backlog of 6024" in warning
    assert "sysctl -w net.core.somaxconn=6024" in warning
    assert stack.backlog_warning(high) is None


def test_the_http_server_keeps_idle_connections_longer_than_nginx():
    variables = render.variables_from()
    assert variables["http_keepalive"] > variables["nginx_upstream_keepalive_timeout"]
    with pytest.raises(render.RenderError, match="http_keepalive .* must be longer than"):
        render.check(render.variables_from(overrides={"http_keepalive": 5}))
