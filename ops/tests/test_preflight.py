"""Ansible's preflight role, run for real (ansible-playbook on the controller, a local host):
it refuses the published example secrets whatever the inventory calls them, and gives the
renderer's report in the same failure, so one run names every problem."""

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ops.tools import REPO_DIR

pytestmark = pytest.mark.process  # runs commands: not in `make unit`

ANSIBLE_DIR = REPO_DIR / "ansible"
PLAYBOOK = "- name: Preflight\n  hosts: all\n  gather_facts: false\n  roles:\n    - role: preflight\n"


def example_vault(inventory):
    out = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-vault")), "view", "--vault-password-file",
         str(ANSIBLE_DIR / "vault-password.example"), str(ANSIBLE_DIR / "inventories" / inventory / "group_vars" /
                                                         "all" / "vault.yml")],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout
    vault = yaml.safe_load(out)
    return {name.removeprefix("vault_"): value for name, value in vault.items()}


def own_secrets():
    return {"app_secret_key": secrets.token_urlsafe(50), "app_redis_password": secrets.token_urlsafe(24),
            "app_database_password": secrets.token_urlsafe(24)}


def preflight(tmp_path, variables):
    """ansible-playbook with the preflight role on one local host, outside ansible/ (no
    ansible.cfg, no vault): the variables come as extra vars."""
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    web1:\n      ansible_connection: local\n")
    (tmp_path / "vars.json").write_text(json.dumps({**variables, "ansible_python_interpreter": sys.executable}))
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_ROLES_PATH": str(ANSIBLE_DIR / "roles"), "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp")}
    return subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "hosts.yml", "site.yml", "-e", "@vars.json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )


def test_own_secrets_pass(tmp_path):
    result = preflight(tmp_path, {**own_secrets(), "app_server_names": ["chat.example.org"]})
    assert result.returncode == 0, result.stdout[-4000:]
    assert "failed=0" in result.stdout


@pytest.mark.parametrize("inventory", ["single-host", "cluster"])
def test_the_example_vaults_secrets_are_refused_with_how_to_make_real_ones(tmp_path, inventory):
    published = example_vault(inventory)
    assert set(published) == {"app_secret_key", "app_redis_password", "app_database_password"}
    result = preflight(tmp_path, published)
    assert result.returncode != 0
    assert ("app_secret_key, app_redis_password, app_database_password are the published example secrets of "
            "this repository") in result.stdout
    assert "secrets.token_urlsafe(50)" in result.stdout and "ansible-vault edit" in result.stdout
    assert not [value for value in published.values() if value in result.stdout + result.stderr]


def test_one_published_secret_among_own_ones_is_named(tmp_path):
    """Whatever the inventory calls it: here set directly, not through vault_* names."""
    variables = {**own_secrets(), "app_redis_password": example_vault("single-host")["app_redis_password"]}
    result = preflight(tmp_path, variables)
    assert result.returncode != 0
    assert "app_redis_password is the published example secret of this repository" in result.stdout


def test_the_renderers_problems_and_the_published_secrets_come_in_one_failure(tmp_path):
    variables = {**example_vault("single-host"), "app_server_names": "chat.example.org", "daphne_instances": 0}
    result = preflight(tmp_path, variables)
    assert result.returncode != 0
    assert result.stdout.count("fatal:") == 1
    for problem in ("app_server_names must be a list, e.g. app_server_names: [chat.example.org]",
                    "daphne_instances is 0: it must be at least 1", "are the published example secrets"):
        assert problem in result.stdout, result.stdout[-4000:]
