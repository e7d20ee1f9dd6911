from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "WebSocket protocol, base consumer, diagnostics echo and ops feed"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_save

        # revocation registers its receiver here, in every process (a script, `manage.py shell`,
        # a worker), not only in those that serve sockets: a user deactivated anywhere is announced.
        from . import checks, revocation  # noqa: F401  (checks registers system checks)

        post_save.connect(revocation.access_of_user_changed, sender=get_user_model(),
                          dispatch_uid="realtime.access_of_user_changed")
