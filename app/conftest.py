"""Fixtures shared by every test: users, tokens, and a WebSocket connector for the real ASGI app."""

import pytest
from channels.testing import WebsocketCommunicator

from realtime.testing import ORIGIN


@pytest.fixture
def make_user(db, django_user_model):
    from accounts.models import Profile

    def make(username="alice", team="red", branch="north", is_staff=False, password="pw-for-tests-1"):
        user = django_user_model.objects.create_user(username=username, password=password, is_staff=is_staff)
        Profile.objects.create(user=user, team=team, branch=branch)
        return user

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob", branch="south")


@pytest.fixture
def carol(make_user):
    return make_user("carol", team="blue", is_staff=True)


@pytest.fixture
def token_for():
    from tokens.store import issue_token

    return lambda user, ttl=None: issue_token(user, ttl=ttl).value


@pytest.fixture
async def ws():
    """Open a WebsocketCommunicator on the full ASGI application (origin check, auth chain,
    routing), the way daphne would call it; closes every socket at the end."""
    from config.asgi import application

    opened = []

    async def connect(path, headers=(ORIGIN,), subprotocols=None):
        communicator = WebsocketCommunicator(application, path, headers=list(headers), subprotocols=subprotocols)
        connected, subprotocol = await communicator.connect()
        communicator.subprotocol = subprotocol
        opened.append(communicator)
        return connected, communicator

    yield connect
    for communicator in opened:
        await communicator.disconnect()


@pytest.fixture
def alice_token(alice, token_for):
    return token_for(alice)


@pytest.fixture
def alice_ticket(alice):
    from tokens.store import issue_ticket

    return issue_ticket(alice).value


@pytest.fixture
def session_for():
    """session_for(user) -> a saved Django session of user (as a login makes one), for sockets
    authenticated by the session cookie."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    async def make(user):
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        await session.asave()
        return session

    return make


@pytest.fixture
def empty_token_table(request):
    """An empty token table, for tests that count its rows. The cache table is no model's, so rows
    left by transactional tests elsewhere outlive their flush; emptied inside this test's
    transaction (rolled back after)."""
    if "db" in request.fixturenames or request.node.get_closest_marker("django_db"):
        request.getfixturevalue("db")
        from tokens import store

        store.token_cache().clear()
