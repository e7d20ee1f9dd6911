"""Property-based fuzzing of every consumer's receive path (hypothesis): random text, JSON of any
shape, deep nesting, binary frames, unknown types and fields. Whatever arrives, the consumer
answers with a reply or an `error` frame, never raises, and goes on serving the socket (a ping
after every frame gets its pong). Size and rate limits (a policy close) have tests of their own.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime.testing import established

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db(transaction=True)]

# The message types some consumer handles, so the fuzzer reaches real handlers with bad fields.
KNOWN_TYPES = ["ping", "echo", "message", "typing", "read", "read_receipt", "stats", "join_conversation",
               "leave_conversation", "handshake_start", "handshake_approve", "handshake_decline",
               "handshake_cancel"]

json_leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30))
json_values = st.recursive(json_leaves, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)), max_leaves=20)
typed_messages = st.builds(
    lambda kind, fields: {"type": kind, **fields},
    st.one_of(st.sampled_from(KNOWN_TYPES), st.text(max_size=12), st.sampled_from(["__class__", "_", "dispatch"])),
    st.dictionaries(st.sampled_from(["body", "content", "message_id", "conversation_id", "is_typing", "data", "ts",
                                     "timestamp", "action", "type"]) | st.text(max_size=8), json_values, max_size=4),
)
frames = st.one_of(
    st.text(max_size=300).map(lambda text: ("text", text)),
    json_values.map(lambda value: ("text", json.dumps(value))),
    typed_messages.map(lambda message: ("text", json.dumps(message))),
    st.integers(1, 20000).map(lambda depth: ("text", "[" * depth)),
    st.integers(1, 12000).map(lambda depth: ("text", '{"a":' * depth)),  # 60 KB: under the size limit
    st.binary(max_size=200).map(lambda data: ("bytes", data)),
)


async def serves_after(communicator, kind, payload, marker):
    """Send one fuzzed frame, then a ping; every frame before the pong must be a JSON object
    with a type, and the pong must come (the socket is still served)."""
    # send_input, not send_to: empty frames are frames too.
    await communicator.send_input({"type": "websocket.receive", kind: payload})
    await communicator.send_json_to({"type": "ping", "ts": marker})
    while True:
        output = await communicator.receive_output(5)
        assert output["type"] == "websocket.send", f"{payload[:80]!r} closed the socket: {output}"
        frame = json.loads(output["text"])
        assert isinstance(frame, dict) and isinstance(frame.get("type"), str), frame
        if frame["type"] == "pong" and frame.get("ts") == marker:
            return


@pytest.fixture
def routes(alice, token_for):
    """Every route with credentials it accepts: (path, subprotocols)."""
    from chat.models import Conversation, Membership

    conversation = Conversation.objects.create(title="fuzz")
    Membership.objects.create(conversation=conversation, user=alice)
    alice.is_staff = True
    alice.save()
    token = token_for(alice)
    return [
        ("/ws/test/", None),
        (f"/ws/chat/{conversation.pk}/", ["bearer", token]),
        ("/ws/chat/", ["bearer", token]),
        ("/ws/notifications/", ["bearer", token]),
        ("/ws/feed/", ["bearer", token]),
        ("/ws/ops/", ["bearer", token]),
    ]


def test_every_websocket_route_is_fuzzed():
    """A new route must be added to `routes` above (or it goes unfuzzed)."""
    from config.routing import websocket_urlpatterns

    fuzzed = {"ws/test/", "ws/chat/<int:conversation_id>/", "ws/chat/", "ws/notifications/", "ws/feed/", "ws/ops/"}
    declared = {str(pattern.pattern) for pattern in websocket_urlpatterns}
    assert declared - fuzzed <= {""}, declared - fuzzed  # "": the refusal of every other path


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(frames, min_size=1, max_size=8))
async def test_no_frame_breaks_a_consumer(ws, routes, batch, settings_override):
    for path, subprotocols in routes:
        _, communicator = await ws(path, subprotocols=subprotocols)
        await established(communicator)
        while await communicator.receive_nothing(timeout=0.05) is False:  # on-connect frames (ops stats)
            await communicator.receive_output(1)
        for number, (kind, payload) in enumerate(batch):
            await serves_after(communicator, kind, payload, f"{path}:{number}")
        await communicator.disconnect()


@pytest.fixture
def settings_override(settings):
    # The receive path, not the rate limiter (tested on its own): no flood close mid-batch.
    settings.WS_RATE_LIMIT_BURST = 10_000
    settings.OPS_STATS_INTERVAL_SECONDS = 3600
    return settings
