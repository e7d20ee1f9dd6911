"""Token verifiers: given a raw bearer credential, return its user or None.

`settings.TOKEN_VERIFIERS` lists them in order; the WebSocket auth backends ask each in
turn, so turning JWTs on (WS_AUTH_JWT) adds a verifier rather than a new code path.
"""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from . import store


class TokenStoreVerifier:
    name = "token"

    def verify(self, raw):
        if store.looks_like_jwt(raw):
            return None
        return store.user_for_token(raw)


@cache
def instances(paths):
    """One instance of each class named by the dotted paths, built once per tuple of paths
    (a settings override builds a new set). Used for TOKEN_VERIFIERS and WS_AUTH_BACKENDS."""
    return [import_string(path)() for path in paths]


def get_verifiers():
    return instances(tuple(settings.TOKEN_VERIFIERS))


def verify_token(raw):
    """(user, verifier name) for the first verifier that accepts raw, else (None, None)."""
    for verifier in get_verifiers():
        user = verifier.verify(raw)
        if user is not None:
            return user, verifier.name
    return None, None
