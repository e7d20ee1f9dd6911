"""Run by test_sentry.py in a process of its own (Sentry's integrations patch Django for the
life of a process): the app with SENTRY_DSN set and a transport that keeps every envelope
instead of sending it, then errors carrying credentials everywhere a request can carry them.
Prints each envelope as one line of JSON-escaped text."""

import asyncio
import json
import logging
import os
import sys

from sentry_sdk.transport import Transport

CAPTURED = []


class KeepingTransport(Transport):
    def capture_envelope(self, envelope):
        CAPTURED.append(envelope.serialize().decode("utf-8", "replace"))


def main(token):
    from observability import sentry

    real_init = sentry.init
    hooks = {}
    if os.environ.pop("PROBE_NO_SCRUB", ""):  # the negative control: what Sentry would get unfiltered
        hooks = {"before_send": None, "before_send_transaction": None, "before_breadcrumb": None}
    sentry.init = lambda **overrides: real_init(transport=KeepingTransport, **hooks, **overrides)

    import django

    django.setup()
    from channels.testing import WebsocketCommunicator
    from django.test import Client

    from config.asgi import application

    # HTTP: the database has no tables, so the token check fails with a 500 Sentry reports.
    client = Client(raise_request_exception=False)
    response = client.get(f"/api/auth/me/?token={token}&ticket={token}", HTTP_AUTHORIZATION=f"Token {token}",
                          HTTP_COOKIE=f"sessionid={token}; csrftoken={token}", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 500, response.status_code

    async def failing_consumer(scope, receive, send):
        raise RuntimeError("the consumer failed")

    async def websocket(app, path):
        communicator = WebsocketCommunicator(
            app, f"{path}?ticket={token}&token={token}", subprotocols=["bearer", token],
            headers=[(b"origin", b"http://localhost"), (b"authorization", f"Bearer {token}".encode()),
                     (b"cookie", f"sessionid={token}".encode()),
                     (b"sec-websocket-protocol", f"bearer, {token}".encode())],  # as daphne's scope has it
        )
        try:
            await communicator.connect()
        except Exception:  # noqa: BLE001 - the failure is what Sentry reports
            pass

    # The project's WebSocket app (a transaction with the handshake's request), and a consumer
    # that raises inside the same Sentry wrapper config.asgi puts around it (an error event).
    asyncio.run(websocket(application, "/ws/notifications/"))
    asyncio.run(websocket(sentry.wrap_asgi(failing_consumer), "/ws/failing/"))
    logging.getLogger("realtime").error("could not serve /ws/chat/1/?token=%s (Authorization: Bearer %s)", token, token)

    import sentry_sdk

    sentry_sdk.flush(timeout=5)
    for envelope in CAPTURED:
        print(json.dumps(envelope))


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    main(os.environ.pop("PROBE_TOKEN"))  # not in argv: Sentry sends the command line
