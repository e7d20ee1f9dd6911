"""What never reaches git from a checkout that is used as documented: Terraform's state, plans,
provider cache and your tfvars (the guides run Terraform inside terraform/envs/), your env files
and the local stack's state; the examples stay tracked."""

import subprocess

import pytest

from ops.tools import REPO_DIR

pytestmark = pytest.mark.process  # runs commands: not in `make unit`

IGNORED = [
    "terraform/envs/single-vm/terraform.tfstate",
    "terraform/envs/single-vm/terraform.tfstate.backup",
    "terraform/envs/cluster/terraform.tfstate.1733000000.backup",
    "terraform/envs/cluster/.terraform/providers/registry.terraform.io/hashicorp/aws/x",
    "terraform/envs/cluster/terraform.tfvars",
    "terraform/envs/cluster/prod.auto.tfvars",
    "terraform/envs/cluster/prod.auto.tfvars.json",
    "terraform/envs/cluster/plan.tfplan",
    "terraform/envs/single-vm/tfplan",
    "terraform/envs/single-vm/override.tf",
    ".env.prod",
    "app/.env",
    ".stack/secret_key",
    ".venv/ops/bin/ansible",
]
KEPT = [
    "terraform/envs/single-vm/terraform.tfvars.example",
    "terraform/envs/cluster/terraform.tfvars.example",
    ".env.prod.example",
    ".env.example",
]


def ignored(path):
    return subprocess.run(["git", "-C", str(REPO_DIR), "check-ignore", "-q", "--no-index", path]).returncode == 0


@pytest.mark.parametrize("path", IGNORED)
def test_ignored(path):
    assert ignored(path)


@pytest.mark.parametrize("path", KEPT)
def test_kept(path):
    assert not ignored(path)
    assert (REPO_DIR / path).exists()


def test_no_tracked_file_is_ignored():
    result = subprocess.run(["git", "-C", str(REPO_DIR), "ls-files", "-ci", "--exclude-standard"],
                            capture_output=True, text=True, check=True)
    assert result.stdout == ""
