from rest_framework import authentication, exceptions

from . import store
from .headers import MalformedAuthorization, credential_from_authorization


class StoreTokenAuthentication(authentication.BaseAuthentication):
    """DRF authentication for tokens from the store: `Authorization: Token <t>` or `Bearer <t>`
    (parsed by headers.credential_from_authorization, as the WebSocket header backend does).

    JWT-shaped bearer values are left to the JWT authentication class when it is enabled.
    """

    def authenticate(self, request):
        try:
            raw = credential_from_authorization(authentication.get_authorization_header(request))
        except MalformedAuthorization:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: send 'Authorization: Token <token>'."
            ) from None
        if raw is None:
            return None
        if not raw.isascii():
            raise exceptions.AuthenticationFailed("Token contains invalid characters.")
        if store.looks_like_jwt(raw):
            return None
        user = store.user_for_token(raw)
        if user is None:
            raise exceptions.AuthenticationFailed(
                "Invalid or expired token: log in again with POST /api/auth/login/."
            )
        return user, raw

    def authenticate_header(self, request):
        return 'Token realm="api"'
