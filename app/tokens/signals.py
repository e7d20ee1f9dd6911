"""`manage.py migrate` also creates the DatabaseCache table the token store lives in; and the
signal revocations are announced with."""

import hashlib

from django.core.management import call_command
from django.db import transaction
from django.dispatch import Signal

# Sent after commit when credentials stop working: user_id, and credentials (a list of
# store.credential_id() values, "session:..." ids) or None for every credential of the user.
# The realtime app closes the sockets opened with them, on every server.
credentials_revoked = Signal()


def create_cache_tables(sender, using, **kwargs):
    """post_migrate: create the cache tables in the database just migrated (`using`), so no
    separate createcachetable step can be forgotten. createcachetable skips existing tables."""
    call_command("createcachetable", database=using, verbosity=0)



def session_credential_id(session_key):
    """The id a socket authenticated by a session cookie is known by in revocations."""
    return "session:" + hashlib.sha256(session_key.encode()).hexdigest()


def announce_revoked(user_id, credentials):
    transaction.on_commit(lambda: credentials_revoked.send(sender=None, user_id=user_id, credentials=credentials))


def close_sockets_of_inactive_user(sender, instance, created, **kwargs):
    """post_save of a user: a deactivated user's tokens stop working (the store checks
    is_active); its open sockets close too."""
    if not created and not instance.is_active:
        announce_revoked(instance.pk, None)


def close_sockets_of_deleted_user(sender, instance, **kwargs):
    announce_revoked(instance.pk, None)


def close_sockets_of_ended_session(sender, request, user, **kwargs):
    """user_logged_out (Django's logout(), the admin's): sockets opened with that session close."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and session_key:
        from .store import remember_revoked_session  # the store imports this module

        credential = session_credential_id(session_key)
        remember_revoked_session(credential)
        announce_revoked(user.pk, [credential])
