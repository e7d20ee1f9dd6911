"""The consumers against the machine-readable protocol (realtime/schema/frames.schema.json):
every route and every handle_<type> is documented, every documented client frame is accepted,
every frame the unit tests' consumers send validates, every error and close code is listed."""

import copy
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from jsonschema import ValidationError

from realtime import schema
from realtime.testing import established, receive_close

REPO = Path(__file__).resolve().parents[3]
# Answers that mean "the server did not understand or accept the frame itself", as opposed to
# refusals about state (a handshake that is not pending, not your own to approve).
NOT_ACCEPTED = {"unknown_type", "invalid_message", "invalid_json", "internal_error", "not_joined"}


def consumer_routes():
    """{route name: (path pattern, consumer class)} from the project's WebSocket routing."""
    from config.routing import websocket_urlpatterns

    found = {}
    for pattern in websocket_urlpatterns:
        consumer = getattr(pattern.callback, "consumer_class", None)
        if consumer is not None:
            found[consumer.route] = (str(pattern.pattern), consumer)
    return found


def documented_path(pattern):
    """"ws/chat/<int:conversation_id>/" -> "/ws/chat/<conversation_id>/"."""
    return "/" + pattern.replace("<int:", "<")


def error_codes():
    from chat import protocol as chat_protocol
    from realtime import protocol

    return {value for module in (protocol, chat_protocol) for name, value in vars(module).items()
            if name.isupper() and isinstance(value, str)}


def test_the_document_is_json_schema_and_every_reference_resolves():
    schema.check_document()


def test_every_route_and_every_handler_is_documented():
    routes = consumer_routes()
    assert set(routes) == set(schema.routes())
    for route, (pattern, consumer) in routes.items():
        assert schema.routes()[route]["x-path"] == documented_path(pattern)
        handlers = {name.removeprefix("handle_") for name in dir(consumer) if name.startswith("handle_")}
        assert handlers == schema.frame_types(route, "client"), route


def test_every_error_and_close_code_is_documented():
    from realtime import protocol

    error = schema.frame_schema("server", "error")
    assert set(error["properties"]["code"]["enum"]) == error_codes()
    documented = {int(code) for code in schema.document()["x-close-codes"]}
    assert set(protocol.CLOSE_REASONS) <= documented
    for route, description in schema.routes().items():
        assert set(description["x-close-codes"]) <= documented, route


def test_documented_client_frames_are_valid_against_their_route():
    for route in schema.routes():
        for frame_type in schema.frame_types(route, "client"):
            for example in schema.frame_schema("client", frame_type)["examples"]:
                if route == "chat-multiplexed" and frame_type not in ("ping", "read", "read_receipt"):
                    example = {"conversation_id": 1, **example}
                schema.validate(route, "client", example)


@pytest.mark.parametrize(
    ("route", "frame"),
    [
        ("test", {"type": "message", "body": "x"}),  # not on this route
        ("chat", {"type": "message"}),  # no text
        ("chat", {"type": "read"}),  # no message_id
        ("chat-multiplexed", {"type": "join_conversation", "conversation_id": -1}),
        ("chat-multiplexed", {"type": "typing"}),  # names no conversation
        ("chat", {"type": "handshake_start", "message": "x" * 501}),
    ],
)
def test_frames_the_server_refuses_are_invalid_too(route, frame):
    with pytest.raises(ValidationError):
        schema.validate(route, "client", frame)


# --- the consumers answer every documented client frame ----------------------------------
@pytest.fixture
def sockets(ws, alice, bob, carol, token_for):
    """paths: route -> (path, token) of a user allowed there; room: alice and bob's, with a message."""
    from chat.models import Conversation, Membership, Message

    room = Conversation.objects.create(title="frames")
    for user in (alice, bob):
        Membership.objects.create(conversation=room, user=user)
    alice_token = token_for(alice)
    return SimpleNamespace(
        room=room,
        message=Message.objects.create(conversation=room, sender=bob, body="hello"),
        paths={
            "test": ("/ws/test/", None),
            "ops": ("/ws/ops/", token_for(carol)),
            "chat": (f"/ws/chat/{room.pk}/", alice_token),
            "chat-multiplexed": ("/ws/chat/", alice_token),
            "notifications": ("/ws/notifications/", alice_token),
            "feed": ("/ws/feed/", alice_token),
        },
    )


def with_real_ids(route, example, room, message):
    frame = copy.deepcopy(example)
    if route == "chat-multiplexed" and frame.get("type") not in ("ping", "read", "read_receipt"):
        frame["conversation_id"] = room.pk
    if "conversation_id" in frame:
        frame["conversation_id"] = room.pk
    if "message_id" in frame:
        frame["message_id"] = message.pk
    return frame


async def replies_to(communicator, frame):
    """What the socket is sent after frame, up to the pong of a ping sent behind it."""
    await communicator.send_json_to(frame)
    await communicator.send_json_to({"type": "ping", "ts": "end"})
    replies = []
    while True:
        reply = await communicator.receive_json_from(timeout=2)
        if reply["type"] == "pong" and reply["ts"] == "end":
            return replies
        replies.append(reply)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", ["test", "ops", "chat", "chat-multiplexed", "notifications", "feed"])
async def test_every_documented_client_frame_is_accepted(ws, sockets, route):
    path, token = sockets.paths[route]
    connected, communicator = await ws(path, subprotocols=["bearer", token] if token else None)
    assert connected
    schema.validate(route, "server", await established(communicator))
    if route == "chat-multiplexed":
        await replies_to(communicator, {"type": "join_conversation", "conversation_id": sockets.room.pk})
    # leave_conversation last: the frames before it need the conversation joined.
    last_leave = lambda kind: (kind == "leave_conversation", kind)  # noqa: E731
    for frame_type in sorted(schema.frame_types(route, "client"), key=last_leave):
        for example in schema.frame_schema("client", frame_type)["examples"]:
            frame = with_real_ids(route, example, sockets.room, sockets.message)
            for reply in await replies_to(communicator, frame):
                schema.validate(route, "server", reply)
                assert not (reply["type"] == "error" and reply["code"] in NOT_ACCEPTED), (frame, reply)


# --- every frame the unit tests make the consumers send ------------------------------------
# A second pytest over the unit tests (about 40 s): run with the live tests, not by `make unit`.
@pytest.mark.live
@pytest.mark.timeout(300)
def test_every_frame_the_unit_tests_send_validates(tmp_path):
    """Runs the unit tests that open sockets (the `ws` fixture) again, with a plugin that writes
    down each frame and close the consumers send, and checks each against its route's schema."""
    record = tmp_path / "frames.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "app", "-q", "-p", "realtime.schema.recorder", "-p", "no:cacheprovider",
         "--ignore", str(Path(__file__)), "-o", "timeout=60"],
        cwd=REPO, env={**os.environ, "FRAMES_RECORD": str(record)}, capture_output=True, text=True, timeout=280,
    )
    assert " passed" in run.stdout, run.stdout[-3000:] + run.stderr[-3000:]
    entries = [json.loads(line) for line in record.read_text().splitlines()]
    problems, seen = set(), set()
    for entry in entries:
        route = entry["route"]
        if route not in schema.routes():
            problems.add(f"frames from a route the schema does not know: {route}")
            continue
        if "close" in entry:
            if entry["close"] not in schema.routes()[route]["x-close-codes"]:
                problems.add(f"{route}: close code {entry['close']} is not documented for the route")
            continue
        seen.add(entry["frame"].get("type"))
        try:
            schema.validate(route, "server", entry["frame"])
        except ValidationError as error:
            problems.add(f"{route}: {entry['frame'].get('type')}: {error.message}")
    assert not problems, "\n".join(sorted(problems))
    # ...and the unit tests make every documented server frame happen at least once.
    assert set(schema.document()["$defs"]["server"]) - seen == set()
    assert len(entries) > 500


# --- a path no route matches ----------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/ws/nope/", "/ws/chat/abc/", "/elsewhere"])
async def test_a_path_no_route_matches_is_refused_with_4004_and_logged_at_info(ws, path, caplog, alice_token):
    caplog.set_level(logging.INFO, logger="realtime")
    connected, communicator = await ws(path, subprotocols=["bearer", alice_token])
    assert connected and communicator.subprotocol == "bearer"  # a browser would fail a handshake without it
    assert await receive_close(communicator) == 4004
    assert schema.document()["x-unrouted"]["x-close-codes"] == [4004]
    (record,) = [r for r in caplog.records if "no route" in r.getMessage()]
    assert record.levelno == logging.INFO and f"path={path}" in record.getMessage()
    assert alice_token not in caplog.text
