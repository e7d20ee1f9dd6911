"""Fixtures of the Terraform tests: terraform run offline in temporary copies (no .terraform/
is ever left in the repository), and the core module applied through tests/terraform/fixture."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ops.testing.tools import require_tool
from ops.tools import REPO_DIR

TERRAFORM_DIR = REPO_DIR / "terraform"
FIXTURE_DIR = Path(__file__).resolve().parent / "fixture"
VENV_BIN = Path(sys.executable).parent


def run(command, cwd, env, timeout=120):
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return result


def check(result):
    assert result.returncode == 0, f"{' '.join(map(str, result.args))}: rc={result.returncode}\n" \
                                   f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


@pytest.fixture(scope="session")
def terraform(tmp_path_factory):
    """The terraform binary and an environment for it: no CLI config (the machine's
    TF_CLI_CONFIG_FILE points at a missing file), no prompts, no colour, no checkpoint calls."""
    binary = require_tool("terraform", "the Terraform modules are checked with terraform fmt / validate / test")
    config = tmp_path_factory.mktemp("tf-cli") / "terraformrc"
    config.write_text("")
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1", "TF_INPUT": "0",
           "CHECKPOINT_DISABLE": "1", "NO_COLOR": "1"}
    env.pop("TF_DATA_DIR", None)
    return binary, env


def copy_tree(tmp_path, *relative_dirs):
    """Copy repository directories into tmp_path with the same relative layout (module
    sources are relative paths), leaving out any .terraform/ or state a user may have."""
    ignore = shutil.ignore_patterns(".terraform", "*.tfstate*", ".terraform.lock.hcl", "terraform.tfvars")
    for relative in relative_dirs:
        shutil.copytree(REPO_DIR / relative, tmp_path / relative, ignore=ignore)
    return tmp_path


@pytest.fixture(scope="session")
def rendered(terraform, tmp_path_factory):
    """terraform apply of tests/terraform/fixture (the core with example host lists, wired
    to stand-in servers as the envs wire it to real ones): its outputs."""
    binary, env = terraform
    root = copy_tree(tmp_path_factory.mktemp("fixture"), "terraform/modules/core", "tests/terraform/fixture")
    workdir = root / "tests/terraform/fixture"
    check(run([binary, "init", "-backend=false", "-no-color"], workdir, env))
    check(run([binary, "apply", "-auto-approve", "-no-color"], workdir, env))
    outputs = json.loads(check(run([binary, "output", "-json"], workdir, env)).stdout)
    return {name: output["value"] for name, output in outputs.items()}


@pytest.fixture(scope="session")
def ansible_env():
    if not (VENV_BIN / "ansible-playbook").exists():
        require_tool("ansible-playbook",
                     "the rendered inventories are checked by ansible-inventory and ansible-playbook")
    return {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}", "ANSIBLE_NOCOLOR": "1"}
