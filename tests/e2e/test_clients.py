"""Clients written for other Channels setups (issue 14), used the way they already are, against
the local stack through nginx: a mobile client with one socket and join/leave (Python
websockets, its token in the URL as it always sent it), a client of the two-party handshake, a
browser client that sends `content` and reads the fields of its old server, the demo page's
client logged out elsewhere, and a WebSocket to a path no route matches. Every frame they
receive is checked against the JSON Schema."""

import asyncio
import json
import re

import pytest
from websockets.exceptions import ConnectionClosed

from ops.testing.client import connect_on_each_instance, http, instance, login, ws_connect
from ops.testing.processes import DEMO_PASSWORD
from realtime import schema
from tests.browser.test_demo_page import browser  # noqa: F401 - a fixture
from tests.browser.test_revoke_relogin import Watched, revoke_then_log_in_again

DAPHNES = {"daphne-1", "daphne-2"}


async def next_frame(ws, route, kind, timeout=5):
    """The next frame of type kind; every frame on the way must be one the route documents."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        schema.validate(route, "server", frame)
        if frame["type"] == kind:
            return frame


async def quiet(ws, route, seconds=1.0):
    """The frames that arrive within seconds (each checked against the schema)."""
    frames = []
    try:
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), seconds)))
            schema.validate(route, "server", frames[-1])
    except TimeoutError:
        return frames


def conversations(stack, token):
    status, listed = http("GET", stack.base_url + "/api/chat/conversations/", token=token)
    assert status == 200
    return {c["title"]: c["id"] for c in listed}


def new_conversation(stack, title, *usernames):
    """A conversation of its own for a test (the stack lives for the session)."""
    code = ("from django.contrib.auth import get_user_model; from chat.models import Conversation; "
            f"c = Conversation.objects.create(title={title!r}); "
            f"c.members.add(*get_user_model().objects.filter(username__in={list(usernames)!r})); print(c.pk)")
    result = stack.manage("shell", "-c", code)
    assert result.returncode == 0, result.stdout + result.stderr
    return int(result.stdout.strip().splitlines()[-1])


def post_message(stack, token, conversation_id, text):
    status, body = http("POST", f"{stack.base_url}/api/chat/conversations/{conversation_id}/messages/",
                        token=token, body={"content": text})
    assert status == 201, body
    return body


async def test_mobile_client_one_socket_many_conversations(stack):
    alice, bob, carol = login(stack, "alice"), login(stack, "bob"), login(stack, "carol")
    rooms = conversations(stack, alice)
    room, direct = rooms["Demo room"], rooms["alice & bob"]
    route = "chat-multiplexed"
    async with ws_connect(stack, f"/ws/chat/?token={alice}") as phone:
        hello = await next_frame(phone, route, "connection_established")
        assert hello["server"]["route"] == route and hello["groups"] == []
        for conversation_id in (room, direct):
            await phone.send(json.dumps({"type": "join_conversation", "conversation_id": conversation_id}))
            assert (await next_frame(phone, route, "conversation_joined"))["conversation_id"] == conversation_id
        # bob on the other daphne, on the per-conversation route.
        other = ({"daphne-1", "daphne-2"} - {instance(hello)}).pop()
        bob_ws = (await connect_on_each_instance(stack, f"/ws/chat/{room}/", bob, {other}))[other]
        try:
            # New messages come over HTTP (gunicorn) and are pushed to the one socket.
            sent = {}
            for conversation_id in (room, direct):
                sent[conversation_id] = post_message(stack, bob, conversation_id, f"hello {conversation_id}")["id"]
                pushed = await next_frame(phone, route, "message")
                assert pushed["conversation_id"] == conversation_id and pushed["message"]["id"] == sent[conversation_id]
                assert pushed["message"]["content"] == f"hello {conversation_id}"
                assert pushed["message"]["sender"]["full_name"] == "Bob Demo" and pushed["message"]["is_read"] is False
            # Typing and read receipts name their conversation; they reach the other daphne.
            await phone.send(json.dumps({"type": "typing", "conversation_id": room, "is_typing": True}))
            typing = await next_frame(bob_ws, "chat", "typing")
            assert typing["conversation_id"] == room and typing["user"]["username"] == "alice"
            await phone.send(json.dumps({"type": "read_receipt", "message_id": sent[room]}))
            assert (await next_frame(phone, route, "read_receipt"))["conversation_id"] == room
            assert (await next_frame(bob_ws, "chat", "read"))["user"]["username"] == "alice"
            # The ping of the old client.
            await phone.send(json.dumps({"type": "ping", "timestamp": 1234}))
            pong = await next_frame(phone, route, "pong")
            assert pong["timestamp"] == 1234 and pong["message"] == "pong"
            # Leaving stops that conversation's messages; the other keeps coming.
            await phone.send(json.dumps({"type": "leave_conversation", "conversation_id": direct}))
            await next_frame(phone, route, "conversation_left")
            post_message(stack, bob, direct, "not for the phone any more")
            post_message(stack, bob, room, "still for the phone")
            frames = await quiet(phone, route, 1.5)
            texts = [f["message"]["content"] for f in frames if f["type"] == "message"]
            assert texts == ["still for the phone"]
            # Disconnecting leaves every conversation: bob hears alice go.
            await phone.close()
            leave = await next_frame(bob_ws, "chat", "leave")
            assert leave["user"]["username"] == "alice" and leave["conversation_id"] == room
        finally:
            await bob_ws.close()

    # carol is not in alice and bob's conversation: refused as an error, her socket stays.
    async with ws_connect(stack, f"/ws/chat/?token={carol}") as other_phone:
        await next_frame(other_phone, route, "connection_established")
        await other_phone.send(json.dumps({"type": "join_conversation", "conversation_id": direct}))
        error = await next_frame(other_phone, route, "error")
        assert error["code"] == "forbidden" and error["conversation_id"] == direct
        await other_phone.send(json.dumps({"type": "join_conversation", "conversation_id": room}))
        assert (await next_frame(other_phone, route, "conversation_joined"))["conversation_id"] == room


async def test_handshake_client(stack):
    direct = new_conversation(stack, "handshake e2e", "alice", "bob")
    alice, bob = login(stack, "alice"), login(stack, "bob")
    path = f"/ws/chat/{direct}/"
    alice_ws = (await connect_on_each_instance(stack, path, alice, {"daphne-1"}))["daphne-1"]
    bob_ws = (await connect_on_each_instance(stack, path, bob, {"daphne-2"}))["daphne-2"]
    try:
        await alice_ws.send(json.dumps({"type": "handshake_start", "message": "let's talk"}))
        pending = [(await next_frame(ws, "chat", "handshake"))["handshake"] for ws in (alice_ws, bob_ws)]
        assert pending[0] == pending[1] and pending[0]["status"] == "pending"
        assert pending[0]["initiator_id"] in (pending[0]["user1_id"], pending[0]["user2_id"])
        assert pending[0]["message"] == "let's talk"
        await alice_ws.send(json.dumps({"type": "handshake_approve"}))  # her own: not hers to approve
        assert (await next_frame(alice_ws, "chat", "error"))["code"] == "forbidden"
        await bob_ws.send(json.dumps({"type": "handshake_approve"}))
        for ws in (alice_ws, bob_ws):
            approved = (await next_frame(ws, "chat", "handshake"))["handshake"]
            assert approved["id"] == pending[0]["id"] and approved["status"] == "approved"
        # The HTTP view (gunicorn) agrees.
        status, body = http("GET", f"{stack.base_url}/api/chat/conversations/{direct}/handshake/", token=alice)
        assert status == 200 and body["status"] == "approved" and body["id"] == pending[0]["id"]
    finally:
        await alice_ws.close()
        await bob_ws.close()


@pytest.mark.browser
def test_browser_client_sending_content(browser, stack):  # noqa: F811
    """A front end written for another server: logs in, opens the conversation's socket with its
    token in the URL, pings with `timestamp`, sends `content`, reads `content`,
    `sender.full_name` and `is_read`, and reads the notifications socket's pong `message`."""
    page = browser.new_context().new_page()
    page.goto(stack.base_url + "/")
    frames = page.evaluate(
        """async (password) => {
          const post = async (path, body, token) => (await fetch(path, {method: "POST",
              headers: {"Content-Type": "application/json", ...(token ? {Authorization: `Token ${token}`} : {})},
              body: JSON.stringify(body)})).json();
          const {token} = await post("/api/auth/login/", {username: "alice", password});
          const auth = {headers: {Authorization: `Token ${token}`}};
          const rooms = await (await fetch("/api/chat/conversations/", auth)).json();
          const open = (path) => new Promise((resolve, reject) => {
            const ws = new WebSocket(`ws://${location.host}${path}?token=${token}`);
            const frames = [];
            ws.onmessage = (event) => frames.push(JSON.parse(event.data));
            ws.onopen = () => resolve({ws, frames});
            ws.onerror = reject;
          });
          const until = async (frames, test) => {
            for (let i = 0; i < 100 && !frames.some(test); i++) await new Promise((r) => setTimeout(r, 50));
            return frames.find(test);
          };
          const chat = await open(`/ws/chat/${rooms[0].id}/`);
          chat.ws.send(JSON.stringify({type: "ping", timestamp: 99}));
          await until(chat.frames, (f) => f.type === "pong");
          chat.ws.send(JSON.stringify({type: "message", content: "from an old front end"}));
          await until(chat.frames, (f) => f.type === "message" && f.message.content === "from an old front end");
          const notifications = await open("/ws/notifications/");
          notifications.ws.send(JSON.stringify({type: "ping"}));
          await until(notifications.frames, (f) => f.type === "pong");
          chat.ws.close(); notifications.ws.close();
          return {chat: chat.frames, notifications: notifications.frames};
        }""",
        DEMO_PASSWORD,
    )
    for route, received in (("chat", frames["chat"]), ("notifications", frames["notifications"])):
        for frame in received:
            schema.validate(route, "server", frame)
    pong = next(f for f in frames["chat"] if f["type"] == "pong")
    assert pong["timestamp"] == 99 and pong["ts"] == 99 and pong["message"] == "pong"
    message = next(f for f in frames["chat"] if f["type"] == "message")["message"]
    assert message["content"] == message["body"] == "from an old front end"
    assert message["sender"] == {"id": message["sender"]["id"], "username": "alice", "full_name": "Alice Demo"}
    assert message["is_read"] is False and isinstance(message["id"], int) and message["created_at"]
    assert next(f for f in frames["notifications"] if f["type"] == "pong")["message"] == "pong"
    page.context.close()


@pytest.mark.browser
def test_demo_page_logged_out_elsewhere_then_in_again(browser, stack):  # noqa: F811
    """Issue 13 through nginx: the logout goes to gunicorn, the revocation reaches the daphne
    holding the page's sockets through Redis."""
    revoke_then_log_in_again(browser, stack)


@pytest.mark.browser
def test_demo_page_reloads_what_it_missed_while_disconnected(browser, stack):  # noqa: F811
    """Both daphnes down (a deploy gone wrong): a message and a notification are created over
    HTTP meanwhile, which no socket could be told of. Once the page's clients reconnect, it
    reloads both from the HTTP API, once each."""
    watched = Watched(browser, stack)
    watched.log_in("alice")
    token = watched.page.evaluate("sessionStorage.getItem('token')")
    room = conversations(stack, token)["Demo room"]
    daphnes = [name for name in stack.programs if name.startswith("daphne")]
    for name in daphnes:
        stack.stop_process(name)
    try:
        watched.page.wait_for_selector("#status[data-state=reconnecting]", timeout=10000)
        post_message(stack, login(stack, "bob"), room, "sent while you were away")
        status, _ = http("POST", stack.base_url + "/api/notifications/", token=token, body={"title": "missed"})
        assert status == 201
    finally:
        for name in daphnes:
            stack.start_process(name)
    watched.page.wait_for_selector("#messages li:has-text('sent while you were away')", timeout=45000)
    watched.page.wait_for_selector("#notifications li:has-text('missed')", timeout=10000)
    watched.page.wait_for_selector("#status[data-state=open]", timeout=10000)
    watched.page.wait_for_timeout(1000)
    assert watched.page.locator("#messages li:has-text('sent while you were away')").count() == 1
    assert len(watched.open_sockets("/ws/chat/")) == 1 and len(watched.open_sockets("/ws/notifications/")) == 1
    assert watched.errors == []
    watched.page.context.close()


async def test_a_path_no_route_matches_is_refused_cleanly(stack):
    async with ws_connect(stack, "/ws/nope/") as ws:
        assert ws.response.status_code == 101
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 4004
    await asyncio.sleep(0.5)  # let the processes flush their logs
    log = stack.read_log()
    lines = [line for line in log.splitlines() if "/ws/nope/" in line]
    assert any("websocket refused" in line and "no route" in line for line in lines), lines
    assert not [line for line in lines if re.search(r"\b(ERROR|CRITICAL)\b|Traceback", line)], lines
    assert "No route found" not in log
    assert re.search(r'"GET /ws/nope/ HTTP/1.1" 101 ', stack.read_access_log())
