"""Helpers for tests that drive consumers through channels' WebsocketCommunicator."""

ORIGIN = (b"origin", b"http://localhost")


async def receive_close(communicator, timeout=2):
    """Skip data frames until the close; return its code."""
    while True:
        message = await communicator.receive_output(timeout)
        if message["type"] == "websocket.close":
            return message.get("code")


async def established(communicator):
    message = await communicator.receive_json_from(timeout=2)
    assert message["type"] == "connection_established", message  # noqa: S101 - a test helper
    return message
