"""daphne that says goodbye: `python -m realtime.server [daphne's options] config.asgi:application`.

On SIGTERM (systemctl stop or restart, a deploy, a container stop) plain daphne drops every
open WebSocket (clients see 1006, abnormal closure) and cancels the consumers at once, so their
disconnect handlers (group_discard, ...) never run. This server stops accepting, then closes each open socket
with 1001 (going away: clients reconnect, to another instance), gives the consumers up to
--application-close-timeout seconds to finish websocket.disconnect, then cancels whatever is left,
as daphne's own shutdown does. Every daphne option works as usual.
"""

import asyncio
import logging
import time
from collections import OrderedDict
from functools import partial

from daphne.cli import CommandLineInterface
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol
from django.conf import settings
from twisted.internet import abstract, defer, reactor, task
from twisted.web.http import HTTPChannel

from realtime.protocol import TOO_SLOW

GOING_AWAY = 1001
# How long a client cut off for not reading may still read what it was sent, and the close.
SLOW_CLIENT_GRACE_SECONDS = 30
logger = logging.getLogger("daphne.server")

_buffered_write = abstract.FileDescriptor.write


def write_at_once(self, data):
    """Twisted's FileDescriptor.write, but sending at once when nothing is queued before it.

    Twisted queues every write and registers the socket with the event loop until it is
    writable, then unregisters it: two epoll_ctl calls and a loop turn per frame. In a broadcast
    that was a third of daphne's time (bench/RESULTS.md). asyncio's own transports try the send
    first, as this does; whatever the kernel does not take is queued as before, so order, flow
    control and errors stay Twisted's.
    """
    if (isinstance(data, bytes) and data and self.connected and not self.disconnecting and not self._writeDisconnected
            and not self._tempDataBuffer and self.offset == len(self.dataBuffer)):
        sent = self.writeSomeData(data)
        if isinstance(sent, int) and sent > 0:
            if sent == len(data):
                return
            data = data[sent:]
    _buffered_write(self, data)


class _Inbox:
    """What daphne uses of an asyncio.Queue per connection (put_nowait, get), without its four
    deques and Event allocated up front: about 2.4 KiB less per open socket (bench/RESULTS.md)."""

    __slots__ = ("_items", "_waiter")

    def __init__(self):
        self._items = []
        self._waiter = None

    def put_nowait(self, item):
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self):
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)


class _Path:
    __slots__ = ("path",)

    def __init__(self, path):
        self.path = path


class _PreparedFrames(OrderedDict):
    """The last few texts sent, framed (autobahn's prepared messages): a group event goes out as
    one text to every local member (realtime.groups), framed once instead of once per socket."""

    size = 16

    def frame(self, factory, text):
        prepared = self.get(text)
        if prepared is None:
            prepared = self[text] = factory.prepareMessage(text.encode("utf8"))
            if len(self) > self.size:
                self.popitem(last=False)
        return prepared


_prepared_frames = _PreparedFrames()


def _unsent_bytes(transport):
    """What Twisted holds for a connection because the peer has not read it yet."""
    try:
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen
    except AttributeError:  # not a plain file-descriptor transport (TLS in daphne, tests)
        return 0


class LeanWebSocketProtocol(WebSocketProtocol):
    """daphne's WebSocket protocol, and what this project needs of it:
    - a client that stops reading is cut off (4009) once WS_MAX_SEND_BUFFER_BYTES wait for it,
      where daphne buffered without bound (45.8 MB in 6 s for one stalled client);
    - a frame daphne refuses (invalid UTF-8, over the size limit) closes with its code (1007,
      1009) and a log line saying why, where autobahn dropped the TCP connection silently (1006);
    - a text sent to many sockets is framed once;
    - nothing of the handshake is kept once the socket is open (the headers stay in the scope:
      about 5 KiB per socket less, bench/RESULTS.md)."""

    too_slow = False

    def _connectionMade(self):
        super()._connectionMade()
        # Close with a code before dropping the connection on a protocol error (autobahn's
        # default for servers is to drop at once: the client only sees 1006).
        self.failByDrop = False

    def _fail_connection(self, code=WebSocketProtocol.CLOSE_STATUS_CODE_GOING_AWAY, reason="going away"):
        if self.state != self.STATE_CLOSED:
            logger.warning("websocket closed by the server: path=%s code=%s reason=%s",
                           getattr(self.request, "path", "?"), code, reason)
        super()._fail_connection(code, reason)

    def serverSend(self, content, binary=False):
        if self.state in (self.STATE_CLOSING, self.STATE_CLOSED):
            return  # the socket is going: autobahn would raise Disconnected
        if self.state == self.STATE_OPEN and self.client_too_slow():
            return
        if binary or self.state != self.STATE_OPEN:
            return super().serverSend(content, binary)
        self.sendPreparedMessage(_prepared_frames.frame(self.factory, content))

    def client_too_slow(self):
        unsent = _unsent_bytes(self.transport)
        if unsent <= settings.WS_MAX_SEND_BUFFER_BYTES:
            return False
        if not self.too_slow:
            self.too_slow = True
            logger.warning("websocket closed: path=%s code=%s reason=the client is not reading (%d bytes unsent, "
                           "WS_MAX_SEND_BUFFER_BYTES=%d)", getattr(self.request, "path", "?"), TOO_SLOW, unsent,
                           settings.WS_MAX_SEND_BUFFER_BYTES)
            # Queued behind what it has not read (nothing more is added): a client that reads
            # again within the grace gets every frame, then 4009; then autobahn drops the
            # connection, freeing the buffer.
            self.closeHandshakeTimeout = SLOW_CLIENT_GRACE_SECONDS
            self.sendCloseFrame(code=TOO_SLOW, isReply=False)
        return True

    def onOpen(self):
        super().onOpen()
        # daphne reads only the path of the request afterwards, for its access log lines.
        self.request = _Path(self.request.path)
        # autobahn's copies of the raw request and its parsed headers serve the handshake only.
        self.http_request_data = self.http_headers = None
        # The HTTP channel that received the upgrade stays registered as the transport's
        # producer, keeping Twisted's request, its headers and its buffer for the socket's life.
        if isinstance(getattr(self.transport, "producer", None), HTTPChannel):
            self.transport.unregisterProducer()


def access_log_client(client):
    """The client as daphne's access log should show it (see GracefulServer.log_action)."""
    if client is None:
        return "unix"
    host, _, port = client.rpartition(":")
    return host if host and port == "0" else client


class GracefulServer(Server):
    @property
    def ws_factory(self):
        return self.__dict__["ws_factory"]

    @ws_factory.setter
    def ws_factory(self, factory):
        factory.protocol = LeanWebSocketProtocol
        self.__dict__["ws_factory"] = factory

    def create_application(self, protocol, scope):
        # daphne's own, with an _Inbox for the connection's queue.
        assert "application_instance" not in self.connections[protocol]  # noqa: S101 - daphne's invariant
        inbox = _Inbox()
        scope.setdefault("asgi", {"version": "3.0"})
        instance = self.application(scope=scope, receive=inbox.get, send=partial(self.handle_reply, protocol))
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(instance)
        return inbox

    def log_action(self, protocol, action, details):
        """daphne's access lines, with the client named: daphne formats it as "host:port", None
        when the connection has no peer address (a unix socket: the units' default), and port 0
        when --proxy-headers took the address from X-Forwarded-For without a port (nginx sends
        none). The lines read "None - - [...]" and "203.0.113.7:0 - - [...]"; here "unix" (a
        local client on the socket, such as a health check) and "203.0.113.7"."""
        if "client" in details:
            details = {**details, "client": access_log_client(details["client"])}
        super().log_action(protocol, action, details)

    def listen_success(self, port):
        # daphne's callback swallows the listening port; keep it to stop accepting later.
        self.__dict__.setdefault("listening_ports", []).append(port)
        return super().listen_success(port)

    @defer.inlineCallbacks
    def kill_all_applications(self):
        # Stop accepting first: a proxy's new handshakes must go to another instance, not to
        # this one while it is leaving (the socket or port refuses, nginx tries the next).
        for port in self.__dict__.get("listening_ports", []):
            yield port.stopListening()
        open_sockets = {
            protocol: details for protocol, details in list(self.connections.items())
            if isinstance(protocol, WebSocketProtocol) and protocol.state == protocol.STATE_OPEN
        }
        for protocol in open_sockets:
            # autobahn's public sendClose() allows only 1000 and 3000-4999 (application codes);
            # 1001 is the protocol's own "going away", sent with the frame-level call.
            protocol.sendCloseFrame(code=GOING_AWAY, isReply=False)
        closing = list(open_sockets.values())
        deadline = time.monotonic() + self.application_close_timeout
        while time.monotonic() < deadline and any(
            details.get("application_instance") and not details["application_instance"].done() for details in closing
        ):
            yield task.deferLater(reactor, 0.05, lambda: None)
        # What daphne's own kill_all_applications does, minus its assumption that every
        # connection still has an application instance (its checker removes finished ones,
        # and we just gave it time to run).
        pending = []
        for details in self.connections.values():
            instance = details.get("application_instance")
            if instance is not None and not instance.done():
                instance.cancel()
                pending.append(instance)
        logger.info("Closed %i WebSocket(s) with 1001; cancelled %i pending application instance(s)",
                    len(open_sockets), len(pending))
        yield defer.Deferred.fromFuture(asyncio.gather(*pending, return_exceptions=True))
        # The consumers left their groups locally; the process leaves the layer's groups in the
        # background (realtime.groups): finish that before exiting, or it stays a dead member.
        from realtime.groups import leave_every_group

        yield defer.Deferred.fromFuture(asyncio.ensure_future(leave_every_group()))


class GracefulCommandLineInterface(CommandLineInterface):
    server_class = GracefulServer


if __name__ == "__main__":
    abstract.FileDescriptor.write = write_at_once
    GracefulCommandLineInterface.entrypoint()
