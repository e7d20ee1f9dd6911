"""The app scenario's container, seen from the controller (testinfra's podman backend), and
the variables its inventory set, resolved by the renderer as the role resolved them."""

import pytest

from ops import render
from ops.testing import hosts

NAME = "cs-app"  # the platform in ../molecule.yml
SERVER_NAME = "chat.example.org"  # inventories/single-host/group_vars/all/main.yml
APP = hosts.APP_NAME


@pytest.fixture(scope="session")
def variables():
    """ops/defaults.yml with what converge recorded from the inventory, resolved."""
    return render.variables_from(overrides=hosts.recorded_variables(NAME))


def sockets(variables):
    """{process: its unix socket}: the HTTP server and every daphne instance."""
    found = {"http": variables["http_socket"]}
    for instance in variables["daphne_instance_ids"]:
        found[f"daphne@{instance}"] = variables["daphne_socket"].replace("%i", str(instance))
    return found


def health(host, socket, user="root"):
    """(HTTP status, body) of /api/websocket/health/ asked on a unix socket, with the site's Host
    and the scheme nginx passes, as `user` (curl inside the container)."""
    result = host.run(
        "runuser -u %s -- curl -sS --max-time 15 --unix-socket %s -H %s -H %s -w %s "
        "http://localhost/api/websocket/health/",
        user, socket, f"Host: {SERVER_NAME}", "X-Forwarded-Proto: https", r"\n%{http_code}",
    )
    body, _, status = result.stdout.rpartition("\n")
    return (int(status) if status.isdigit() else result.rc), body + result.stderr
