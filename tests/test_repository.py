"""The repository itself: no secret committed. detect-secrets scans every tracked file against
`.secrets.baseline`, in which each finding was reviewed by hand (test passwords, placeholders,
a schema's hash). A new finding fails: remove the secret, or if it is none, run
`.venv/bin/detect-secrets scan --baseline .secrets.baseline` and mark it `"is_secret": false`."""

import subprocess
import sys
from pathlib import Path

from ops.tools import REPO_DIR

HOOK = Path(sys.executable).with_name("detect-secrets-hook")


def scan(*files):
    return subprocess.run([str(HOOK), "--baseline", str(REPO_DIR / ".secrets.baseline"), *files], cwd=REPO_DIR,
                          capture_output=True, text=True, timeout=300)


def test_no_secret_in_the_repository():
    files = subprocess.run(["git", "ls-files"], cwd=REPO_DIR, capture_output=True, text=True, check=True).stdout
    result = scan(*[name for name in files.split() if name != ".secrets.baseline"])  # its hashes look secret
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_scan_finds_a_secret_it_has_not_seen(tmp_path):
    # Put together at run time, so this file holds no secret-shaped string itself.
    key_id, secret = "AKIA" + "IOSFODNN7EXAMPLF", "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY1"
    leaked = tmp_path / "settings_local.py"
    leaked.write_text(f'AWS_SECRET_ACCESS_KEY = "{secret}"\naws_access_key_id = "{key_id}"\n')
    result = scan(str(leaked))
    assert result.returncode == 1 and "AWS Access Key" in result.stdout, result.stdout
