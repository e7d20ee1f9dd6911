"""The repository itself: no secret committed. detect-secrets scans every tracked file against
`.secrets.baseline`, in which each finding was reviewed by hand (test passwords, placeholders,
a schema's hash). A new finding fails: remove the secret, or if it is none, run
`.venv/bin/detect-secrets scan --baseline .secrets.baseline` and mark it `"is_secret": false`."""

import shutil
import subprocess
import sys
from pathlib import Path

from ops.tools import REPO_DIR

HOOK = Path(sys.executable).with_name("detect-secrets-hook")


# The hook rewrites its baseline when a reviewed finding only moved to another line (exit 3): it
# gets a copy, so a test run never edits the checkout and a moved line is no failure.
NEW_SECRET, CLEAN, LINES_MOVED = 1, 0, 3


def scan(*files, workdir):
    baseline = shutil.copy(REPO_DIR / ".secrets.baseline", workdir / "secrets.baseline")
    return subprocess.run([str(HOOK), "--baseline", str(baseline), *files], cwd=REPO_DIR,
                          capture_output=True, text=True, timeout=300)


def test_no_secret_in_the_repository(tmp_path):
    files = subprocess.run(["git", "ls-files"], cwd=REPO_DIR, capture_output=True, text=True, check=True).stdout
    result = scan(*[name for name in files.split() if name != ".secrets.baseline"],  # its hashes look secret
                  workdir=tmp_path)
    assert result.returncode in (CLEAN, LINES_MOVED), result.stdout + result.stderr


def test_the_scan_finds_a_secret_it_has_not_seen(tmp_path):
    # Put together at run time, so this file holds no secret-shaped string itself.
    key_id, secret = "AKIA" + "IOSFODNN7EXAMPLF", "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY1"
    leaked = tmp_path / "settings_local.py"
    leaked.write_text(f'AWS_SECRET_ACCESS_KEY = "{secret}"\naws_access_key_id = "{key_id}"\n')
    result = scan(str(leaked), workdir=tmp_path)
    assert result.returncode == NEW_SECRET and "AWS Access Key" in result.stdout, result.stdout
