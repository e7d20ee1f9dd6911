"""The Ansible roles on real systemd hosts: every molecule scenario under ansible/molecule/,
create to destroy (converge, idempotence, the scenario's own testinfra verifier). They run in
the background, two at a time (scenarios.py); each test here waits for its scenario's result."""

import pytest

from .scenarios import RUNS, SCENARIOS


@pytest.mark.timeout(3600)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario):
    returncode, seconds, log = RUNS.result(scenario)
    text = log.read_text(errors="replace")
    assert returncode == 0, f"molecule test -s {scenario} failed after {seconds:.0f} s ({log}):\n{text[-8000:]}"
