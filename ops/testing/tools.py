"""The rule for tools a test needs: skip locally with the reason, fail under CI=true
(nothing is skipped silently in CI)."""

import os

import pytest

from ops.tools import ToolMissing, find_tool

CI = os.environ.get("CI", "").lower() == "true"


def require_tool(name, why):
    """The path of tool `name` (PATH, then PostgreSQL's bin directories, as the local stack
    looks). Missing: skip locally, fail under CI=true."""
    try:
        return find_tool(name, why)
    except ToolMissing:
        message = f"{name} is not installed ({why}); `bash .ci/run` installs it"
        if CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
