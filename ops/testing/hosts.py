"""Test hosts made by molecule (podman containers with systemd as PID 1), seen from outside:
their addresses, commands inside them, the files Ansible installed, and playbook runs against
them. Used by the verifiers in ansible/molecule/*/tests/."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import testinfra
import yaml

from ops import render
from ops.testing.client import http
from ops.tools import REPO_DIR

ANSIBLE_DIR = REPO_DIR / "ansible"
APP_NAME = render.variables_from()["app_name"]


def podman_host(name):
    """testinfra's host for the container `name` (commands through podman exec: fast)."""
    return testinfra.get_host(f"podman://{name}")


def address(name):
    """The container's address on podman's network: where tests send their traffic."""
    return subprocess.check_output(
        ["podman", "inspect", "-f", "{{.NetworkSettings.IPAddress}}", name], text=True
    ).strip()


def run(host, command):
    """Run a command in the host; fail the test with its output if it fails."""
    result = host.run(command)
    assert result.rc == 0, f"{command}: rc={result.rc}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def seed_demo(host, password):
    """The demo users, with one password, on a deployed host."""
    run(host, f"/usr/local/bin/{APP_NAME}-manage seed_demo --allow-production --password {password}")


def recorded_variables(host_name):
    """What converge recorded: the variables the inventory sets for host_name."""
    ephemeral = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    return json.loads((ephemeral / f"variables-{host_name}.json").read_text())


def rendered_vs_installed(host, host_name, targets):
    """[(dest, rendered text, installed text)] for every output of targets: what ops.render
    makes of the host's variables beside what the roles installed."""
    variables = render.variables_from(overrides=recorded_variables(host_name))
    pairs = []
    for output in render.outputs(variables, targets):
        installed = host.file(output["dest"])
        assert installed.exists, output["dest"]
        pairs.append((output["dest"], render.render_text(variables, output), installed.content_string))
    return pairs


def playbook(playbook_name, *extra, check=True, timeout=1800):
    """ansible-playbook from ansible/ against molecule's inventory; returns the result."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", inventory, playbook_name, *extra],
        cwd=ANSIBLE_DIR, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"},
    )
    if check:
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    return result


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout} s")


def http_ok(site, path="/api/websocket/health/"):
    """The site answers path with 200."""
    return http("GET", site.base_url + path)[0] == 200


def role_without_secrets(host, role, tmp_path):
    """Run `role` alone on the host, without the inventory (so without the vault's secrets)."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(f"- hosts: all\n  gather_facts: false\n  roles: [{role}]\n")
    return subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", host.backend.get_hostname() + ",",
         "-c", "containers.podman.podman", str(playbook)],
        env={**os.environ, "ANSIBLE_ROLES_PATH": str(ANSIBLE_DIR / "roles"), "ANSIBLE_NOCOLOR": "1"},
        capture_output=True, text=True, timeout=300,
    )


def example_secret(name):
    """A variable of the single-host inventory's example vault (what the scenarios converge with)."""
    out = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-vault")), "view", "--vault-password-file",
         str(ANSIBLE_DIR / "vault-password.example"),
         str(ANSIBLE_DIR / "inventories" / "single-host" / "group_vars" / "all" / "vault.yml")],
        check=True, capture_output=True, text=True,
    ).stdout
    return yaml.safe_load(out)[name]
