"""The core's cloud-init user-data boots a host ready for the playbook, then the playbook runs
against it over SSH, as a user would after `terraform apply` (offline: no cloud, no registry).

1. The core (tests/terraform/boot/main.tf: topology "single") renders the user-data with a key
   pair made for this test.
2. A "fresh VM" stand-in boots with it: a podman container of tests/terraform/boot/Containerfile
   (the systemd base image + cloud-init + openssh-server), systemd as PID 1, the user-data and
   meta-data as a NoCloud seed at /var/lib/cloud/seed/nocloud/, so cloud-init's own units run
   at boot as on a VM.
3. The host is ready: cloud-init done without errors, the admin user with the key, sudo
   without password, no password logins, python3; and `ssh admin@<address>` from here works.
4. The core renders the inventory with the container's address; ansible-playbook site.yml runs
   through it (its group_vars and vault beside it, as ansible/README.md has users do), then
   https://<server name>/api/websocket/health/ answers 200 through nginx.

The image is built once per machine: its tag is a hash of tests/terraform/boot/'s image files.
Times go to test-artifacts/cloud-init-boot-times.txt. Under CI=true a missing podman, ssh or
ssh-keygen fails here (ops.testing.tools.require_tool)."""

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

from ops.testing import hosts
from ops.testing.artifacts import append_line
from ops.testing.client import Site
from ops.testing.tools import prepared_environment, require_tool
from ops.tools import REPO_DIR

from .conftest import VENV_BIN, check, copy_tree, run

ANSIBLE_DIR = REPO_DIR / "ansible"
BOOT_DIR = Path(__file__).resolve().parent / "boot"
IMAGE_FILES = ("Containerfile", "99-cs-boot.cfg")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
EXAMPLE_INVENTORY = ANSIBLE_DIR / "inventories" / "single-host"
SERVER_NAME = yaml.safe_load((EXAMPLE_INVENTORY / "group_vars" / "all" / "main.yml").read_text())[
    "app_server_names"][0]
BOOT_TIMEOUT = 300  # cloud-init status --wait, seconds (about 5 s here: apt-get update + python3)

# A cold machine builds the base image (debootstrap, ~1 min) and this one before the first test.
pytestmark = pytest.mark.timeout(1800)


def figure(line):
    print(line)
    append_line("cloud-init-boot-times.txt", line)


@pytest.fixture(scope="module")
def podman_env():
    """The environment podman runs with: CONTAINERS_CONF and the base image, from
    ansible/molecule/prepare-host.sh (which builds the base image once per machine)."""
    require_tool("podman", "the user-data is booted in a podman container with systemd and cloud-init")
    return prepared_environment(ANSIBLE_DIR / "molecule" / "prepare-host.sh")


def podman(env, *args, timeout=120, ok=True):
    result = subprocess.run(["podman", *args], env=env, capture_output=True, text=True, timeout=timeout)
    if ok:
        check(result)
    return result


@pytest.fixture(scope="module")
def boot_image(podman_env):
    """The "fresh VM" image: built once per machine and content of tests/terraform/boot/."""
    digest = hashlib.sha256()
    for name in IMAGE_FILES:
        digest.update((BOOT_DIR / name).read_bytes())
    base = podman_env["MOLECULE_IMAGE"]
    digest.update(base.encode())
    image = f"localhost/cs-boot-cloud-init:{digest.hexdigest()[:12]}"
    if podman(podman_env, "image", "exists", image, ok=False).returncode == 0:
        figure(f"image {image}: cached")
        return image
    started = time.monotonic()
    podman(podman_env, "build", "--layers=false", "--build-arg", f"BASE_IMAGE={base}", "-t", image,
           str(BOOT_DIR), timeout=900)
    figure(f"image {image}: built in {time.monotonic() - started:.0f} s")
    return image


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory):
    ssh_keygen = require_tool("ssh-keygen", "the admin's key pair of the booted host is made for the test")
    key = tmp_path_factory.mktemp("key") / "id_ed25519"
    check(run([ssh_keygen, "-q", "-t", "ed25519", "-N", "", "-C", "cs-boot-test", "-f", str(key)], None, None))
    return key, key.with_suffix(".pub").read_text().strip()


class Core:
    """tests/terraform/boot (the core for one host) in a temporary copy: apply, then outputs."""

    def __init__(self, terraform, root, public_key):
        self.binary, self.env = terraform
        self.workdir = copy_tree(root, "terraform/modules/core", "tests/terraform/boot") / "tests/terraform/boot"
        self.public_key = public_key
        check(run([self.binary, "init", "-backend=false", "-no-color"], self.workdir, self.env))

    def apply(self, **variables):
        variables = {"admin_ssh_public_key": self.public_key, **variables}
        arguments = [f"-var={name}={value}" for name, value in variables.items()]
        check(run([self.binary, "apply", "-auto-approve", "-no-color", *arguments], self.workdir, self.env))
        outputs = json.loads(check(run([self.binary, "output", "-json"], self.workdir, self.env)).stdout)
        return {name: output["value"] for name, output in outputs.items()}


@pytest.fixture(scope="module")
def core(terraform, tmp_path_factory, key_pair):
    return Core(terraform, tmp_path_factory.mktemp("boot-core"), key_pair[1])


@pytest.fixture(scope="module")
def booted(podman_env, boot_image, core, tmp_path_factory):
    """A container booted from the core's user-data (NoCloud seed), cloud-init finished:
    (name, hostname, outputs of the first apply). Always removed afterwards."""
    rendered = core.apply()  # the user-data does not depend on the address (not known yet)
    host = rendered["hosts"][0]
    seed = tmp_path_factory.mktemp("seed")
    (seed / "user-data").write_text(rendered["user_data"])
    name = f"cs-boot-{uuid.uuid4().hex[:8]}"
    (seed / "meta-data").write_text(yaml.safe_dump({"instance-id": name, "local-hostname": host["server_name"]}))
    ca = ["-v", f"{HOST_CA}:/run/host-ca.crt:ro"] if HOST_CA.is_file() else []
    started = time.monotonic()
    try:
        # As molecule/full runs its host (NET_ADMIN: the common role's nftables); --hostname as
        # the seed's local-hostname, since cloud-init cannot set it here (see boot/README.md).
        podman(podman_env, "run", "-d", "--name", name, "--systemd=always", "--cap-add", "NET_ADMIN",
               "--hostname", host["server_name"], "-v", f"{seed}:/var/lib/cloud/seed/nocloud:ro", *ca,
               boot_image, "/sbin/init")
        waited = podman(podman_env, "exec", name, "timeout", str(BOOT_TIMEOUT), "cloud-init", "status", "--wait",
                        "--long", timeout=BOOT_TIMEOUT + 30, ok=False)
        figure(f"boot to cloud-init done: {time.monotonic() - started:.0f} s "
               f"(cloud-init status rc={waited.returncode})")
        yield name, host, waited
    finally:
        podman(podman_env, "rm", "--force", "--time", "5", name, ok=False)


def inside(podman_env, name, *command, ok=True):
    return podman(podman_env, "exec", name, *command, ok=ok)


def ssh_command(key, address, *command):
    ssh = require_tool("ssh", "the booted host is reached over SSH as the admin user, like Ansible does")
    return [ssh, "-i", str(key), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            f"admin@{address}", *command]


def test_cloud_init_done_without_errors(podman_env, booted):
    name, _, waited = booted
    status = json.loads(inside(podman_env, name, "cloud-init", "status", "--format", "json", ok=False).stdout)
    log = inside(podman_env, name, "sh", "-c", "grep -E 'WARNING|ERROR' /var/log/cloud-init.log || true").stdout
    assert (status["status"], status["errors"]) == ("done", []), f"{waited.stdout}\n{status}\n{log}"
    assert status["datasource"] == "nocloud", status
    # Every unit up, cloud-init's own (cloud-init-local, cloud-init, cloud-config, cloud-final) too.
    running = inside(podman_env, name, "systemctl", "is-system-running", "--wait", ok=False).stdout.strip()
    failed = inside(podman_env, name, "systemctl", "--failed", "--no-legend", ok=False).stdout
    assert running == "running", failed
    for unit in ("cloud-init-local", "cloud-init", "cloud-config", "cloud-final"):
        result = inside(podman_env, name, "systemctl", "show", "-P", "Result", f"{unit}.service").stdout
        assert result.strip() == "success", unit


def test_host_ready_for_the_playbook(podman_env, booted, key_pair):
    name, _, _ = booted
    _, public_key = key_pair
    assert "sudo" in inside(podman_env, name, "id", "-nG", "admin").stdout.split()
    assert public_key in inside(podman_env, name, "cat", "/home/admin/.ssh/authorized_keys").stdout
    assert inside(podman_env, name, "runuser", "-u", "admin", "--", "sudo", "-n", "true", ok=False).returncode == 0
    assert inside(podman_env, name, "getent", "shadow", "admin").stdout.split(":")[1].startswith("!")  # locked
    sshd = inside(podman_env, name, "sshd", "-T").stdout.lower().splitlines()
    assert "passwordauthentication no" in sshd
    assert "kbdinteractiveauthentication no" in sshd
    # disable_root: root gets no key of ours
    root_keys = inside(podman_env, name, "sh", "-c", "cat /root/.ssh/authorized_keys 2>/dev/null || true").stdout
    assert public_key not in root_keys
    assert inside(podman_env, name, "/usr/bin/python3", "--version").stdout.startswith("Python 3")


def test_ssh_as_admin_from_the_controller(booted, key_pair):
    name, host, _ = booted
    key, _ = key_pair
    command = ssh_command(key, hosts.address(name), "sudo -n true && hostname && /usr/bin/python3 -c 'print(1)'")
    result = None
    for _ in range(20):  # cloud-init restarts sshd as it finishes: give it a moment
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
        if result.returncode == 0:
            break
        time.sleep(0.5)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [host["server_name"], "1"]


def test_playbook_through_the_rendered_inventory(booted, core, key_pair, tmp_path):
    name, _, _ = booted
    key, _ = key_pair
    address = hosts.address(name)
    playbook_bin = VENV_BIN / "ansible-playbook"
    if not playbook_bin.exists():
        playbook_bin = require_tool("ansible-playbook", "the playbook runs against the booted host")
    # The inventory as terraform writes it, this time with the container's address, beside a
    # copy of the example inventory's group_vars (and its vault).
    inventory = tmp_path / "inventory"
    shutil.copytree(EXAMPLE_INVENTORY / "group_vars", inventory / "group_vars")
    (inventory / "hosts.yml").write_text(core.apply(address=address)["inventory"])
    # What a container needs and a VM does not, as ansible/molecule/full/host_vars: pip on the
    # host trusts the controller's CA bundle (mounted at /run/host-ca.crt).
    host_vars = {"app_pip_environment": {"PIP_CERT": "/run/host-ca.crt"}} if HOST_CA.is_file() else {}
    # Secrets of its own, as ansible/README.md has users make: the preflight refuses the example
    # vault's published ones.
    host_vars.update(app_secret_key=secrets.token_urlsafe(50), app_redis_password=secrets.token_urlsafe(24),
                     app_database_password=secrets.token_urlsafe(24))
    (inventory / "host_vars").mkdir()
    (inventory / "host_vars" / "app1.yml").write_text(yaml.safe_dump(host_vars))
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_HOST_KEY_CHECKING": "False",
           "ANSIBLE_SSH_COMMON_ARGS": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"}
    env.pop("ANSIBLE_VAULT_PASSWORD_FILE", None)
    started = time.monotonic()
    result = subprocess.run(
        [str(playbook_bin), "-i", str(inventory / "hosts.yml"), "site.yml",
         "--vault-password-file", str(ANSIBLE_DIR / "vault-password.example"),
         "--private-key", str(key), "-e", "ansible_python_interpreter=/usr/bin/python3"],
        cwd=ANSIBLE_DIR, env=env, capture_output=True, text=True, timeout=1100,
    )
    figure(f"ansible-playbook site.yml over SSH: {time.monotonic() - started:.0f} s, exit {result.returncode}")
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]

    site = Site(SERVER_NAME, address)
    hosts.wait_for(lambda: hosts.http_ok(site), 60, f"{site.base_url}/api/websocket/health/ at {address}")
