from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "WebSocket protocol, base consumer, diagnostics echo and ops feed"

    def ready(self):
        from . import checks  # noqa: F401  (registers system checks)
