"""Log records with the process's instance and, while serving a WebSocket, its route and user
id; LOG_FORMAT=json writes each as one JSON object per line. Never a credential (redact)."""

import logging
from datetime import UTC, datetime

from django.conf import settings
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from . import context
from .redact import redact_text


class ContextFilter(logging.Filter):
    def filter(self, record):
        record.instance = getattr(settings, "SERVER_INSTANCE_ID", "")
        current = context.connection.get()
        if current is not None:
            record.route = current.route
            if current.user_id is not None:
                record.user_id = current.user_id
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(_JsonFormatter):
    """time, level, logger, message, then whatever the line carries (instance, route, user_id,
    close_code, ...). A traceback is one escaped string, so one event stays one line. time is
    ISO 8601 in UTC with its offset (2026-12-07T17:41:28.718+00:00), which log stores parse as
    it is; logging's default (2026-12-07 17:41:28,718) names no zone and has a comma."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s", *args, **kwargs)

    def formatTime(self, record, datefmt=None):  # noqa: N802 - logging's name
        if datefmt:  # a format asked for in the config wins
            return super().formatTime(record, datefmt)
        return datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")

    def formatException(self, ei):  # noqa: N802 - logging's name
        return redact_text(super().formatException(ei))
