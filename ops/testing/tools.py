"""The rule for tools a test needs: skip locally with the reason, fail under CI=true
(nothing is skipped silently in CI)."""

import os
import subprocess

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


def prepared_environment(script, env=None, timeout=900):
    """env (default: this process's) plus the `export KEY=VALUE` lines a host preparation script
    prints on standard output (ansible/molecule/prepare-host.sh, tests/containers/images/build.sh:
    podman's CONTAINERS_CONF, base image names). The script failing fails the test."""
    result = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{script}: rc={result.returncode}\n{result.stderr[-3000:]}"
    prepared = dict(os.environ if env is None else env)
    for line in result.stdout.splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            prepared[key] = value
    return prepared
