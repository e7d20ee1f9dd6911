from datetime import UTC, datetime

from rest_framework import permissions, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from throttling.throttles import SharedScopedRateThrottle

from . import store
from .serializers import LoginSerializer, UserSerializer
from .signals import session_credential_id


def _iso(timestamp):
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat()


class TokenStoreBusy(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The token store could not save the credential (database busy or unavailable); try again."
    default_code = "token_store_busy"


def _issue(issue, user):
    try:
        return issue(user)
    except store.CredentialNotStored:
        raise TokenStoreBusy from None


class LoginView(APIView):
    """POST username + password -> a random token (stored hashed) and its expiry."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [SharedScopedRateThrottle]
    throttle_scope = "login"

    def post(self, request):
        serializer = LoginSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        token = _issue(store.issue_token, user)
        return Response(
            {
                "token": token.value,
                "expires_at": _iso(token.expires_at),
                "expires_in": token.expires_in,
                "user": UserSerializer(user).data,
            }
        )


class LogoutView(APIView):
    """Revoke the token this request was authenticated with; sockets opened with it (or with a
    ticket asked for with it) are closed with 4001 on every server."""

    def post(self, request):
        if isinstance(request.auth, str):
            store.revoke_token(request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutEverywhereView(APIView):
    """Revoke every token and ticket of this user, on every device; every socket of the user is
    closed with 4001."""

    def post(self, request):
        store.revoke_all_tokens(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    def get(self, request):
        data = UserSerializer(request.user).data
        if isinstance(request.auth, str):
            expires_at = store.token_expiry(request.auth)
            data["token_expires_at"] = _iso(expires_at) if expires_at else None
        return Response(data)


class WebSocketTicketView(APIView):
    """A one-time ticket for `?ticket=`: short-lived and single use, so a logged URL is worthless."""

    throttle_classes = [SharedScopedRateThrottle]
    throttle_scope = "ws_ticket"

    def post(self, request):
        token = request.auth if isinstance(request.auth, str) else None
        session_key = None if token else getattr(request.session, "session_key", None)
        session = session_credential_id(session_key) if session_key else None
        ticket = _issue(lambda user: store.issue_ticket(user, token=token, session=session), request.user)
        return Response({"ticket": ticket.value, "expires_in": ticket.expires_in}, status=status.HTTP_201_CREATED)
