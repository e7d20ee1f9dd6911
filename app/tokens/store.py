"""Opaque bearer tokens and one-time WebSocket tickets in Django's DatabaseCache.

Only a SHA-256 of each credential is stored, so a leaked cache table grants nothing.
The cache entry's timeout is the credential's lifetime: expired entries are never returned.
Revoking (one token, or every token of a user) sends `signals.credentials_revoked`, which the
realtime app turns into closing the sockets opened with them, on every server.
"""

import hashlib
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.signals import setting_changed
from django.dispatch import receiver

from .models import TokenRevocation
from .signals import announce_revoked

TOKEN_PREFIX = "token:"
TICKET_PREFIX = "ticket:"
# A session logged out: kept as long as a session can live, so a socket or a ticket that missed
# the revocation broadcast still learns of it (the session key itself is not kept anywhere).
REVOKED_PREFIX = "revoked:"
SESSION_PREFIX = "session:"
# Keys per get_many(): well under every database's limit on query parameters.
BATCH = 500


class CredentialNotStored(RuntimeError):
    """The cache did not store a new credential (DatabaseCache swallows write errors)."""


@dataclass(frozen=True)
class IssuedCredential:
    value: str
    expires_at: float

    @property
    def expires_in(self):
        return max(0, int(self.expires_at - time.time()))


_shared_caches = {}


def token_cache():
    """The token cache backend (tokens.cache.TokenDatabaseCache unless configured otherwise), one
    instance per process, shared by the store, the clean-up, the health report and the metrics.
    `caches[alias]` keeps one per thread and per async context: each WebSocket handshake runs in
    a context of its own, so each created a DatabaseCache (with a model class for its table) that
    lived as long as its socket, 2.6 KiB per socket (bench/RESULTS.md). Cache backends that can
    hold tokens for several processes are thread-safe (DatabaseCache uses the calling thread's
    database connection)."""
    alias = settings.TOKEN_CACHE_ALIAS
    cache = _shared_caches.get(alias)
    if cache is None:
        cache = _shared_caches[alias] = caches.create_connection(alias)
    return cache


@receiver(setting_changed)
def _forget_shared_caches(setting, **kwargs):
    if setting in ("CACHES", "TOKEN_CACHE_ALIAS"):
        _shared_caches.clear()


def _digest(raw):
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def looks_like_jwt(raw):
    # Our credentials are url-safe base64 (no dots); a JWT has exactly two.
    return raw.count(".") == 2


def _issue(prefix, user, ttl, **extra):
    raw = secrets.token_urlsafe(32)
    now = time.time()
    record = {"user_id": user.pk, "expires_at": now + ttl, "issued_at": now, **extra}
    # add(), not set(): only add() reports whether the row was written, and a credential
    # handed out without its row would fail later as a mysterious 401/4001.
    if not token_cache().add(prefix + _digest(raw), record, timeout=ttl):
        raise CredentialNotStored(f"the token store did not save a new {prefix.rstrip(':')}")
    return IssuedCredential(raw, now + ttl)


def _active_users(user_ids):
    """{pk: user} of the active users among user_ids, their last "log out everywhere" loaded too."""
    User = get_user_model()
    return {user.pk: user for user in
            User._default_manager.filter(pk__in=user_ids, is_active=True).select_related("token_revocation")}


def _logged_out_since(issued_at, user):
    """Whether the user's last "log out everywhere" came at or after issued_at. Records issued
    before tokens carried issued_at count as issued at 0: revoked too."""
    try:
        return issued_at <= user.token_revocation.before
    except TokenRevocation.DoesNotExist:
        return False


def _load_user(record):
    if not record or record["expires_at"] <= time.time():
        return None
    user = _active_users([record["user_id"]]).get(record["user_id"])
    if user is None or _logged_out_since(record.get("issued_at", 0), user):
        return None
    return user


def credential_id(raw):
    """What identifies a token in revocations and logs: its digest, never the token itself."""
    return _digest(raw)


def issue_token(user, ttl=None):
    return _issue(TOKEN_PREFIX, user, ttl or settings.TOKEN_TTL_SECONDS)


def user_for_token(raw):
    """The active user owning this token, or None if unknown, expired or revoked."""
    if not raw:
        return None
    return _load_user(token_cache().get(TOKEN_PREFIX + _digest(raw)))


def token_expiry(raw):
    record = token_cache().get(TOKEN_PREFIX + _digest(raw))
    return record["expires_at"] if record else None


def revoke_token(raw):
    """True if the token existed. Its open sockets are closed (4001) once this commits."""
    key = TOKEN_PREFIX + _digest(raw)
    record = token_cache().get(key)
    if not token_cache().delete(key):
        return False
    if record:
        announce_revoked(record["user_id"], [credential_id(raw)])
    return True


def revoke_all_tokens(user):
    """Log out everywhere: every token and ticket of user issued until now stops working, and
    every socket opened with one of them is closed."""
    TokenRevocation.objects.update_or_create(user=user, defaults={"before": time.time()})
    announce_revoked(user.pk, None)


def remember_revoked_session(session_credential):
    """A session was logged out: sockets and tickets opened with it learn so even when the
    revocation broadcast did not reach them (realtime.revocation checks open sockets)."""
    token_cache().set(REVOKED_PREFIX + session_credential, time.time(), timeout=settings.SESSION_COOKIE_AGE)


def issue_ticket(user, token=None, session=None):
    """A one-time ticket tied to the credential it was asked with (`token`: the raw token, or
    `session`: tokens.signals.session_credential_id() of the session): it cannot be redeemed once
    that credential is revoked, and the socket it opens closes when the credential is revoked."""
    extra = {"token": credential_id(token)} if token else {"credential": session} if session else {}
    return _issue(TICKET_PREFIX, user, settings.WS_TICKET_TTL_SECONDS, **extra)


def redeem_ticket(raw):
    """The ticket's user, exactly once (see redeem_ticket_credential)."""
    return redeem_ticket_credential(raw)[0]


def redeem_ticket_credential(raw):
    """(user, the id of the token it was issued for or None), exactly once: of concurrent
    redeemers only the one whose DELETE removed the row wins (DatabaseCache.delete reports the
    affected row count). (None, None) for a bad, expired or used ticket."""
    if not raw:
        return None, None
    key = TICKET_PREFIX + _digest(raw)
    record = token_cache().get(key)
    if record is None or not token_cache().delete(key):
        return None, None
    user = _load_user(record)
    credential = record.get("token") or record.get("credential")
    if user is None or (credential and revoked_credentials([(user.pk, credential, record["issued_at"])])):
        return None, None  # the ticket dies with the login it was asked with
    return user, credential


def revoked_credentials(sockets):
    """Which of the open sockets' logins are no longer valid, checked in a few queries whatever
    their number: sockets is a list of (user id, credential id or None, authenticated at), the
    credential id as store.credential_id() or tokens.signals.session_credential_id() make it.
    Returns the set of their indexes that are revoked: the user is gone or inactive, the token
    is gone or expired, the session was logged out, or "log out everywhere" came after the
    login. realtime.revocation asks this for every open socket, so a revocation whose broadcast
    was lost (Redis down, a script without a channel layer, a queryset update() that sends no
    signal) still closes them."""
    users = {}
    for chunk in _chunks(sorted({user_id for user_id, _, _ in sockets})):
        users.update(_active_users(chunk))
    credentials = {credential for _, credential, _ in sockets if credential}
    keys = [(REVOKED_PREFIX if credential.startswith(SESSION_PREFIX) else TOKEN_PREFIX) + credential
            for credential in credentials]
    found = {}
    for chunk in _chunks(keys):
        found.update(token_cache().get_many(chunk))
    now = time.time()
    revoked = set()
    for index, (user_id, credential, authenticated_at) in enumerate(sockets):
        if user_id not in users:
            revoked.add(index)
            continue
        if credential and credential.startswith(SESSION_PREFIX):
            if REVOKED_PREFIX + credential in found:
                revoked.add(index)
                continue
        elif credential:
            record = found.get(TOKEN_PREFIX + credential)
            if record is None or record["expires_at"] <= now:
                revoked.add(index)
                continue
            authenticated_at = record.get("issued_at", 0)  # as the handshake judged it (_load_user)
        if _logged_out_since(authenticated_at, users[user_id]):
            revoked.add(index)
    return revoked


def _chunks(items):
    items = list(items)
    for start in range(0, len(items), BATCH):
        yield items[start:start + BATCH]
