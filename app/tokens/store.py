"""Opaque bearer tokens and one-time WebSocket tickets in Django's DatabaseCache.

Only a SHA-256 of each credential is stored, so a leaked cache table grants nothing.
The cache entry's timeout is the credential's lifetime: expired entries are never returned.
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


def _cache():
    """The token cache, one instance per process. `caches[alias]` keeps one per thread and per
    async context: each WebSocket handshake runs in a context of its own, so each created a
    DatabaseCache (with a model class for its table) that lived as long as its socket, 2.6 KiB
    per socket (bench/RESULTS.md). Cache backends that can hold tokens for several processes are
    thread-safe (DatabaseCache uses the calling thread's database connection)."""
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


def _issue(prefix, user, ttl):
    raw = secrets.token_urlsafe(32)
    expires_at = time.time() + ttl
    # add(), not set(): only add() reports whether the row was written, and a credential
    # handed out without its row would fail later as a mysterious 401/4001.
    if not _cache().add(prefix + _digest(raw), {"user_id": user.pk, "expires_at": expires_at}, timeout=ttl):
        raise CredentialNotStored(f"the token store did not save a new {prefix.rstrip(':')}")
    return IssuedCredential(raw, expires_at)


def _load_user(record):
    if not record or record["expires_at"] <= time.time():
        return None
    User = get_user_model()
    return User._default_manager.filter(pk=record["user_id"], is_active=True).first()


def issue_token(user, ttl=None):
    return _issue(TOKEN_PREFIX, user, ttl or settings.TOKEN_TTL_SECONDS)


def user_for_token(raw):
    """The active user owning this token, or None if unknown, expired or revoked."""
    if not raw:
        return None
    return _load_user(_cache().get(TOKEN_PREFIX + _digest(raw)))


def token_expiry(raw):
    record = _cache().get(TOKEN_PREFIX + _digest(raw))
    return record["expires_at"] if record else None


def revoke_token(raw):
    """True if the token existed."""
    return _cache().delete(TOKEN_PREFIX + _digest(raw))


def issue_ticket(user):
    return _issue(TICKET_PREFIX, user, settings.WS_TICKET_TTL_SECONDS)


def redeem_ticket(raw):
    """The ticket's user, exactly once: of concurrent redeemers only the one whose DELETE
    removed the row wins (DatabaseCache.delete reports the affected row count)."""
    if not raw:
        return None
    key = TICKET_PREFIX + _digest(raw)
    record = _cache().get(key)
    if record is None or not _cache().delete(key):
        return None
    return _load_user(record)
