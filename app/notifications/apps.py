from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Per-user notifications pushed live"

    def ready(self):
        from . import signals  # noqa: F401
