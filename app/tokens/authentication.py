from rest_framework import authentication, exceptions

from . import store


class StoreTokenAuthentication(authentication.BaseAuthentication):
    """DRF authentication for tokens from the store: `Authorization: Token <t>` or `Bearer <t>`.

    JWT-shaped bearer values are left to the JWT authentication class when it is enabled.
    """

    keywords = ("token", "bearer")

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].decode("latin1").lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: send 'Authorization: Token <token>'."
            )
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Token contains invalid characters.") from None
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
