"""JWT access tokens from djangorestframework-simplejwt, for clients that already hold them.

Enabled with WS_AUTH_JWT=true, which adds this verifier to TOKEN_VERIFIERS (and simplejwt's
DRF authentication), so every WebSocket backend that carries a bearer credential accepts JWTs.
"""

from django.contrib.auth import get_user_model


class SimpleJWTVerifier:
    name = "jwt"

    def verify(self, raw):
        from rest_framework_simplejwt.exceptions import TokenError
        from rest_framework_simplejwt.settings import api_settings
        from rest_framework_simplejwt.tokens import AccessToken

        try:
            token = AccessToken(raw)
        except TokenError:
            return None
        user_id = token.get(api_settings.USER_ID_CLAIM)
        User = get_user_model()
        return User._default_manager.filter(**{api_settings.USER_ID_FIELD: user_id}, is_active=True).first()
