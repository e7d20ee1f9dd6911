from django.apps import AppConfig


class WsauthConfig(AppConfig):
    name = "wsauth"
    verbose_name = "WebSocket authentication"
