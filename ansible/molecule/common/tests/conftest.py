"""Helpers of the common scenario's tests: the containers by role, and a port probe.

molecule runs these with testinfra's podman backend (molecule.yml: verifier options), so
`host` is one container reached with `podman exec`; tests that involve two containers get
them from the fixtures below.
"""

import json

import pytest
import testinfra

# Container names: platforms in ../molecule.yml.
LB, WEB, DATA = "cs-common-lb", "cs-common-web", "cs-common-data"

# Runs inside the source container: connect to each port at once, report what happened.
# "open" or "refused" means the firewall let the SYN through (refused: nothing listens);
# "dropped" means no answer at all, which with policy drop is the firewall.
PROBE = r"""
import json, socket, sys, threading
address, ports, out = sys.argv[1], [int(p) for p in sys.argv[2:]], {}
def probe(port):
    s = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
    s.settimeout(2)
    try:
        s.connect((address, port))
        out[port] = "open"
    except ConnectionRefusedError:
        out[port] = "refused"
    except (socket.timeout, TimeoutError):
        out[port] = "dropped"
    except OSError as error:
        out[port] = "error: %s" % error
    finally:
        s.close()
threads = [threading.Thread(target=probe, args=(p,)) for p in ports]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps(out))
"""


def get(name):
    return testinfra.get_host(f"podman://{name}")


def ipv4(host):
    """The container's address on podman's network (what its ansible_default_ipv4 was)."""
    out = host.check_output("ip -4 -o addr show scope global")
    return out.split(" inet ")[1].split("/")[0]


def probe(source, destination, ports):
    """{port: "open" | "refused" | "dropped"} for TCP connections from source to destination."""
    cmd = source.run("python3 -c %s %s" + " %s" * len(ports), PROBE, ipv4(destination), *map(str, ports))
    assert cmd.rc == 0, cmd.stderr
    return {int(port): result for port, result in json.loads(cmd.stdout).items()}


def admitted(results):
    return {port for port, result in results.items() if result in ("open", "refused")}


@pytest.fixture(scope="module")
def lb():
    return get(LB)


@pytest.fixture(scope="module")
def web():
    return get(WEB)


@pytest.fixture(scope="module")
def data():
    return get(DATA)
