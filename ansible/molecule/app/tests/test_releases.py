"""A second release through deploy.yml: `current` moves to it, every process is healthy on it,
and only the newest app_keep_releases releases stay (runs after test_app.py: it changes the
current release)."""

import json
import shutil
import uuid

import pytest

from conftest import health, sockets
from ops.testing import hosts
from ops.tools import APP_DIR

KEEP = 2


def release_copy(tmp_path):
    """A copy of app/ that differs from every deployed one, so it is a new release."""
    source = tmp_path / "next"
    shutil.copytree(APP_DIR, source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3",
                                                                   "staticfiles", ".env"))
    settings = source / "config" / "settings" / "production.py"
    settings.write_text(settings.read_text() + f"\n# the app scenario's release {uuid.uuid4().hex}\n")
    return source


@pytest.mark.timeout(900)
def test_a_new_release_replaces_the_current_one_and_old_ones_are_removed(host, variables, tmp_path):
    releases = f"{variables['app_home']}/releases"
    before = host.file(variables["app_current"]).linked_to
    # Three older releases (by mtime, which is what the role sorts on) that must go.
    stale = [f"{releases}/stale{n}" for n in range(3)]
    for n, path in enumerate(stale):
        hosts.run(host, f"mkdir -p {path}/app && touch -d 2001-01-0{n + 1} {path}")

    result = hosts.playbook("deploy.yml", "-e", f"app_release_source={release_copy(tmp_path)}",
                            "-e", json.dumps({"app_keep_releases": KEEP}))

    after = host.file(variables["app_current"]).linked_to
    assert after != before, result.stdout[-3000:]
    assert host.file(f"{after}/.complete").exists
    # The new one and the one before it (the rollback target); none of the stale ones.
    assert sorted(host.file(releases).listdir()) == sorted(path.rsplit("/", 1)[1] for path in (before, after))
    for process, socket in sockets(variables).items():
        status, body = health(host, socket)
        assert status == 200, f"{process}: {body}"
