"""Text no database can store (a NUL, a lone surrogate) is refused where it comes in: a 400 naming
the field over HTTP, the `invalid_message` error frame over a socket, never a 500 or a traceback.

The bodies are raw JSON: "\\u0000" and "\\ud800" are valid JSON escapes (json.loads accepts both),
and DRF's test renderer could not even encode a lone surrogate."""

import json
import logging

import pytest
from rest_framework.test import APIClient

from chat import handshakes, services
from chat.models import Message

from .conftest import make_conversation, next_of

NUL = "\\u0000"  # as JSON spells them
SURROGATE = "\\ud800"
BAD_TEXT = [pytest.param(NUL, id="nul"), pytest.param(SURROGATE, id="lone-surrogate"),
            pytest.param("\\udfff", id="lone-low-surrogate")]


def api(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def post_raw(client, url, json_text):
    return client.post(url, data=json_text, content_type="application/json")


# --- The one check both paths use ---------------------------------------------------------------
@pytest.mark.parametrize("text", ["a\x00b", "\ud800", "ok \udfff", "\ud83d"])
def test_check_text_refuses_a_nul_and_lone_surrogates(text):
    with pytest.raises(services.InvalidText) as refused:
        services.check_text(text)
    assert isinstance(refused.value, services.ChatError)  # what the consumer answers with an error frame
    assert str(refused.value).startswith("body contains")


@pytest.mark.parametrize("text", ["plain", "caf\u00e9 \u4e2d\u6587", "\U0001f600 a whole emoji", "tab\tand\nnewline"])
def test_check_text_lets_real_text_through(text):
    assert services.check_text(text) == text


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["a\x00b", "x\ud800y"])
def test_post_message_refuses_it_before_the_database(room, alice, text):
    with pytest.raises(services.InvalidText):
        services.post_message(room.pk, alice, text)
    assert Message.objects.count() == 0


@pytest.mark.django_db
def test_a_surrogate_pair_is_one_character_and_is_saved(room, alice):
    text = json.loads('"hi \\ud83d\\ude00"')  # the pair, as JSON escapes it: one character
    message = services.post_message(room.pk, alice, text)
    assert Message.objects.get(pk=message.pk).body == "hi \U0001f600"


# --- HTTP -----------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("bad", BAD_TEXT)
@pytest.mark.parametrize("field", ["body", "content"])
def test_a_message_posted_over_http_is_a_400_naming_the_field(room, alice_token, caplog, bad, field):
    url = f"/api/chat/conversations/{room.pk}/messages/"
    with caplog.at_level(logging.WARNING):
        response = post_raw(api(alice_token), url, f'{{"{field}": "before {bad} after"}}')
    assert response.status_code == 400, response.content
    (reason,) = response.json()["body"]
    assert "NUL" in reason or "lone surrogate" in reason
    assert Message.objects.count() == 0
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.django_db
def test_the_same_endpoint_still_takes_real_text(room, alice_token):
    url = f"/api/chat/conversations/{room.pk}/messages/"
    response = post_raw(api(alice_token), url, '{"body": "\\u00e9t\\u00e9 \\ud83d\\ude00"}')
    assert response.status_code == 201 and response.json()["body"] == "\u00e9t\u00e9 \U0001f600"


# Every other text a user writes over HTTP goes through a DRF CharField, whose validators refuse both
# (ProhibitNullCharactersValidator, ProhibitSurrogateCharactersValidator). Proven here, so a field
# that stops being a CharField (or a new text endpoint) shows up.
OTHER_TEXT_FIELDS = [
    ("/api/notifications/", '{{"title": "t{bad}"}}', "title"),
    ("/api/notifications/", '{{"title": "t", "body": "b{bad}"}}', "body"),
    ("/api/notifications/", '{{"title": "t", "recipient": "alice{bad}"}}', "recipient"),
    ("/api/feed/announce/", '{{"scope": "team", "message": "m{bad}"}}', "message"),
    ("/api/auth/login/", '{{"username": "alice{bad}", "password": "{ok}"}}', "username"),
    ("/api/auth/login/", '{{"username": "alice", "password": "{bad}"}}', "password"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("bad", BAD_TEXT)
@pytest.mark.parametrize(("url", "body", "field"), OTHER_TEXT_FIELDS)
def test_every_other_text_field_over_http_is_a_400_naming_it(alice_token, bad, url, body, field):
    response = post_raw(api(alice_token), url, body.format(bad=bad, ok="any"))
    assert response.status_code == 400, response.content
    assert field in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("bad", BAD_TEXT)
def test_a_handshake_note_over_http_is_a_400_naming_it(room, alice_token, bad):
    response = post_raw(api(alice_token), f"/api/chat/conversations/{room.pk}/handshake/",
                        f'{{"message": "note {bad}"}}')
    assert response.status_code == 400 and "message" in response.json()


# --- WebSocket (the consumer in process: no server started) ---------------------------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"])
@pytest.mark.parametrize("path", ["chat", "multiplexed"])
async def test_over_a_socket_it_is_an_invalid_message_error_and_the_socket_keeps_serving(
        ws, alice, bob, tokens, caplog, bad, path):
    from asgiref.sync import sync_to_async

    room = await sync_to_async(make_conversation)("room", alice, bob)
    url = f"/ws/chat/{room.pk}/" if path == "chat" else "/ws/chat/"
    connected, alice_socket = await ws(url, subprotocols=["bearer", tokens["alice"]])
    assert connected
    await next_of(alice_socket, "connection_established")
    if path == "multiplexed":
        await alice_socket.send_json_to({"type": "join_conversation", "conversation_id": room.pk})
        await next_of(alice_socket, "conversation_joined")
    with caplog.at_level(logging.INFO):
        # send_json_to escapes them (ensure_ascii), as a client's JSON library does: "\\u0000", "\\ud800"
        await alice_socket.send_json_to({"type": "message", "conversation_id": room.pk, "body": bad})
        error = await next_of(alice_socket, "error")
    assert error["code"] == "invalid_message" and ("NUL" in error["message"] or "surrogate" in error["message"])
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert await Message.objects.acount() == 0
    await alice_socket.send_json_to({"type": "message", "conversation_id": room.pk, "body": "still here"})
    assert (await next_of(alice_socket, "message"))["message"]["body"] == "still here"


# The note of a handshake started over a socket goes to chat.handshakes.start; over HTTP the
# serializer's CharField refuses both (above). Runs once handshakes.start checks the note with
# services.check_text (a patch of chat/handshakes.py): failing, it leaves rows behind that break the
# transactional tests after it, so it is skipped until then rather than marked xfail.
@pytest.mark.skipif(not hasattr(handshakes, "check_text"), reason="chat.handshakes does not check the note yet")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"])
async def test_a_handshake_note_over_a_socket_is_an_invalid_message_error(ws, alice, bob, tokens, caplog, bad):
    from asgiref.sync import sync_to_async

    from chat.models import Handshake

    room = await sync_to_async(make_conversation)("room", alice, bob)
    connected, alice_socket = await ws(f"/ws/chat/{room.pk}/", subprotocols=["bearer", tokens["alice"]])
    assert connected
    await next_of(alice_socket, "connection_established")
    with caplog.at_level(logging.INFO):
        await alice_socket.send_json_to({"type": "handshake_start", "message": bad})
        error = await next_of(alice_socket, "error")
    assert error["code"] == "invalid_message" and "message contains" in error["message"]
    assert "Traceback" not in caplog.text
    assert await Handshake.objects.acount() == 0
