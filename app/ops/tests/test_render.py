"""The renderer: output names, strict variables, and the documented command line."""

import subprocess
import sys

import pytest

from ops import render
from ops.stack import APP_DIR, Stack, unit_command
from tests.helpers import require_tool


def test_output_names_follow_app_name(tmp_path):
    written = render.render(render.variables_from(overrides={"app_name": "chat"}), tmp_path)
    assert sorted(written) == [
        "chat-daphne@.service", "chat-http.service", "chat-tmpfiles.conf", "chat.conf", "chat.target", "nginx.conf",
    ]


def test_macro_files_are_not_outputs():
    assert all(not p.name.startswith("_") for target in render.TEMPLATE_DIRS for p in render.templates(target))


def test_unknown_variable_is_refused():
    with pytest.raises(render.RenderError, match="unknown variable.*nginx_tsl"):
        render.variables_from(overrides={"nginx_tsl": False})


def test_vars_file_must_be_a_mapping(tmp_path):
    (tmp_path / "vars.yml").write_text("- a\n- b\n")
    with pytest.raises(render.RenderError, match="expected a mapping"):
        render.variables_from([tmp_path / "vars.yml"])


def test_command_line_renders_with_vars_file_and_set(tmp_path):
    (tmp_path / "vars.yml").write_text("nginx_server_names: [chat.example.org]\n")
    result = subprocess.run(
        [sys.executable, "-m", "ops.render", "--out", str(tmp_path / "out"), "--vars", str(tmp_path / "vars.yml"),
         "--set", "daphne_instances=4", "nginx"],
        cwd=APP_DIR, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    site = (tmp_path / "out" / "channels-stack.conf").read_text()
    assert "server_name chat.example.org;" in site and "daphne-4.sock" in site
    assert not (tmp_path / "out" / "channels-stack-http.service").exists()


def test_command_line_explains_a_bad_combination(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ops.render", "--out", str(tmp_path), "--set", "nginx_ws_read_timeout=10"],
        cwd=APP_DIR, capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert "daphne_ping_interval (20 s) must be shorter than nginx_ws_read_timeout (10 s)" in result.stderr


def test_stack_runs_exactly_the_units_command(tmp_path):
    """The local stack's process command comes from the rendered unit, specifiers expanded."""
    render.render(render.variables_from(), tmp_path, ["systemd"])
    command = unit_command(tmp_path / "channels-stack-daphne@.service", "2")
    assert command.startswith("cd /srv/channels-stack/app && /bin/rm -f /run/channels-stack/daphne-2.sock ")
    assert "exec env SERVER_INSTANCE_ID=" in command and ":daphne-2 " in command
    assert command.endswith("--application-close-timeout 10 config.asgi:application")
    http = unit_command(tmp_path / "channels-stack-http.service")
    assert "--forwarded-allow-ips '*'" in http  # quoted: the shell must not glob it


def test_stack_includes_the_site_file_it_renders_whatever_the_app_name(tmp_path):
    require_tool("pg_ctl", "the launcher looks for it on creation")
    stack = Stack(tmp_path / "stack", overrides={"app_name": "chat"})
    written = render.render(stack.variables, tmp_path / "nginx", ["nginx"])
    assert stack.variables["nginx_site_conf"].endswith("/nginx/chat.conf")
    assert "chat.conf" in written
