from django.conf import settings
from django.db import models


class Profile(models.Model):
    """Attributes that WebSocket groups derive from (see the feeds app)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    team = models.SlugField(max_length=50, blank=True)
    branch = models.SlugField(max_length=50, blank=True)

    class Meta:
        permissions = [("view_any_feed_scope", "Can subscribe to any team or branch feed")]

    def __str__(self):
        return f"{self.user} ({self.team}/{self.branch})"


def profile_for(user):
    """The user's profile, or an unsaved empty one (no team, no branch)."""
    try:
        return user.profile
    except Profile.DoesNotExist:
        return Profile(user=user)
