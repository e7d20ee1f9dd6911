"""How an exception is named in a log line."""


def describe(error):
    """The exception's message, or its class when it has none: a bare TimeoutError() (an
    asyncio.timeout that expired) has an empty message, and `error or ...` does not help, since
    every exception object is true. Logged that way, a handshake said "could not join its groups ()"."""
    return str(error) or type(error).__name__
