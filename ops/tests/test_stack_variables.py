"""Your variables for the local stack (`make stack VARS=...`, `--vars`, `--set`): merged with the
launcher's own, never replacing what places the stack in its directory, refused in words."""

import subprocess
import sys

import pytest
import yaml

from ops.stack import LAUNCHER_OWNED, Stack, StackError, main, merged_variables
from ops.tools import REPO_DIR


def test_a_mapping_is_merged_key_by_key_and_yours_win():
    launcher = {"app_extra_env": {"PGHOST": "/stack/pg", "PYTHONUNBUFFERED": "1"}, "nginx_ws_read_timeout": 60}
    merged = merged_variables(launcher, {"app_extra_env": {"SENTRY_DSN": "x", "PYTHONUNBUFFERED": "0"},
                                         "nginx_ws_read_timeout": 5})
    assert merged["app_extra_env"] == {"PGHOST": "/stack/pg", "PYTHONUNBUFFERED": "0", "SENTRY_DSN": "x"}
    assert merged["nginx_ws_read_timeout"] == 5
    assert launcher["app_extra_env"] == {"PGHOST": "/stack/pg", "PYTHONUNBUFFERED": "1"}  # not changed in place


def test_the_launchers_placement_is_refused_all_at_once_with_the_option_to_use():
    with pytest.raises(StackError) as refused:
        merged_variables({}, {"app_run_dir": "/tmp/x", "nginx_http_port": 80, "app_secret_key": "k", "ok": 1})
    message = str(refused.value)
    assert "app_run_dir is set by the local stack itself (use --dir)" in message
    assert "nginx_http_port is set by the local stack itself (use --port)" in message
    assert "app_secret_key is set by the local stack itself" in message
    assert "ok" not in message.replace("cannot", "")


def test_every_launcher_owned_name_is_a_real_variable(tmp_path):
    stack = Stack(tmp_path / "stack", port=18080, daphne=1)
    assert set(LAUNCHER_OWNED) <= set(stack.variables)


def test_app_extra_env_from_a_vars_file_keeps_the_launchers_database_socket(tmp_path):
    """`--set 'app_extra_env={...}'` used to replace PGHOST: every process then failed to reach
    PostgreSQL with a PoolTimeout traceback."""
    vars_file = tmp_path / "my-vars.yml"
    vars_file.write_text(yaml.safe_dump({"app_extra_env": {"WS_LOG_CONNECTIONS": "true"}}))
    stack = Stack(tmp_path / "stack", port=18080, daphne=1, vars_files=[vars_file],
                  overrides={"nginx_ws_read_timeout": 90})
    extra = stack.variables["app_extra_env"]
    assert extra["WS_LOG_CONNECTIONS"] == "true"
    assert extra["PGHOST"] == str(stack.postgres.socket_dir)
    assert stack.variables["nginx_ws_read_timeout"] == 90


@pytest.mark.parametrize(("content", "words"), [
    (None, "No such file or directory"),
    ("app_extra_env: [unclosed", "is not valid YAML"),
    ("app_run_dir: /tmp/elsewhere\nnginx_http_port: 9\n", "use --dir"),
])
def test_bad_vars_are_refused_before_anything_starts(tmp_path, capsys, content, words):
    vars_file = tmp_path / "my-vars.yml"
    if content is not None:
        vars_file.write_text(content)
    assert main(["--dir", str(tmp_path / "stack"), "up", "--port", "18080", "--vars", str(vars_file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stack: ") and words in err
    assert "Traceback" not in err
    assert not (tmp_path / "stack" / "supervisor").exists()


@pytest.mark.process
def test_make_stack_passes_each_vars_file():
    result = subprocess.run(["make", "-n", "-C", str(REPO_DIR), "stack", "VARS=a.yml b.yml",
                             f"PY={sys.executable}"], capture_output=True, text=True, check=True)
    (line,) = [line for line in result.stdout.splitlines() if "-m ops.stack" in line]
    assert line.endswith("--vars a.yml --vars b.yml"), line
