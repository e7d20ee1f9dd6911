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


def _load_user(record):
    if not record or record["expires_at"] <= time.time():
        return None
    User = get_user_model()
    user = User._default_manager.filter(pk=record["user_id"], is_active=True).select_related("token_revocation").first()
    if user is None:
        return None
    try:
        revoked_before = user.token_revocation.before
    except TokenRevocation.DoesNotExist:
        return user
    # Records issued before tokens carried issued_at count as issued at 0: revoked too.
    return None if record.get("issued_at", 0) <= revoked_before else user


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


def issue_ticket(user, token=None):
    """A one-time ticket; `token` (the raw token it was asked with) ties the socket it opens to
    that token, so revoking the token closes the socket too."""
    extra = {"token": credential_id(token)} if token else {}
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
    return user, (record.get("token") if user else None)
