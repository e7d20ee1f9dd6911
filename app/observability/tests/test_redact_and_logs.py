"""No credential in a log line, JSON logs one line per event with their context."""

import json
import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from observability import context
from observability.asgi import Connection
from observability.logs import ContextFilter, JsonFormatter
from observability.redact import FILTERED, redact, redact_text

TOKEN = "Zk3vQ9x_rT2mWf7yLp0aBc4DeF6gHiJkLmNoPqRsTu8"


@pytest.mark.parametrize(
    "text",
    [
        f"GET /ws/notifications/?token={TOKEN} HTTP/1.1",
        f"/ws/chat/1/?a=1&ticket={TOKEN}#x",
        f"Authorization: Token {TOKEN}",
        f"Authorization: Bearer {TOKEN}",
        f"Sec-WebSocket-Protocol: bearer, {TOKEN}",
        f"subprotocols ['ticket', '{TOKEN}']",
        f"token={TOKEN}",
    ],
)
def test_credentials_are_filtered_from_text(text):
    cleaned = redact_text(text)
    assert TOKEN not in cleaned and FILTERED in cleaned


def test_prose_is_left_alone():
    for text in ("token expired", "Invalid or expired token: log in again", "bad ticket", "websocket closed code=4001"):
        assert redact_text(text) == text


def test_structures_are_filtered_by_key_and_by_value():
    event = {
        "request": {
            "url": "https://example.org/ws/x/",
            "query_string": f"ticket={TOKEN}&page=2",
            "headers": {"Authorization": f"Token {TOKEN}", "Cookie": "sessionid=abc", "Accept": "*/*",
                        "Sec-WebSocket-Protocol": f"bearer, {TOKEN}"},
            "cookies": {"sessionid": "abc", "csrftoken": "def"},
        },
        "extra": {"password": "hunter2-but-longer", "count": 3},
        "list": [["Authorization", f"Bearer {TOKEN}"], f"?token={TOKEN}"],
    }
    cleaned = redact(event)
    flat = json.dumps(cleaned)
    assert TOKEN not in flat and "sessionid=abc" not in flat and "hunter2" not in flat and "def" not in flat
    assert cleaned["request"]["headers"]["Accept"] == "*/*" and cleaned["extra"]["count"] == 3
    assert cleaned["request"]["query_string"] == f"ticket={FILTERED}&page=2"


def record(message, *args, **extra):
    item = logging.LogRecord("realtime", logging.WARNING, __file__, 1, message, args, None)
    item.__dict__.update(extra)
    return item


def test_json_lines_carry_the_instance_and_the_connection(settings):
    settings.SERVER_INSTANCE_ID = "host:daphne-1"
    connection = Connection("/ws/chat/<int:conversation_id>/")
    connection.user_id = 42
    token = context.connection.set(connection)
    try:
        item = record("websocket closed: code=%s url=/ws/chat/1/?token=%s", 4001, TOKEN, close_code=4001)
        assert ContextFilter().filter(item)
        line = JsonFormatter().format(item)
    finally:
        context.connection.reset(token)
    assert "\n" not in line and TOKEN not in line
    event = json.loads(line)
    assert event["instance"] == "host:daphne-1" and event["route"] == "/ws/chat/<int:conversation_id>/"
    assert event["user_id"] == 42 and event["close_code"] == 4001 and event["level"] == "WARNING"
    assert event["logger"] == "realtime" and event["message"].startswith("websocket closed: code=4001")


def test_json_time_is_iso_8601_with_its_zone():
    item = record("hello")
    item.created = datetime(2026, 12, 7, 17, 41, 28, 718000, tzinfo=UTC).timestamp()
    stamp = json.loads(JsonFormatter().format(item))["time"]
    assert stamp == "2026-12-07T17:41:28.718+00:00"
    # What a log store does with it: one instant, whatever the reader's zone.
    assert datetime.fromisoformat(stamp).timestamp() == pytest.approx(item.created, abs=0.001)


def test_a_traceback_stays_on_one_line_without_credentials():
    try:
        raise ValueError(f"bad url /ws/x/?ticket={TOKEN}")
    except ValueError:
        item = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = JsonFormatter().format(item)
    assert "\n" not in line and TOKEN not in line and "ValueError" in json.loads(line)["exc_info"]


APP_DIR = os.path.join(os.path.dirname(__file__), "..", "..")
LOG_LINE = "import logging; logging.getLogger('realtime').warning('hello %s', 'world')"


def run_with(*command, **env):
    full = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "LOG_FORMAT")}
    full.update(DJANGO_SETTINGS_MODULE="config.settings.dev", **env)
    return subprocess.run([sys.executable, "manage.py", *(command or ("shell", "-c", LOG_LINE))], cwd=APP_DIR,
                          env=full, capture_output=True, text=True, timeout=60)


@pytest.mark.process
def test_plain_is_the_default_and_json_is_one_switch():
    plain = run_with()
    assert plain.returncode == 0 and plain.stderr.strip().endswith("WARNING realtime hello world"), plain.stderr
    before = time.time()
    as_json = run_with(LOG_FORMAT="json", SERVER_INSTANCE_ID="dev-1")
    event = json.loads(as_json.stderr.strip().splitlines()[-1])
    assert event["message"] == "hello world" and event["instance"] == "dev-1", as_json.stderr
    logged = datetime.fromisoformat(event["time"])
    assert logged.utcoffset() is not None and before - 1 <= logged.timestamp() <= time.time() + 1, event["time"]


@pytest.mark.process
def test_each_django_line_is_logged_once_while_debugging():
    """Django's own loggers have handlers of their own by default ("django" prints while DEBUG);
    with ours on root every such line came out twice, as under `make run`."""
    line = "import logging; logging.getLogger('django.request').warning('once-%s', 'only')"
    for log_format in ("plain", "json"):
        result = run_with("shell", "-c", line, DJANGO_DEBUG="true", LOG_FORMAT=log_format)
        assert result.returncode == 0, result.stderr
        assert result.stderr.count("once-only") == 1, result.stderr


@pytest.mark.process
def test_an_unknown_log_format_is_refused_in_words():
    result = run_with("check", LOG_FORMAT="xml")
    assert result.returncode != 0 and "LOG_FORMAT='xml'" in result.stderr and "plain" in result.stderr
