"""Chat actions shared by both WebSocket routes and the HTTP API: save, then broadcast."""

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from realtime.broadcast import broadcast_on_commit

from .models import Conversation, Membership, Message, conversation_group


class ChatError(ValueError):
    pass


class InvalidText(ChatError):
    """Text no database here can store. Over HTTP a 400 naming the field; over a socket the
    consumer's `invalid_message` error (it answers every ChatError so)."""


def check_text(text, field="body"):
    """Refuse a NUL or a lone surrogate in user text before it reaches the database. JSON lets
    both in ("\\u0000", "\\ud800"); PostgreSQL stores no NUL and no database here can encode a
    lone surrogate, so each was a 500 over HTTP, and `internal_error` with an ERROR traceback over
    a socket on every frame. One check for both paths (post_message calls it)."""
    if "\x00" in text:
        raise InvalidText(f"{field} contains a NUL character (\\u0000), which cannot be stored: remove it.")
    try:
        text.encode("utf-8")  # in C: fast even for the longest message
    except UnicodeEncodeError as error:
        raise InvalidText(
            f"{field} contains a lone surrogate (U+{ord(text[error.start]):04X} at character {error.start}): "
            "half of a UTF-16 pair is not text. Send whole characters."
        ) from None
    return text


def conversation_access(conversation_id, user):
    """('ok' | 'not_found' | 'forbidden', the conversation or None) for this user and id."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        return "not_found", None
    if not Membership.objects.filter(conversation=conversation, user=user).exists():
        return "forbidden", conversation
    return "ok", conversation


def message_text(data):
    """The text of a new message: `body`, or `content` as clients of other setups send it."""
    if not isinstance(data, dict):  # a JSON array or scalar posted to the API
        raise ChatError('Send a JSON object: {"body": "..."}.')
    body, content = data.get("body"), data.get("content")
    if body is not None and content is not None and body != content:
        raise ChatError("Send the text once: as body or as content, not two different texts.")
    return body if body is not None else content


def post_message(conversation_id, user, body):
    body = (body or "").strip() if isinstance(body, str) else ""
    if not body:
        raise ChatError("Message body is empty.")
    if len(body) > settings.CHAT_MAX_MESSAGE_LENGTH:
        raise ChatError(f"Message longer than {settings.CHAT_MAX_MESSAGE_LENGTH} characters.")
    check_text(body)
    with transaction.atomic():
        message = Message.objects.create(conversation_id=conversation_id, sender=user, body=body)
        event = {"type": "chat.message", "message": message.as_event()}
        # Broadcast only once the row is committed, so no client sees a message that then vanishes.
        broadcast_on_commit(conversation_group(conversation_id), event)
    return message


def mark_read(conversation_ids, user, message_id):
    """Record that user has read up to message_id, which must be in one of conversation_ids;
    returns the message. A receipt for an older message does not move last_read back."""
    message = Message.objects.filter(pk=message_id, conversation_id__in=conversation_ids).first()
    if message is None:
        raise ChatError("No such message in this conversation.")
    Membership.objects.filter(conversation_id=message.conversation_id, user=user).filter(
        Q(last_read__isnull=True) | Q(last_read__lt=message.pk)
    ).update(last_read=message)
    return message


def history(conversation, before=None, limit=50):
    """A page of messages, newest page first (before=<id>), returned oldest first, each with
    `is_read`: read by every other member."""
    messages = Message.objects.filter(conversation=conversation).select_related("sender")
    if before is not None:
        messages = messages.filter(pk__lt=before)
    page = list(messages.order_by("-id")[:limit])
    last_read = dict(Membership.objects.filter(conversation=conversation).values_list("user_id", "last_read_id"))

    def is_read(message):
        others = [read for user_id, read in last_read.items() if user_id != message.sender_id]
        return bool(others) and all(read is not None and read >= message.pk for read in others)

    return [message.as_event(is_read=is_read(message)) for message in reversed(page)]
