"""The wire protocol's constants: close codes and error codes.

The protocol is documented in the top-level README.md, section "Protocol reference"
("Errors and close codes" lists these); keep the two in step.
"""

# Protocol close codes (RFC 6455 7.4.1) the server sends itself.
SERVER_ERROR = 1011  # could not set the socket up (its channel layer is unreachable): retry later

# Application close codes (4000-4999 are free for applications, RFC 6455 7.4.2).
UNAUTHENTICATED = 4001
FORBIDDEN = 4003
NOT_FOUND = 4004
POLICY_VIOLATION = 4008  # rate or size limit

CLOSE_REASONS = {
    UNAUTHENTICATED: "unauthenticated",
    FORBIDDEN: "forbidden",
    NOT_FOUND: "not found",
    POLICY_VIOLATION: "policy violation",
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
