"""Credentials out of anything that leaves the process: log lines and error reports.

Tokens and tickets reach the server in URLs (`?token=`, `?ticket=`), the Authorization header,
cookies and the WebSocket subprotocol list (`bearer, <token>` / `ticket, <ticket>`). Nothing here
is expected to find one (no log line is written with a credential), it is the safety net.
"""

import re

FILTERED = "[Filtered]"

# ?token=abc&ticket=def (also access_token, jwt, password), in URLs and query strings.
_QUERY = re.compile(r"(?i)((?:^|[?&;\s\"'])(?:token|ticket|access_token|refresh|jwt|password|sessionid)=)[^&;#\s\"']+")
# "Token abc...", "Bearer abc...": an Authorization value, or the subprotocol list "bearer, abc...".
# Credentials here are 20 characters or more (tokens 43), which leaves prose ("token expired") be.
_SCHEME = re.compile(
    r"(?i)\b(token|bearer|ticket|basic)(['\"]?\s*,\s*['\"]?|\s+)(?!\[Filtered\])[A-Za-z0-9._~+/=:-]{20,}"
)

# Dict keys (headers, cookies, form fields, settings) whose values are secrets whatever they hold.
SECRET_KEYS = re.compile(
    r"(?i)^(authorization|proxy-authorization|cookies?|set-cookie|x-csrftoken|sec-websocket-protocol|"
    r"http_authorization|http_cookie|http_sec_websocket_protocol|"
    r".*(password|passwd|secret|token|ticket|session|csrf|api[_-]?key|dsn|credential).*)$"
)


def redact_text(text):
    """`text` with every credential-looking value replaced by [Filtered]."""
    if not text:
        return text
    text = _QUERY.sub(lambda m: m.group(1) + FILTERED, text)
    return _SCHEME.sub(lambda m: m.group(1) + m.group(2) + FILTERED, text)


def redact(value, key=None):
    """A copy of a JSON-like value (dicts, lists, strings) with secret keys and credential-looking
    text filtered, as far down as it goes."""
    if key is not None and isinstance(key, str) and SECRET_KEYS.match(key) and value not in (None, "", [], {}):
        return FILTERED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        # Sentry sends headers and cookies as [[name, value], ...] lists too.
        if len(value) == 2 and isinstance(value[0], str) and SECRET_KEYS.match(value[0]):
            return [value[0], FILTERED]
        return [redact(item) for item in value]
    return value
