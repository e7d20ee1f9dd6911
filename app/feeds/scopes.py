"""Which feed groups a user gets: derived from their profile, overridable by the privileged."""

from django.utils.text import slugify

from accounts.models import profile_for

SCOPES = ("team", "branch")
OVERRIDE_PERMISSION = "accounts.view_any_feed_scope"


def group_name(scope, value):
    return f"feed.{scope}.{slugify(value)}"


def default_groups(user):
    profile = profile_for(user)
    return [group_name(scope, getattr(profile, scope)) for scope in SCOPES if getattr(profile, scope)]


def can_override(user):
    return user.is_staff or user.has_perm(OVERRIDE_PERMISSION)


def parse_override(query):
    """{"team": "red"} from ?team=red&branch=...; empty when no override was asked for."""
    return {scope: query[scope] for scope in SCOPES if query.get(scope)}
