"""Demo users and their conversations: used by `seed_demo` and the tests."""

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
# Two members only, so the demo users have a conversation handshakes work in.
DEMO_DIRECT = ("alice", "bob")
DEMO_DIRECT_TITLE = "alice & bob"


def _conversation(title, users):
    conversation, _ = Conversation.objects.get_or_create(title=title)
    for user in users:
        Membership.objects.get_or_create(conversation=conversation, user=user)
    return conversation


@transaction.atomic
def seed_demo_users(password=None):
    """Create or reset the demo users; returns [(username, password, is_staff)]."""
    User = get_user_model()
    created = []
    users = {}
    for username, team, branch, is_staff in DEMO_USERS:
        user, _ = User.objects.get_or_create(username=username)
        user_password = password or secrets.token_urlsafe(9)
        user.set_password(user_password)
        user.is_staff = is_staff
        user.email = f"{username}@example.com"
        user.first_name, user.last_name = username.capitalize(), "Demo"  # clients show full_name
        user.save()
        Profile.objects.update_or_create(user=user, defaults={"team": team, "branch": branch})
        users[username] = user
        created.append((username, user_password, is_staff))
    # The room first: clients that open "the first conversation" open the room.
    _conversation(DEMO_CONVERSATION_TITLE, users.values())
    _conversation(DEMO_DIRECT_TITLE, [users[name] for name in DEMO_DIRECT])
    return created
