"""The wire protocol's constants: close codes and error codes.

The protocol is documented in the top-level README.md, section "Protocol reference"
("Errors and close codes" lists these); keep the two in step.
"""

# Application close codes (4000-4999 are free for applications, RFC 6455 7.4.2).
UNAUTHENTICATED = 4001
FORBIDDEN = 4003
NOT_FOUND = 4004
POLICY_VIOLATION = 4008  # rate or size limit
TOO_SLOW = 4009  # the client did not read what was sent to it: reconnect, reload what was missed
# The server cannot serve the socket now (its channel layer is unreachable or saturated): retry
# with backoff. 1011/1013 would say the same, but daphne (autobahn) sends only 1000 and 3000-4999.
UNAVAILABLE_CLOSE = 4013

CLOSE_REASONS = {
    UNAUTHENTICATED: "unauthenticated",
    FORBIDDEN: "forbidden",
    NOT_FOUND: "not found",
    POLICY_VIOLATION: "policy violation",
    TOO_SLOW: "too slow: not reading",
    UNAVAILABLE_CLOSE: "unavailable, retry later",
}

# Error codes carried by {"type": "error", "code": ...}.
INVALID_JSON = "invalid_json"
INVALID_MESSAGE = "invalid_message"
UNKNOWN_TYPE = "unknown_type"
MESSAGE_TOO_LARGE = "message_too_large"
RATE_LIMITED = "rate_limited"
BINARY_NOT_SUPPORTED = "binary_not_supported"
INTERNAL_ERROR = "internal_error"
UNAVAILABLE = "unavailable"
CREDENTIAL_REVOKED = "credential_revoked"
ACCESS_WITHDRAWN = "access_withdrawn"  # a membership removed, staff taken away: on an open socket
IDLE_TIMEOUT = "idle_timeout"
TOO_MANY_SOCKETS = "too_many_sockets"  # over WS_MAX_SOCKETS_PER_USER, then a 4008 close
