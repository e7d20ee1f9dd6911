from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TokensConfig(AppConfig):
    name = "tokens"
    verbose_name = "Token store (DatabaseCache) and auth API"

    def ready(self):
        from django.contrib.auth import get_user_model, user_logged_out
        from django.db.models.signals import post_delete, post_save

        from . import checks, signals  # noqa: F401 - checks registers the system check

        # sender=self: migrate sends post_migrate once per app; this handler runs once per migrate.
        post_migrate.connect(signals.create_cache_tables, sender=self, dispatch_uid="tokens.create_cache_tables")
        user_model = get_user_model()
        post_save.connect(signals.close_sockets_of_inactive_user, sender=user_model, dispatch_uid="tokens.inactive")
        post_delete.connect(signals.close_sockets_of_deleted_user, sender=user_model, dispatch_uid="tokens.deleted")
        user_logged_out.connect(signals.close_sockets_of_ended_session, dispatch_uid="tokens.logged_out")
