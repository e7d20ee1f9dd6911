from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .models import Message


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
    POST {"body"}: same as sending over the socket (saved, then broadcast)."""

    def get(self, request, conversation_id):
        conversation = _member_conversation(conversation_id, request.user)
        query = HistoryQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        messages = Message.objects.filter(conversation=conversation).select_related("sender")
        if "before" in query.validated_data:
            messages = messages.filter(pk__lt=query.validated_data["before"])
        page = list(messages.order_by("-id")[: query.validated_data["limit"]])
        return Response([m.as_event() for m in reversed(page)])

    def post(self, request, conversation_id):
        _member_conversation(conversation_id, request.user)
        try:
            message = services.post_message(conversation_id, request.user, request.data.get("body"))
        except services.ChatError as error:
            raise ValidationError({"body": [str(error)]}) from None
        return Response(message.as_event(), status=status.HTTP_201_CREATED)
