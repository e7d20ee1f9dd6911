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

from daphne.cli import CommandLineInterface
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import defer, reactor, task

GOING_AWAY = 1001
logger = logging.getLogger("daphne.server")


class GracefulServer(Server):
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


class GracefulCommandLineInterface(CommandLineInterface):
    server_class = GracefulServer


if __name__ == "__main__":
    GracefulCommandLineInterface.entrypoint()
