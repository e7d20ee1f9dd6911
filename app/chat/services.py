"""Chat actions shared by the WebSocket consumer and the HTTP API: save, then broadcast."""

from django.conf import settings
from django.db import transaction

from realtime.broadcast import broadcast_on_commit

from .models import Conversation, Membership, Message, conversation_group


class ChatError(ValueError):
    pass


def conversation_access(conversation_id, user):
    """('ok' | 'not_found' | 'forbidden', the conversation or None) for this user and id."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        return "not_found", None
    if not Membership.objects.filter(conversation=conversation, user=user).exists():
        return "forbidden", conversation
    return "ok", conversation


def post_message(conversation_id, user, body):
    body = (body or "").strip() if isinstance(body, str) else ""
    if not body:
        raise ChatError("Message body is empty.")
    if len(body) > settings.CHAT_MAX_MESSAGE_LENGTH:
        raise ChatError(f"Message longer than {settings.CHAT_MAX_MESSAGE_LENGTH} characters.")
    with transaction.atomic():
        message = Message.objects.create(conversation_id=conversation_id, sender=user, body=body)
        event = {"type": "chat.message", "message": message.as_event()}
        # Broadcast only once the row is committed, so no client sees a message that then vanishes.
        broadcast_on_commit(conversation_group(conversation_id), event)
    return message


def mark_read(conversation_id, user, message_id):
    message = Message.objects.filter(pk=message_id, conversation_id=conversation_id).first()
    if message is None:
        raise ChatError("No such message in this conversation.")
    Membership.objects.filter(conversation_id=conversation_id, user=user).update(last_read=message)
    return message
