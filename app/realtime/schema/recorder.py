"""A pytest plugin that writes down every frame the consumers send while tests run, for
realtime/tests/test_frames.py (`-p realtime.schema.recorder`, FRAMES_RECORD=<file>): one JSON
line per frame or close, {"route", "frame"} or {"route", "close"}. Only tests that open sockets
through the ASGI app (the `ws` fixture) are run."""

import json
import os

from channels.generic.websocket import AsyncWebsocketConsumer

from realtime.consumers import JsonProtocolConsumer


def _route(consumer):
    return getattr(consumer, "route", type(consumer).__name__)


def pytest_configure(config):
    out = open(os.environ["FRAMES_RECORD"], "a", encoding="utf-8")  # noqa: SIM115 - open for the whole session
    config.add_cleanup(out.close)
    send_text, close = JsonProtocolConsumer.send_text, AsyncWebsocketConsumer.close

    async def recording_send_text(self, text):
        out.write(json.dumps({"route": _route(self), "frame": json.loads(text)}) + "\n")
        await send_text(self, text)

    async def recording_close(self, code=None, reason=None):
        if isinstance(self, JsonProtocolConsumer):  # not channels' origin denier (an HTTP 403)
            out.write(json.dumps({"route": _route(self), "close": code}) + "\n")
        await close(self, code=code, reason=reason)

    JsonProtocolConsumer.send_text = recording_send_text
    AsyncWebsocketConsumer.close = recording_close


def pytest_collection_modifyitems(config, items):
    selected = [item for item in items if "ws" in getattr(item, "fixturenames", ())]
    config.hook.pytest_deselected(items=[item for item in items if item not in selected])
    items[:] = selected
