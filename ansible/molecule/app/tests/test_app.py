"""What role app promises, checked on the app scenario's container: one host in every group
(inventories/single-host, its group_vars and example vault), roles common, redis, postgresql
and app, no nginx."""

import json
import re

import pytest

from conftest import APP, NAME, health, sockets
from ops import render
from ops.testing import hosts

UNITS = [f"{APP}-http.service", f"{APP}-daphne@1.service", f"{APP}-daphne@2.service"]
MANAGE = f"/usr/local/bin/{APP}-manage"
CONNECT = "import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])"


def current_release(host, variables):
    return host.file(variables["app_current"]).linked_to


@pytest.mark.parametrize("unit", UNITS)
def test_units_run_as_the_app_user_and_start_at_boot(host, variables, unit):
    service = host.service(unit)
    assert service.is_enabled, unit
    assert service.is_running, unit
    assert host.check_output(f"systemctl show {unit} -p NRestarts --value") == "0", unit
    pid = host.check_output(f"systemctl show {unit} -p MainPID --value")
    assert host.check_output(f"stat -c %U /proc/{pid}") == variables["app_user"], unit


def test_the_target_starts_every_process_at_boot(host):
    assert host.service(f"{APP}.target").is_enabled
    assert host.check_output(f"systemctl show {APP}.target -p WantedBy --value") == "multi-user.target"
    wants = host.check_output(f"systemctl show {APP}.target -p Wants --value").split()
    assert sorted(wants) == sorted(UNITS)
    for unit in UNITS:  # so `systemctl stop/restart <app>.target` reaches each of them
        assert host.check_output(f"systemctl show {unit} -p PartOf --value") == f"{APP}.target", unit


def test_the_environment_file_is_readable_by_the_app_group_only(host, variables):
    env = host.file(variables["app_env_file"])
    assert (env.user, env.group, env.mode) == ("root", variables["app_group"], 0o640)
    directory = host.file(env.path.rsplit("/", 1)[0])
    assert (directory.user, directory.group, directory.mode) == ("root", variables["app_group"], 0o750)
    assert host.run("runuser -u nobody -- cat %s", env.path).rc != 0


def test_installed_files_are_what_the_renderer_makes(host):
    """The role rendered systemd/ (the units, tmpfiles entry, app.env) with
    ansible.builtin.template; ops.render makes the same bytes from the same variables."""
    targets = ("systemd", "env")
    pairs = hosts.rendered_vs_installed(host, NAME, targets)
    assert len(pairs) == sum(output["target"] in targets for output in render.MANIFEST["outputs"])
    for dest, rendered, installed in pairs:
        assert installed == rendered, dest


def test_current_is_a_link_to_a_complete_release(host, variables):
    link = host.file(variables["app_current"])
    assert link.is_symlink
    release = link.linked_to
    releases, _, release_id = release.rpartition("/")
    assert releases == f"{variables['app_home']}/releases"
    assert re.fullmatch(r"[0-9a-f]{12}", release_id), release
    assert host.file(f"{release}/.complete").content_string == f"{release_id}\n"
    for part in ("app", "venv", "static"):
        assert host.file(f"{release}/{part}").is_directory, part
    assert host.file(f"{release}/app/manage.py").is_file
    assert host.file(f"{release}/venv/bin/daphne").is_file
    manifest = json.loads(host.file(f"{release}/static/staticfiles.json").content_string)
    assert manifest["paths"], "collectstatic wrote an empty manifest"
    # The units and nginx name the link, never a release.
    assert variables["app_dir"] == f"{variables['app_current']}/app"


def test_release_belongs_to_root_and_the_app_cannot_change_it(host, variables):
    release = current_release(host, variables)
    assert hosts.run(host, f"find {release} ! -user root -print -o ! -group root -print") == ""
    assert hosts.run(host, f"find {release} ! -type l -perm /022 -print") == ""
    user = variables["app_user"]
    assert hosts.run(host, f"runuser -u {user} -- find {release} -writable -print") == ""
    attempt = host.run("runuser -u %s -- touch %s", user, f"{release}/app/manage.py")
    assert attempt.rc != 0 and "Permission denied" in attempt.stderr


def test_socket_directory_admits_the_web_server_group_only(host, variables):
    run_dir = host.file(variables["app_run_dir"])
    assert run_dir.is_directory
    assert (run_dir.user, run_dir.group, run_dir.mode) == (variables["app_user"], variables["nginx_group"], 0o750)
    expected = sorted(path.rsplit("/", 1)[1] for path in sockets(variables).values())
    present = sorted(name for name in run_dir.listdir() if not name.endswith(".lock"))
    assert present == expected
    for path in sockets(variables).values():
        assert host.file(path).is_socket, path


@pytest.mark.parametrize("process", ["http", "daphne@1", "daphne@2"])
def test_each_process_is_healthy_on_its_own_socket(host, variables, process):
    """As nginx's user (www-data): the group of the socket directory is enough to connect."""
    status, body = health(host, sockets(variables)[process], user=variables["nginx_group"])
    assert status == 200, body
    answer = json.loads(body)
    assert answer["status"] == "ok", answer
    server = answer["checks"]["server"]["detail"]
    # SERVER_INSTANCE_ID=%H:daphne-%i (or %H:http): the answer came from this very process.
    assert server["instance"].endswith(":" + process.replace("@", "-")), server
    assert server["interface"] == "asgi", server
    assert answer["checks"]["token_cache"]["status"] == "ok"


def test_other_users_cannot_reach_the_sockets(host, variables):
    """The directory keeps out whoever is neither the app user nor in nginx's group."""
    for path in sockets(variables).values():
        out = host.run("runuser -u nobody -- python3 -c %s %s", CONNECT, path)
        assert out.rc != 0 and "PermissionError" in out.stderr, (path, out.stdout, out.stderr)


def test_the_manage_wrapper_runs_manage_py_as_the_app_user(host, variables):
    wrapper = host.file(MANAGE)
    assert (wrapper.user, wrapper.group, wrapper.mode) == ("root", "root", 0o755)
    whoami = hosts.run(host, f"{MANAGE} shell -c 'import getpass; print(getpass.getuser())'")
    assert whoami.splitlines()[-1] == variables["app_user"]


def test_production_settings_pass_the_deploy_checks(host):
    out = host.run(f"{MANAGE} check --deploy --fail-level WARNING")
    assert out.rc == 0, out.stdout + out.stderr
    assert "System check identified no issues" in out.stdout, out.stdout + out.stderr


def test_every_migration_is_applied(host):
    plan = hosts.run(host, f"{MANAGE} showmigrations --plan").splitlines()
    assert plan and all(line.startswith("[X]") for line in plan), [line for line in plan if "[X]" not in line]


def test_migrate_created_the_token_cache_table(host, variables):
    query = ("SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = 'token_cache'")
    owner = hosts.run(host, f"runuser -u postgres -- psql -d {variables['app_database_name']} -tAc \"{query}\"")
    assert owner.strip() == variables["app_database_user"]


CLEANUP = f"{APP}-token-cleanup"


def test_the_token_cleanup_timer_is_enabled_and_scheduled(host):
    timer = host.service(f"{CLEANUP}.timer")
    assert timer.is_enabled and timer.is_running  # a timer waiting for its next run is "active"
    assert host.check_output(f"systemctl show {CLEANUP}.timer -p WantedBy --value") == "timers.target"
    assert host.check_output(f"systemctl show {CLEANUP}.timer -p Triggers --value") == f"{CLEANUP}.service"
    assert host.check_output(f"systemctl show {CLEANUP}.timer -p NextElapseUSecRealtime --value") not in ("", "n/a")


def test_the_token_cleanup_deletes_expired_entries_and_keeps_live_ones(host, variables):
    """The timer's service, started as the timer starts it: it exits 0 and deletes the expired
    row only (issue 20)."""
    keys = {"expired": "molecule-cleanup:expired", "live": "molecule-cleanup:live"}
    seed = ("from tokens.store import token_cache; c = token_cache(); "
            f"c.set('{keys['expired']}', 1, timeout=-1); c.set('{keys['live']}', 1, timeout=3600)")
    hosts.run(host, f'{MANAGE} shell -c "{seed}"')
    hosts.run(host, f"systemctl start {CLEANUP}.service")  # a oneshot: returns when it has run
    assert host.check_output(f"systemctl show {CLEANUP}.service -p Result --value") == "success"
    assert host.check_output(f"systemctl show {CLEANUP}.service -p ExecMainStatus --value") == "0"
    query = "SELECT cache_key FROM token_cache WHERE cache_key LIKE '%molecule-cleanup:%'"
    left = hosts.run(host, f"runuser -u postgres -- psql -d {variables['app_database_name']} -tAc \"{query}\"")
    assert left.split() == [f":1:{keys['live']}"]
    forget = f"from tokens.store import token_cache; token_cache().delete('{keys['live']}')"
    hosts.run(host, f'{MANAGE} shell -c "{forget}"')
