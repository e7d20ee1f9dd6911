"""Conversations, tokens and socket helpers the chat tests share."""

import pytest

from chat.models import Conversation, Membership
from realtime.testing import established


def make_conversation(title, *members):
    conversation = Conversation.objects.create(title=title)
    Membership.objects.bulk_create(Membership(conversation=conversation, user=user) for user in members)
    return conversation


@pytest.fixture
def room(alice, bob):
    return make_conversation("room", alice, bob)


@pytest.fixture
def tokens(alice, bob, carol, token_for):
    return {"alice": token_for(alice), "bob": token_for(bob), "carol": token_for(carol)}


@pytest.fixture
def open_socket(ws):
    """open_socket(path, token) -> a communicator past connection_established."""

    async def open_(path, token):
        connected, communicator = await ws(path, subprotocols=["bearer", token])
        assert connected
        await established(communicator)
        return communicator

    return open_


async def next_of(communicator, kind):
    """The next frame of type kind, skipping the others."""
    while True:
        message = await communicator.receive_json_from(timeout=2)
        if message["type"] == kind:
            return message


async def nothing_more(communicator):
    """Every frame the socket has been sent up to a ping's pong (which it then drops)."""
    await communicator.send_json_to({"type": "ping"})
    seen = []
    while not seen or seen[-1]["type"] != "pong":
        seen.append(await communicator.receive_json_from(timeout=2))
    return seen[:-1]
