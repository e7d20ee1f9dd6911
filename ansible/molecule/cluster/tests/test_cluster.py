"""lb -> web1 + web2 -> data: what the cluster inventory promises, checked from outside."""

import json

from conftest import DATA, DEMO_PASSWORD, LB, WEB1, WEB2
from ops.testing import hosts
from ops.testing.client import http, login, receive, ticket, ws_connect

APP = hosts.APP_NAME


def web_host(established):
    """web1 or web2, from connection_established's server.instance ("<hostname>:daphne-<port>")."""
    return established["server"]["instance"].split(":", 1)[0]


async def socket_on(site, token, path, wanted):
    """A socket (opened with a ticket) on the web host `wanted`; the spares are closed."""
    spares = []
    try:
        for _ in range(12):
            ws = await ws_connect(site, f"{path}?ticket={ticket(site, token)}")
            if web_host(await receive(ws, "connection_established")) == wanted:
                return ws
            spares.append(ws)
        raise AssertionError(f"no socket landed on {wanted}")
    finally:
        for ws in spares:
            await ws.close()


def test_health_through_the_load_balancer(site):
    status, body = http("GET", site.base_url + "/api/websocket/health/")
    assert status == 200 and body["status"] == "ok", body


def test_static_files_come_from_the_web_hosts(site):
    status, _ = http("GET", site.base_url + "/static/demo/demo.css")
    assert status == 200


def test_installed_files_are_what_the_renderer_makes(machines):
    for name, targets in ((LB, ["nginx"]), (WEB1, ["systemd", "env"]), (WEB2, ["systemd", "env"])):
        for dest, rendered, installed in hosts.rendered_vs_installed(machines[name], name, targets):
            assert installed == rendered, f"{name}: {dest}"


async def test_a_message_crosses_from_web1_to_web2(site):
    alice, bob = login(site, "alice", DEMO_PASSWORD), login(site, "bob", DEMO_PASSWORD)
    _, conversations = http("GET", site.base_url + "/api/chat/conversations/", token=alice)
    room = f"/ws/chat/{conversations[0]['id']}/"
    on_web1 = await socket_on(site, alice, room, "web1")
    on_web2 = await socket_on(site, bob, room, "web2")
    try:
        await on_web1.send(json.dumps({"type": "message", "body": "from web1"}))
        message = (await receive(on_web2, "message"))["message"]
        assert message["body"] == "from web1" and message["sender"]["username"] == "alice"
    finally:
        await on_web1.close()
        await on_web2.close()


async def test_new_sockets_connect_while_web1s_daphnes_are_down(machines, site):
    web1 = machines[WEB1]
    hosts.run(web1, f"systemctl stop '{APP}-daphne@*.service'")
    try:
        for _ in range(6):
            async with ws_connect(site, "/ws/test/") as ws:
                assert web_host(await receive(ws, "connection_established")) == "web2"
    finally:
        hosts.run(web1, f"systemctl start {APP}.target")


def reachable(source, address, port):
    result = source.run(f"timeout 3 bash -c '</dev/tcp/{address}/{port}'")
    return result.rc == 0


def test_redis_and_postgresql_refuse_the_load_balancer_and_admit_the_web_hosts(machines):
    data_address = hosts.address(DATA)
    for port in (6379, 5432):
        assert not reachable(machines[LB], data_address, port), port
        assert reachable(machines[WEB1], data_address, port), port
        assert reachable(machines[WEB2], data_address, port), port
