"""The `full` scenario's host, seen from the controller: testinfra inside it, HTTPS to it."""

import pytest

from ops.testing import hosts
from ops.testing.client import Site

NAME = "channels-stack-full"
SERVER_NAME = "chat.example.org"  # inventories/single-host/group_vars/all/main.yml
DEMO_PASSWORD = "full-scenario-demo-1"


@pytest.fixture(scope="session")
def machine():
    return hosts.podman_host(NAME)


@pytest.fixture(scope="session")
def site(machine):
    """https://chat.example.org, reached at the container's address, demo users seeded."""
    hosts.seed_demo(machine, DEMO_PASSWORD)
    return Site(SERVER_NAME, hosts.address(NAME))
