"""The cluster scenario's hosts, seen from the controller."""

import pytest

from ops.testing import hosts
from ops.testing.client import Site

LB, WEB1, WEB2, DATA = "cs-cluster-lb1", "cs-cluster-web1", "cs-cluster-web2", "cs-cluster-data1"
SERVER_NAME = "chat.example.org"  # inventories/cluster/group_vars/all/main.yml
DEMO_PASSWORD = "cluster-scenario-demo-1"


@pytest.fixture(scope="session")
def machines():
    return {name: hosts.podman_host(name) for name in (LB, WEB1, WEB2, DATA)}


@pytest.fixture(scope="session")
def site(machines):
    """https://chat.example.org at the load balancer's address, demo users seeded."""
    hosts.seed_demo(machines[WEB1], DEMO_PASSWORD)
    return Site(SERVER_NAME, hosts.address(LB))
