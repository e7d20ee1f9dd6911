"""The nginx scenario's container: testinfra inside it (podman backend), HTTP and TLS to it from
the controller at its address, and the nginx role run again against it."""

import http.client
import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from ops import render
from ops.testing import hosts
from ops.testing.client import Site

NAME = "cs-nginx"  # the platform in ../molecule.yml
ANSIBLE_DIR = hosts.ANSIBLE_DIR
TIMEOUT = 10


@pytest.fixture(scope="session")
def variables():
    """ops/defaults.yml with what converge recorded from the inventory, resolved."""
    return render.variables_from(overrides=hosts.recorded_variables(NAME))


@pytest.fixture(scope="session")
def address():
    return hosts.address(NAME)


@pytest.fixture(scope="session")
def site(variables, address):
    """https://<first server name> at the container's address (certificate not checked)."""
    return Site(variables["app_server_names"][0], address)


def tls_context(alpn=None):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # self-signed: the tests compare it with the file instead
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


def tls_connect(address, port, server_name, alpn=None):
    """A TLS connection to address:port with server_name in the SNI (None: no SNI at all)."""
    raw = socket.create_connection((address, port), TIMEOUT)
    try:
        return tls_context(alpn).wrap_socket(raw, server_hostname=server_name)
    except BaseException:
        raw.close()
        raise


def request(address, port, host, path="/", tls=False):
    """(status, {header: value} lower-cased, body) of GET path with Host `host`; over TLS the SNI
    is `host` too. Redirects are not followed."""
    connection = http.client.HTTPConnection(address, port, timeout=TIMEOUT)
    if tls:
        connection.sock = tls_connect(address, port, host)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def answer_to(address, port, host, tls_name=None):
    """Everything the server sends back to a GET with Host `host` before it closes the
    connection (b"" for no answer). A server that keeps the connection open without answering
    fails with a timeout."""
    sock = tls_connect(address, port, tls_name) if tls_name else socket.create_connection((address, port), TIMEOUT)
    with sock:
        sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def run_nginx_role(tmp_path, *extra):
    """Role nginx once more on the lb hosts of molecule's inventory, from ansible/ with the
    inventory's variables and example vault, as an operator would run it."""
    playbook = tmp_path / "nginx.yml"
    playbook.write_text("- name: nginx again\n  hosts: lb\n  become: true\n  roles: [nginx]\n")
    env = {
        **os.environ,
        "ANSIBLE_ROLES_PATH": str(ANSIBLE_DIR / "roles"),
        "ANSIBLE_VAULT_PASSWORD_FILE": str(ANSIBLE_DIR / "vault-password.example"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    }
    return subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", os.environ["MOLECULE_INVENTORY_FILE"],
         str(playbook), *extra],
        cwd=ANSIBLE_DIR, env=env, capture_output=True, text=True, timeout=600,
    )
