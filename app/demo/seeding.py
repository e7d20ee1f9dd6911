"""Demo users and the conversation they share: used by `seed_demo` and the tests."""

import secrets

from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.models import Profile
from chat.models import Conversation, Membership

DEMO_USERS = [
    # username, team, branch, is_staff
    ("alice", "red", "north", False),
    ("bob", "red", "south", False),
    ("carol", "blue", "north", True),
]
DEMO_CONVERSATION_TITLE = "Demo room"


@transaction.atomic
def seed_demo_users(password=None):
    """Create or reset the demo users; returns [(username, password, is_staff)]."""
    User = get_user_model()
    created = []
    users = []
    for username, team, branch, is_staff in DEMO_USERS:
        user, _ = User.objects.get_or_create(username=username)
        user_password = password or secrets.token_urlsafe(9)
        user.set_password(user_password)
        user.is_staff = is_staff
        user.email = f"{username}@example.com"
        user.save()
        Profile.objects.update_or_create(user=user, defaults={"team": team, "branch": branch})
        users.append(user)
        created.append((username, user_password, is_staff))
    conversation, _ = Conversation.objects.get_or_create(title=DEMO_CONVERSATION_TITLE)
    for user in users:
        Membership.objects.get_or_create(conversation=conversation, user=user)
    return created
