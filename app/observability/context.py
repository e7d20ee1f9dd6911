"""What the current WebSocket connection is, for log lines written while serving it.

Set by the connection observer (observability.asgi) in the connection's task: every log line of
that task (the consumer's handlers included) then carries its route and user id.
"""

import contextvars

connection = contextvars.ContextVar("connection", default=None)
