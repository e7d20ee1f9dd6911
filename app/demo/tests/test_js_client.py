"""Runs the JS client's unit tests (channels-client.test.mjs) with Node's built-in runner."""

import subprocess
from pathlib import Path

import pytest

from ops.testing.tools import require_tool

pytestmark = pytest.mark.process  # runs commands: not in `make unit`


def test_js_client_unit_tests():
    node = require_tool("node", "the JS client's unit tests run on Node's built-in test runner")
    test_file = Path(__file__).with_name("channels-client.test.mjs")
    result = subprocess.run([node, "--test", str(test_file)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout
