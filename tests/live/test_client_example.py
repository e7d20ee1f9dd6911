"""The Python client in README.md ("Protocol reference", "Clients"), run as it stands against a
real daphne, so the example cannot rot."""

import os
import re
import subprocess
import sys
from pathlib import Path

from ops.testing.processes import DEMO_PASSWORD

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example():
    section = README.read_text().split("\n### Clients\n", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return code


def test_the_readme_python_client_works(start_daphne, tmp_path):
    server = start_daphne("readme-client")
    script = tmp_path / "client.py"
    script.write_text(readme_example())
    env = {"PATH": os.environ.get("PATH", ""), "CHANNELS_STACK_URL": server.base_url,
           "DEMO_USER": "alice", "DEMO_PASSWORD": DEMO_PASSWORD}
    run = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines() == ["connected as alice to readme-client", "pong 1"]
    server.stop()
    log = server.read_log()
    assert "WSCONNECT /ws/notifications/" in log and "ticket=" not in log  # the ticket stayed out of the URL
