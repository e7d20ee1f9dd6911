"""What drf-spectacular cannot read from the views themselves: their bodies are built by hand
(`as_event()` dicts) and their requests validated inside the handler. Each view keeps its code;
its documentation lives here, as drf-spectacular extensions, so the schema has no warning and
one app owns it. A new APIView without a schema fails `manage.py spectacular --validate
--fail-on-warn` (apidocs/tests), which is the reminder to document it here or with
@extend_schema on the view."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers

from tokens.serializers import LoginSerializer


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "tokens.authentication.StoreTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <token>` (or `Bearer <token>`), the token from POST /api/auth/login/.",
        }


# --- Bodies ---------------------------------------------------------------------------------
class Error(serializers.Serializer):
    detail = serializers.CharField()


class User(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_staff = serializers.BooleanField()
    team = serializers.CharField(allow_null=True, allow_blank=True)
    branch = serializers.CharField(allow_null=True, allow_blank=True)


class LoginResult(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`; never logged.")
    expires_at = serializers.DateTimeField()
    expires_in = serializers.IntegerField(help_text="Seconds (TOKEN_TTL_SECONDS).")
    user = User()


class Me(User):
    token_expires_at = serializers.DateTimeField(required=False, allow_null=True)


class Ticket(serializers.Serializer):
    ticket = serializers.CharField(help_text="For `?ticket=` or the `ticket` subprotocol: single use.")
    expires_in = serializers.IntegerField(help_text="Seconds (WS_TICKET_TTL_SECONDS).")


class Conversation(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()


class Sender(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class Message(serializers.Serializer):
    id = serializers.IntegerField()
    conversation = serializers.IntegerField()
    conversation_id = serializers.IntegerField(help_text="The same as `conversation`.")
    sender = Sender()
    body = serializers.CharField()
    content = serializers.CharField(help_text="The same as `body`.")
    created_at = serializers.DateTimeField()
    is_read = serializers.BooleanField(help_text="Every other member has read it.")


class NewMessage(serializers.Serializer):
    body = serializers.CharField(required=False, help_text="The text (CHAT_MAX_MESSAGE_LENGTH).")
    content = serializers.CharField(required=False, help_text="Another name for `body`; send one of them.")


class Handshake(serializers.Serializer):
    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    status = serializers.CharField()
    user1_id = serializers.IntegerField()
    user2_id = serializers.IntegerField()
    initiator_id = serializers.IntegerField()
    message = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class HandshakeStart(serializers.Serializer):
    message = serializers.CharField(required=False, allow_blank=True, help_text="A note from the initiator.")


class HandshakeError(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    handshake = Handshake(required=False)


class Notification(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    body = serializers.CharField()
    created_at = serializers.DateTimeField()
    read = serializers.BooleanField()


class NewNotification(serializers.Serializer):
    recipient = serializers.CharField(required=False, help_text="Username; defaults to yourself (staff: anyone).")
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(required=False, allow_blank=True)


class Announcement(serializers.Serializer):
    scope = serializers.ChoiceField(choices=["team", "branch"])
    value = serializers.SlugField(required=False, help_text="Defaults to your own team/branch.")
    message = serializers.CharField(max_length=2000)


class Announced(serializers.Serializer):
    group = serializers.CharField(help_text="The channel-layer group the announcement went to.")


NOT_AUTHENTICATED = OpenApiResponse(Error, description="No, a bad or an expired token.")
THROTTLED = OpenApiResponse(Error, description="Over the rate limit; Retry-After says when to come back.")


def documented(target, **methods):
    """A view extension for `target` (dotted path) whose methods get these extend_schema()s."""

    class Extension(OpenApiViewExtension):
        target_class = target

        def view_replacement(self):
            class Documented(self.target_class):
                pass

            return extend_schema_view(**methods)(Documented)

    Extension.__name__ = Extension.__qualname__ = target.rsplit(".", 1)[-1] + "Schema"
    return Extension


documented(
    "tokens.views.LoginView",
    post=extend_schema(
        summary="Log in for a token", request=LoginSerializer, auth=[],
        responses={200: LoginResult, 400: OpenApiResponse(Error, description="Unknown user or wrong password."),
                   429: THROTTLED, 503: OpenApiResponse(Error, description="The token store is busy; try again.")},
    ),
)
documented(
    "tokens.views.LogoutView",
    post=extend_schema(summary="Revoke this token (its sockets close with 4001)", request=None,
                       responses={204: None, 401: NOT_AUTHENTICATED}),
)
documented(
    "tokens.views.LogoutEverywhereView",
    post=extend_schema(summary="Revoke every token and ticket of this user", request=None,
                       responses={204: None, 401: NOT_AUTHENTICATED}),
)
documented(
    "tokens.views.MeView", get=extend_schema(summary="Who this token is", responses={200: Me, 401: NOT_AUTHENTICATED})
)
documented(
    "tokens.views.WebSocketTicketView",
    post=extend_schema(summary="A one-time WebSocket ticket", request=None,
                       responses={201: Ticket, 401: NOT_AUTHENTICATED, 429: THROTTLED}),
)
documented(
    "chat.views.ConversationListView",
    get=extend_schema(summary="Your conversations", responses={200: Conversation(many=True), 401: NOT_AUTHENTICATED}),
)
CONVERSATION_ERRORS = {401: NOT_AUTHENTICATED, 403: OpenApiResponse(Error, description="Not a member."),
                       404: OpenApiResponse(Error, description="No such conversation.")}
documented(
    "chat.views.MessageListView",
    get=extend_schema(
        summary="History: newest page first, returned oldest first",
        parameters=[
            OpenApiParameter("before", int, description="Only messages with a smaller id."),
            OpenApiParameter("limit", int, description="At most this many (1-200, default 50)."),
        ],
        responses={200: Message(many=True), 400: OpenApiResponse(Error), **CONVERSATION_ERRORS},
    ),
    post=extend_schema(summary="Send a message (saved, then broadcast)", request=NewMessage,
                       responses={201: Message, 400: OpenApiResponse(Error), **CONVERSATION_ERRORS}),
)
HANDSHAKE_ERRORS = {
    401: NOT_AUTHENTICATED,
    403: OpenApiResponse(HandshakeError, description="Not a member, or not yours to answer."),
    404: OpenApiResponse(HandshakeError, description="No such conversation, or no handshake yet."),
    409: OpenApiResponse(HandshakeError, description="The handshake is in another state."),
}
documented(
    "chat.views.HandshakeView",
    get=extend_schema(summary="The conversation's latest handshake", responses={200: Handshake, **HANDSHAKE_ERRORS}),
    post=extend_schema(summary="Start a handshake", request=HandshakeStart,
                       responses={200: Handshake, 201: Handshake, 400: OpenApiResponse(HandshakeError),
                                  **HANDSHAKE_ERRORS}),
)
documented(
    "chat.views.HandshakeActionView",
    post=extend_schema(
        operation_id="chat_conversations_handshake_action",
        summary="Approve, decline (the other member) or cancel (the initiator) a handshake",
        parameters=[OpenApiParameter("conversation_id", OpenApiTypes.INT, OpenApiParameter.PATH),
                    OpenApiParameter("action", str, OpenApiParameter.PATH, enum=["approve", "decline", "cancel"])],
        request=None,
        responses={200: Handshake, **HANDSHAKE_ERRORS},
    ),
)
documented(
    "notifications.views.NotificationListView",
    get=extend_schema(summary="Your latest 50 notifications",
                      responses={200: Notification(many=True), 401: NOT_AUTHENTICATED}),
    post=extend_schema(summary="Notify yourself (staff: anyone)", request=NewNotification,
                       responses={201: Notification, 400: OpenApiResponse(Error), 401: NOT_AUTHENTICATED,
                                  403: OpenApiResponse(Error, description="Only staff notify others."),
                                  404: OpenApiResponse(Error, description="No such recipient.")}),
)
documented(
    "notifications.views.MarkReadView",
    post=extend_schema(summary="Mark a notification read", request=None,
                       responses={200: Notification, 401: NOT_AUTHENTICATED, 404: OpenApiResponse(Error)}),
)
documented(
    "feeds.views.AnnounceView",
    post=extend_schema(
        summary="Announce to your team or branch (staff: any)", request=Announcement,
        responses={202: Announced, 400: OpenApiResponse(Error), 401: NOT_AUTHENTICATED,
                   403: OpenApiResponse(Error, description="Not your team or branch."),
                   503: OpenApiResponse(Error, description="The channel layer did not take it in time.")},
    ),
)
