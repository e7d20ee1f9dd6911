"""Two real daphne processes on one database: a token or ticket issued by one is honoured
by the other, and a logout on one is seen by the other (DatabaseCache, not LocMemCache)."""

import asyncio

import pytest
from websockets.exceptions import ConnectionClosed

from ops.testing.client import http, login, receive, ticket, ws_connect


@pytest.fixture
def pair(start_daphne):
    return start_daphne("proc-a"), start_daphne("proc-b")


async def test_token_from_one_process_works_on_the_other(pair):
    a, b = pair
    token = login(a)
    status, me = http("GET", b.base_url + "/api/auth/me/", token=token)
    assert status == 200 and me["username"] == "alice"
    async with ws_connect(b, "/ws/notifications/", token=token) as ws:
        hello = await receive(ws)
        assert hello["user"]["username"] == "alice" and hello["server"]["instance"] == "proc-b"
    async with ws_connect(b, f"/ws/notifications/?ticket={ticket(a, token)}") as ws:
        assert (await receive(ws))["auth_method"] == "ticket"


async def test_logout_on_one_process_revokes_everywhere(pair):
    a, b = pair
    token = login(a, "bob")
    assert http("POST", a.base_url + "/api/auth/logout/", token=token)[0] == 204
    assert http("GET", b.base_url + "/api/auth/me/", token=token)[0] == 401
    async with ws_connect(b, "/ws/notifications/", token=token) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
    assert closed.value.rcvd.code == 4001


async def test_one_ticket_raced_by_concurrent_handshakes_on_two_processes(pair):
    a, b = pair
    one_time = ticket(a, login(a))
    gate = asyncio.Event()

    async def attempt(server):
        await gate.wait()
        async with ws_connect(server, f"/ws/notifications/?ticket={one_time}") as ws:
            try:
                return (await receive(ws))["type"]
            except ConnectionClosed as closed:
                return closed.rcvd.code

    tasks = [asyncio.create_task(attempt(server)) for server in (a, b) * 10]
    await asyncio.sleep(0.1)
    gate.set()
    outcomes = await asyncio.gather(*tasks)
    assert sorted(outcomes, key=str) == [4001] * 19 + ["connection_established"], outcomes


async def test_every_credential_issued_under_concurrent_writes_works(pair):
    """Logins and tickets issued at the same moment on two processes all exist: a write that
    loses a database lock must wait or fail loudly, never hand out a credential that was not
    stored (DatabaseCache swallows write errors by design)."""
    a, b = pair
    token = login(a)

    def issue_many(server):
        return [ticket(server, token) for _ in range(5)]

    batches = await asyncio.gather(*(asyncio.to_thread(issue_many, server) for server in (a, b) * 4))
    tickets = [one for batch in batches for one in batch]
    tokens = await asyncio.gather(*(asyncio.to_thread(login, server, "bob") for server in (a, b) * 4))

    async def works(server, query):
        async with ws_connect(server, f"/ws/notifications/?{query}") as ws:
            try:
                return (await receive(ws))["type"]
            except ConnectionClosed as closed:
                return closed.rcvd.code

    outcomes = await asyncio.gather(
        *(works(b, f"ticket={one}") for one in tickets), *(works(a, f"token={one}") for one in tokens)
    )
    assert outcomes == ["connection_established"] * len(outcomes), outcomes
