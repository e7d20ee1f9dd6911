"""Errors go to Sentry with no credential in anything sent (a transport keeps the envelopes)."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.process  # runs commands: not in `make unit`

APP_DIR = Path(__file__).resolve().parents[2]


def probe(tmp_path, token, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.dev",
        DJANGO_DEBUG="false",
        DATABASE_URL=f"sqlite:///{tmp_path / 'no-tables.sqlite3'}",
        ALLOWED_HOSTS="testserver,localhost",
        SENTRY_DSN="https://public@sentry.invalid/1",
        SENTRY_TRACES_SAMPLE_RATE="1.0",
        PROBE_TOKEN=token,
        **extra,
    )
    result = subprocess.run([sys.executable, str(Path(__file__).with_name("sentry_probe.py"))], cwd=APP_DIR,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith('"')]


def test_no_credential_reaches_sentry(tmp_path):
    token = secrets.token_urlsafe(32)
    envelopes = probe(tmp_path, token)
    events = [e for e in envelopes if '"type":"event"' in e.replace(" ", "")]
    # The HTTP 500, the WebSocket failure, the error log line: each reported (and traces sent).
    assert len(events) >= 3, envelopes
    text = "\n".join(envelopes)
    for seen in ("/api/auth/me/", "OperationalError", "/ws/notifications/", "/ws/failing/", "the consumer failed",
                 "could not serve"):
        assert seen in text, seen
    assert token not in text
    assert "[Filtered]" in text


def test_without_the_filter_the_credentials_would_be_sent(tmp_path):
    """Negative control: the same errors reported with the hooks off carry the token."""
    token = secrets.token_urlsafe(32)
    assert token in "\n".join(probe(tmp_path, token, PROBE_NO_SCRUB="1"))
