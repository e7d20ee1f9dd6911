"""Where a WebSocket handshake may carry a credential, one small backend per place.

Each backend looks at the scope and returns:
- None: nothing of its kind was presented, ask the next backend;
- AuthResult(user=...): authenticated;
- AuthResult(error=...): a credential was presented and is bad; the chain stops here so
  a bad ticket is reported as such, not hidden by a session cookie.
The chain is `settings.WS_AUTH_BACKENDS`. Errors never include the credential itself.
"""

from dataclasses import dataclass
from importlib import import_module
from types import SimpleNamespace
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.http.cookie import parse_cookie

from tokens import store
from tokens.headers import MalformedAuthorization, credential_from_authorization
from tokens.signals import session_credential_id
from tokens.verifiers import verify_token

# The marker a client offers beside its token: new WebSocket(url, ["bearer", token]).
# The server must answer with it (never the token) or browsers fail the handshake.
BEARER_SUBPROTOCOL = "bearer"
TICKET_SUBPROTOCOL = "ticket"


@dataclass(frozen=True)
class AuthResult:
    user: object = None
    method: str = ""
    error: str = ""
    subprotocol: str | None = None
    # What revoking closes this socket by (tokens.signals.credentials_revoked): a token's
    # store.credential_id(), "session:...", or None (e.g. a JWT: only "log out everywhere").
    credential: str | None = None


def _query_param(scope, name):
    values = parse_qs(scope.get("query_string", b"").decode("latin1")).get(name)
    return values[0] if values else None


def _offered_after(scope, marker):
    """The credential a client offers as subprotocols [marker, credential]: None when the marker
    is not offered, "" when nothing comes with it."""
    offered = scope.get("subprotocols") or []
    if marker not in offered:
        return None
    rest = [value for value in offered if value != marker]
    return rest[0] if rest else ""


def _header(scope, name):
    """The raw value (bytes) of the first header called name, or None."""
    for key, value in scope.get("headers", []):
        if key == name:
            return value
    return None


async def _verify(raw, method, **extra):
    user, verifier = await database_sync_to_async(verify_token)(raw)
    if user is None:
        return AuthResult(method=method, error=f"invalid, expired or revoked token ({method})")
    credential = store.credential_id(raw) if verifier == "token" else None
    return AuthResult(user=user, method=f"{method}:{verifier}", credential=credential, **extra)


async def _redeem(ticket, method, **extra):
    user, token = await database_sync_to_async(store.redeem_ticket_credential)(ticket)
    if user is None:
        return AuthResult(method=method, error="invalid, expired or already used ticket")
    return AuthResult(user=user, method=method, credential=token, **extra)


class SubprotocolTicketBackend:
    """`Sec-WebSocket-Protocol: ticket, <ticket>` (new WebSocket(url, ["ticket", t])): a ticket
    outside the URL, so no log line (nginx writes the request line into its error log when an
    upstream fails) can hold it. What the demo's client sends."""

    async def authenticate(self, scope):
        offered = _offered_after(scope, TICKET_SUBPROTOCOL)
        if offered is None:
            return None
        if not offered:
            return AuthResult(method="ticket", error="'ticket' subprotocol offered without a ticket")
        return await _redeem(offered, "ticket", subprotocol=TICKET_SUBPROTOCOL)


class TicketBackend:
    """`?ticket=` from POST /api/ws/ticket/: single use, ~30 s, for clients that cannot set a
    subprotocol."""

    async def authenticate(self, scope):
        ticket = _query_param(scope, "ticket")
        if ticket is None:
            return None
        return await _redeem(ticket, "ticket")


class SubprotocolTokenBackend:
    """`Sec-WebSocket-Protocol: bearer, <token>`: browsers can send it; it is not in URLs."""

    async def authenticate(self, scope):
        offered = _offered_after(scope, BEARER_SUBPROTOCOL)
        if offered is None:
            return None
        if not offered:
            return AuthResult(method="subprotocol", error="'bearer' subprotocol offered without a token")
        return await _verify(offered, "subprotocol", subprotocol=BEARER_SUBPROTOCOL)


class AuthorizationHeaderBackend:
    """`Authorization: Token|Bearer <token>`: for non-browser clients (browsers cannot set it)."""

    async def authenticate(self, scope):
        header = _header(scope, b"authorization")
        if not header:
            return None
        try:
            token = credential_from_authorization(header)
        except MalformedAuthorization:
            token = None
        if token is None:  # malformed, or another scheme: either way nothing this server accepts
            return AuthResult(method="header", error="malformed Authorization header (expected 'Token <token>')")
        return await _verify(token, "header")


def _session_user(session_key):
    """The user of a Django session, as Django's own get_user() checks it (the session's
    auth hash included), or an AnonymousUser."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return get_user(SimpleNamespace(session=store))


class SessionBackend:
    """Django's session cookie (same-site pages, the admin). Reads the session once, at the
    handshake: no session middleware wraps the socket's every send (channels' SessionMiddleware
    did, and kept a copy of the scope and a wrapper per socket for a session nobody writes)."""

    async def authenticate(self, scope):
        cookies = _header(scope, b"cookie")
        session_key = parse_cookie(cookies.decode("latin1")).get(settings.SESSION_COOKIE_NAME) if cookies else None
        if not session_key:
            return None
        user = await database_sync_to_async(_session_user)(session_key)
        if not user.is_authenticated:
            return None
        return AuthResult(user=user, method="session", credential=session_credential_id(session_key))


class QueryTokenBackend:
    """`?token=`: for existing clients. URLs get logged: prefer tickets. WS_ALLOW_QUERY_TOKEN=false disables it."""

    async def authenticate(self, scope):
        token = _query_param(scope, "token")
        if token is None:
            return None
        if not settings.WS_ALLOW_QUERY_TOKEN:
            return AuthResult(method="query", error="?token= is disabled on this server; use a ticket")
        return await _verify(token, "query")
