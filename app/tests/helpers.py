"""Helpers shared by the unit, live and browser tests."""

import os

import pytest

from ops.stack import StackError, find_tool

CI = os.environ.get("CI", "").lower() == "true"
ORIGIN = (b"origin", b"http://localhost")


def require_tool(name, why):
    """The path of tool `name` (PATH, then PostgreSQL's bin directories, as the local stack
    looks). Missing: skip locally, fail under CI=true (nothing is skipped silently in CI)."""
    try:
        return find_tool(name, why)
    except StackError:
        message = f"{name} is not installed ({why}); `bash .ci/run` installs it"
        if CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


async def receive_close(communicator, timeout=2):
    """Skip data frames until the close; return its code."""
    while True:
        message = await communicator.receive_output(timeout)
        if message["type"] == "websocket.close":
            return message.get("code")


async def established(communicator):
    message = await communicator.receive_json_from(timeout=2)
    assert message["type"] == "connection_established", message
    return message
