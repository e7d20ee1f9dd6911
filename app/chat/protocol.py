"""Codes of the chat routes (README "Protocol reference"): realtime.protocol's, and the error
codes only chat frames get."""

from realtime.protocol import FORBIDDEN as FORBIDDEN_CLOSE  # noqa: F401 - 4003
from realtime.protocol import INVALID_MESSAGE, UNAVAILABLE  # noqa: F401
from realtime.protocol import NOT_FOUND as NOT_FOUND_CLOSE  # noqa: F401 - 4004

# The 4003 / 4004 of a conversation named in a frame: an `error`, and the socket stays open.
FORBIDDEN = "forbidden"
NOT_FOUND = "not_found"
# A frame about a conversation this socket has not joined.
NOT_JOINED = "not_joined"
# join_conversation beyond CHAT_MAX_JOINED_CONVERSATIONS.
TOO_MANY_CONVERSATIONS = "too_many_conversations"
# Handshakes (chat.handshakes has the rules).
HANDSHAKE_NOT_POSSIBLE = "handshake_not_possible"
HANDSHAKE_PENDING = "handshake_pending"
NO_PENDING_HANDSHAKE = "no_pending_handshake"
HANDSHAKE_EXPIRED = "handshake_expired"
