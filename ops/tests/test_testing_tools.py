"""The rule for missing tools: skip locally with a reason, fail under CI=true."""

import pytest

from ops.testing import tools as helpers


def test_missing_tool_skips_locally(monkeypatch):
    monkeypatch.setattr(helpers, "CI", False)
    with pytest.raises(pytest.skip.Exception, match="no-such-tool-xyz is not installed"):
        helpers.require_tool("no-such-tool-xyz", "testing")


def test_missing_tool_fails_in_ci(monkeypatch):
    monkeypatch.setattr(helpers, "CI", True)
    with pytest.raises(pytest.fail.Exception, match="no-such-tool-xyz is not installed"):
        helpers.require_tool("no-such-tool-xyz", "testing")


def test_present_tool_is_returned():
    assert helpers.require_tool("sh", "testing").endswith("/sh")
