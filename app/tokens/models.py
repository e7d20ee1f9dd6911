"""The tokens themselves live in a DatabaseCache table (see store.py); this is the one thing that
does not fit a cache entry: "log out everywhere", a point in time per user.

(This module also makes Django send this app's post_migrate, which signals.create_cache_tables
listens for.)
"""

from django.conf import settings
from django.db import models


class TokenRevocation(models.Model):
    """Every token and ticket of `user` issued at or before `before` is revoked."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="token_revocation")
    # The store's own clock (time.time(), as the records' issued_at), not a DateTimeField.
    before = models.FloatField()

    def __str__(self):
        return f"tokens of {self.user} issued before {self.before}"
