from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from . import handshakes, protocol, services


def _member_conversation(conversation_id, user):
    access, conversation = services.conversation_access(conversation_id, user)
    if access == "not_found":
        raise NotFound("No such conversation.")
    if access == "forbidden":
        raise PermissionDenied("You are not a member of this conversation.")
    return conversation


class ConversationListView(APIView):
    def get(self, request):
        conversations = request.user.conversations.order_by("id")
        return Response([{"id": c.pk, "title": c.title} for c in conversations])


class HistoryQuery(serializers.Serializer):
    before = serializers.IntegerField(required=False, min_value=1)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=200, default=50)


class MessageListView(APIView):
    """GET: history, newest page first (?before=<id>&limit=50), returned oldest first.
    POST {"body"} (or {"content"}): same as sending over the socket (saved, then broadcast)."""

    def get(self, request, conversation_id):
        conversation = _member_conversation(conversation_id, request.user)
        query = HistoryQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = query.validated_data
        return Response(services.history(conversation, page.get("before"), page["limit"]))

    def post(self, request, conversation_id):
        _member_conversation(conversation_id, request.user)
        try:
            message = services.post_message(conversation_id, request.user, services.message_text(request.data))
        except services.ChatError as error:
            raise ValidationError({"body": [str(error)]}) from None
        return Response(message.as_event(), status=status.HTTP_201_CREATED)


# A handshake error as HTTP: the conversation's 404/403, 400 for a bad note, 409 for a handshake
# in the wrong state. The body has the socket error frame's `code`, and the handshake it is about.
HANDSHAKE_STATUS = {
    protocol.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    protocol.FORBIDDEN: status.HTTP_403_FORBIDDEN,
    protocol.INVALID_MESSAGE: status.HTTP_400_BAD_REQUEST,
}


def _handshake_response(action, ok_status=status.HTTP_200_OK):
    """Run a chat.handshakes call returning (handshake, changed) and answer it."""
    try:
        handshake, changed = action()
    except handshakes.HandshakeError as error:
        body = {"detail": str(error), "code": error.code}
        if error.handshake is not None:
            body["handshake"] = error.handshake.as_event()
        return Response(body, status=HANDSHAKE_STATUS.get(error.code, status.HTTP_409_CONFLICT))
    return Response(handshake.as_event(), status=ok_status if changed else status.HTTP_200_OK)


class HandshakeStart(serializers.Serializer):
    message = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False,
                                    max_length=handshakes.MAX_NOTE_LENGTH, help_text="A note from the initiator.")


class HandshakeView(APIView):
    """GET: the conversation's latest handshake (404 if it never had one). POST {"message"?}:
    start one (201), or 200 with the one that already stands (yours pending, or approved)."""

    def get(self, request, conversation_id):
        def latest():
            handshake = handshakes.current(conversation_id, request.user)
            if handshake is None:
                raise handshakes.HandshakeError(protocol.NOT_FOUND, "No handshake in this conversation yet.")
            return handshake, False

        return _handshake_response(latest)

    def post(self, request, conversation_id):
        data = HandshakeStart(data=request.data)
        data.is_valid(raise_exception=True)
        note = data.validated_data["message"]
        return _handshake_response(lambda: handshakes.start(conversation_id, request.user, note),
                                   ok_status=status.HTTP_201_CREATED)


class HandshakeActionView(APIView):
    """POST .../handshake/approve/ | decline/ (the other member) | cancel/ (the initiator)."""

    def post(self, request, conversation_id, action):
        conversation_id = int(conversation_id)  # re_path hands over the digits as text
        if action == "cancel":
            return _handshake_response(lambda: handshakes.cancel(conversation_id, request.user))
        return _handshake_response(lambda: handshakes.answer(conversation_id, request.user, action))
