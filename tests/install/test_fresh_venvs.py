"""Every venv the Makefile makes installs with the oldest pip a fresh machine gives.

`python3 -m venv` hands out the pip of the machine's Python: 23.0.1 on Debian 12, 23.2.1 with
pyenv's 3.11.7. pip < 23.3 refuses a hashed lock in which a package asks for another with an
extra (pip-audit's `CacheControl[filecache]`), so `make test` stopped at the dev install on a fresh
clone, while a reused venv that already held the package stayed green. Each recipe here runs in a
new venv seeded with pip 23.0.1, as on Debian 12 (app/requirements/pip.in).
"""

import os
import secrets
import subprocess
import sys

import pytest

from ops.tools import REPO_DIR

OLDEST_PIP = "23.0.1"
pytestmark = pytest.mark.timeout(900)
# Makefile target (under VENV) -> a module the venv must then import.
RECIPES = {
    ".dev-installed": "pytest, ansible, molecule, pip_audit, django",
    ".base-installed": "django, daphne, channels_redis, psycopg",
    "render/.installed": "jinja2, yaml",
    "ops/.installed": "ansible, jinja2, yaml, supervisor",
    "checkov/bin/checkov": "checkov",
}


def locked_pip_version():
    for line in (REPO_DIR / "app" / "requirements" / "pip.txt").read_text().splitlines():
        if line.startswith("pip=="):
            return line.split("==")[1].split()[0]
    raise AssertionError("app/requirements/pip.txt pins no pip")


def pip_version(python):
    out = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, text=True, check=True).stdout
    return out.split()[1]


def seeded_venv(directory):
    """A venv as a fresh Debian 12 machine makes it: pip 23.0.1 inside."""
    subprocess.run([sys.executable, "-m", "venv", directory], check=True)
    python = str(directory / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"pip=={OLDEST_PIP}"],
                   check=True, timeout=300)
    assert pip_version(python) == OLDEST_PIP
    return python


@pytest.mark.parametrize("target", RECIPES)
def test_the_makefile_recipe_installs_with_the_oldest_pip(tmp_path, target):
    venv = tmp_path / "venv"
    # The checkov and ops recipes make their venv themselves under VENV: seed that one.
    inner = target.split("/")[0] if "/" in target else ""
    python = seeded_venv(venv / inner if inner else venv)
    # No bytecode compiled: the recipe is the same, and compiling 1.2 GB of packages would take
    # the CPU from the molecule scenarios converging beside this suite.
    env = {**{key: value for key, value in os.environ.items() if not key.startswith("MAKE")}, "PIP_NO_COMPILE": "1"}
    result = subprocess.run(["make", "-C", str(REPO_DIR), f"VENV={venv}", str(venv / target)],
                            capture_output=True, text=True, env=env, timeout=840)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert pip_version(python) == locked_pip_version()
    assert "==> " in result.stdout, "the install announces itself before pip starts"
    subprocess.run([python, "-c", f"import {RECIPES[target]}"], check=True)
    if target.startswith("ops/"):  # what ansible/README.md and the Terraform guides run with it
        subprocess.run([str(venv / "ops" / "bin" / "ansible-playbook"), "--version"], check=True, capture_output=True)
        rendered = subprocess.run([python, "-m", "ops.render", "--out", str(tmp_path / "rendered"), "--set",
                                   "app_secret_key=" + secrets.token_urlsafe(50), "--set",
                                   "app_redis_password=" + secrets.token_urlsafe(24), "--set",
                                   "app_database_password=" + secrets.token_urlsafe(24)],
                                  cwd=REPO_DIR, capture_output=True, text=True)
        assert rendered.returncode == 0, rendered.stderr


def test_the_manual_install_steps_install_with_the_oldest_pip(tmp_path):
    """systemd/README.md's step 1 (the venv and its locks), as written, on Debian 12's pip."""
    readme = (REPO_DIR / "systemd" / "README.md").read_text()
    start = readme.index("```sh\n", readme.index("**1. The app user, and a release**")) + len("```sh\n")
    block = readme[start:readme.index("```", start)]
    installs = [line.split("   #")[0] for line in block.splitlines() if '/venv/bin/pip" install' in line]
    assert len(installs) >= 2, block
    release = tmp_path / "release"
    release.mkdir()
    (release / "app").symlink_to(REPO_DIR / "app")
    python = seeded_venv(release / "venv")
    script = "set -e\n" + "\n".join(line.replace("sudo ", "", 1) for line in installs) + "\n"
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=840,
                            env={**os.environ, "RELEASE": str(release), "PIP_NO_COMPILE": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert pip_version(python) == locked_pip_version()
    subprocess.run([python, "-c", "import django, daphne, channels_redis"], check=True)
