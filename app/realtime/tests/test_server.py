"""realtime.server's changes to daphne, each against the behaviour it must keep."""

import asyncio

import pytest
from twisted.internet import abstract

from realtime import server


class FakeDescriptor(abstract.FileDescriptor):
    """A FileDescriptor whose kernel takes `accept` bytes per send (None: everything)."""

    def __init__(self, accept=None):
        super().__init__(reactor=None)
        self.connected = True
        self.accept = accept
        self.sent = []
        self.writing = 0

    def writeSomeData(self, data):
        taken = len(data) if self.accept is None else min(self.accept, len(data))
        self.sent.append(bytes(data[:taken]))
        return taken

    def startWriting(self):
        self.writing += 1


def test_a_frame_goes_out_at_once_when_nothing_is_queued():
    fd = FakeDescriptor()
    server.write_at_once(fd, b"frame")
    assert fd.sent == [b"frame"] and fd.writing == 0 and not fd._tempDataBuffer


def test_what_the_kernel_does_not_take_is_queued_as_twisted_does():
    fd = FakeDescriptor(accept=2)
    server.write_at_once(fd, b"frame")
    assert fd.sent == [b"fr"] and fd._tempDataBuffer == [b"ame"] and fd.writing == 1


def test_a_full_socket_queues_everything():
    fd = FakeDescriptor(accept=0)
    server.write_at_once(fd, b"frame")
    assert fd._tempDataBuffer == [b"frame"] and fd.writing == 1


def test_data_queued_before_keeps_its_place():
    fd = FakeDescriptor(accept=0)
    server.write_at_once(fd, b"first")
    fd.accept = None
    server.write_at_once(fd, b"second")
    assert fd.sent == [b""] and fd._tempDataBuffer == [b"first", b"second"]


def test_a_closing_or_closed_connection_is_left_to_twisted():
    for attribute in ("disconnecting", "_writeDisconnected"):
        fd = FakeDescriptor()
        setattr(fd, attribute, True)
        server.write_at_once(fd, b"late")
        assert fd.sent == []
    with pytest.raises(TypeError):
        server.write_at_once(FakeDescriptor(), "text, not bytes")


async def test_the_inbox_hands_over_messages_in_order_and_waits_when_empty():
    inbox = server._Inbox()
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    assert [await inbox.get(), await inbox.get()] == [1, 2]
    waiting = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    inbox.put_nowait(3)
    assert await asyncio.wait_for(waiting, 1) == 3


async def test_a_cancelled_get_leaves_the_inbox_usable():
    inbox = server._Inbox()
    waiting = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    inbox.put_nowait("after")
    assert await asyncio.wait_for(inbox.get(), 1) == "after"


def test_daphne_builds_the_lean_protocol():
    class Factory:
        protocol = None

    graceful = server.GracefulServer.__new__(server.GracefulServer)
    graceful.ws_factory = Factory()
    assert graceful.ws_factory.protocol is server.LeanWebSocketProtocol


class PreparingFactory:
    def __init__(self):
        self.prepared = []

    def prepareMessage(self, payload):
        self.prepared.append(payload)
        return ("frame", payload)


def test_a_text_sent_to_many_sockets_is_framed_once():
    frames, factory = server._PreparedFrames(), PreparingFactory()
    text = '{"type": "feed"}'
    assert frames.frame(factory, text) is frames.frame(factory, text)
    assert factory.prepared == [text.encode()]


def test_the_frame_cache_keeps_only_the_last_few():
    frames, factory = server._PreparedFrames(), PreparingFactory()
    for n in range(frames.size + 5):
        frames.frame(factory, f"text {n}")
    assert len(frames) == frames.size and "text 0" not in frames and f"text {frames.size + 4}" in frames


class Buffered:
    """Just the buffer fields of a Twisted transport."""

    def __init__(self, unsent=0):
        self.dataBuffer, self.offset, self._tempDataLen = b"", 0, unsent


def lean_protocol(sent, unsent=0):
    protocol = server.LeanWebSocketProtocol.__new__(server.LeanWebSocketProtocol)
    protocol.factory = PreparingFactory()
    protocol.transport = Buffered(unsent)
    protocol.request = server._Path("/ws/feed/")
    protocol.sendPreparedMessage = lambda prepared: sent.append(("prepared", prepared))
    protocol.sendCloseFrame = lambda code, isReply: sent.append(("close", code))
    protocol.state = protocol.STATE_OPEN
    return protocol


def test_binary_and_closing_sockets_take_their_own_paths(monkeypatch):
    sent = []
    monkeypatch.setattr(server.WebSocketProtocol, "serverSend", lambda self, content, binary=False: sent.append(
        ("daphne", content, binary)))
    protocol = lean_protocol(sent)
    protocol.serverSend(b"\x00", binary=True)
    protocol.serverSend("open")
    protocol.state = protocol.STATE_CLOSING
    protocol.serverSend("closing")  # autobahn would raise Disconnected: dropped
    assert sent == [("daphne", b"\x00", True), ("prepared", ("frame", b"open"))]


def test_a_client_that_does_not_read_is_cut_off_once_its_buffer_is_full(settings, caplog):
    settings.WS_MAX_SEND_BUFFER_BYTES = 1000
    sent = []
    protocol = lean_protocol(sent, unsent=999)
    protocol.serverSend("still fits")
    protocol.transport._tempDataLen = 1001
    protocol.serverSend("dropped")
    protocol.serverSend("dropped too")
    assert sent == [("prepared", ("frame", b"still fits")), ("close", 4009)]
    assert caplog.text.count("the client is not reading (1001 bytes unsent") == 1
