"""The provider modules and the envs: checkov (zero failed checks, every suppression with
its reason) and `terraform validate`, which needs the providers: where they cannot be
downloaded (CI here has no registry) that one test is skipped and says so."""

import json
import os
import re
import shutil
import subprocess

import pytest

from ops.testing.tools import require_tool
from ops.tools import REPO_DIR

from .conftest import TERRAFORM_DIR, check, copy_tree, run

NEEDS_PROVIDERS = ["modules/aws", "modules/hcloud", "envs/single-vm", "envs/cluster"]
# terraform init's words when the registry (or the provider's download) cannot be reached.
UNREACHABLE = re.compile(r"Failed to query available provider packages|Failed to install provider|"
                         r"could not connect to registry|registry\.terraform\.io|dial tcp|no such host|"
                         r"i/o timeout|connection refused|TLS handshake", re.IGNORECASE)


@pytest.mark.parametrize("module", NEEDS_PROVIDERS)
def test_validate_with_providers(terraform, tmp_path, module):
    binary, env = terraform
    workdir = copy_tree(tmp_path, "terraform") / "terraform" / module
    init = run([binary, "init", "-backend=false", "-no-color"], workdir, env, timeout=170)
    if init.returncode != 0 and UNREACHABLE.search(init.stdout + init.stderr):
        pytest.skip(f"terraform validate of {module}: NOT RUN, providers cannot be downloaded here")
    check(init)
    check(run([binary, "validate", "-no-color"], workdir, env))


def checkov_binary():
    """checkov lives in its own locked venv (terraform/requirements.txt): it pins
    packaging<24, which the project's dev lock cannot have."""
    for candidate in (os.environ.get("CHECKOV"), REPO_DIR / ".venv/checkov/bin/checkov", shutil.which("checkov")):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    return require_tool("checkov", "the Terraform modules are scanned by checkov (its venv: "
                                   "`make .venv/checkov/bin/checkov`)")


@pytest.fixture(scope="module")
def checkov_report(tmp_path_factory):
    binary = checkov_binary()
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    result = subprocess.run([binary, "-d", str(TERRAFORM_DIR), "--framework", "terraform", "--output", "json",
                             "--skip-download"],
                            capture_output=True, text=True, timeout=170, env=env)
    assert result.returncode in (0, 1), \
        f"checkov rc={result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    report = json.loads(result.stdout)
    return report if isinstance(report, dict) else next(r for r in report if r.get("check_type") == "terraform")


def test_checkov_no_failed_check(checkov_report):
    summary = checkov_report["summary"]
    failed = [f"{item['check_id']} {item['resource']} ({item['file_path']}:{item['file_line_range']})"
              for item in checkov_report["results"]["failed_checks"]]
    assert summary["failed"] == 0 and not failed, "\n".join(failed)
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 0
    scanned = {"/".join(item["file_path"].split("/")[1:3]) for item in checkov_report["results"]["passed_checks"]}
    assert any(path.endswith("aws") or path == "envs/cluster" for path in scanned), scanned


def test_every_checkov_suppression_is_justified(checkov_report):
    skips = []
    for path in TERRAFORM_DIR.rglob("*.tf"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "checkov:skip" in line:
                skips.append((path.relative_to(REPO_DIR), number, line.strip()))
    for path, number, line in skips:
        match = re.fullmatch(r"#checkov:skip=(CKV2?_[A-Z0-9]+_\d+):(.{20,})", line)
        assert match, f"{path}:{number}: write `#checkov:skip=CKV_...:the reason` ({line})"
    skipped = {item["check_id"] for item in checkov_report["results"]["skipped_checks"]}
    assert skipped == {re.search(r"CKV2?_[A-Z0-9]+_\d+", line).group(0) for _, _, line in skips}


def test_no_terraform_state_in_the_repository():
    leftovers = [path for pattern in (".terraform", "*.tfstate", "terraform.tfvars")
                 for path in (REPO_DIR / "terraform").rglob(pattern)]
    leftovers += list((REPO_DIR / "tests/terraform").rglob(".terraform"))
    assert not leftovers, leftovers
