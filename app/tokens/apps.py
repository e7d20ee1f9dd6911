from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TokensConfig(AppConfig):
    name = "tokens"
    verbose_name = "Token store (DatabaseCache) and auth API"

    def ready(self):
        from .signals import create_cache_tables

        # sender=self: migrate sends post_migrate once per app; this handler runs once per migrate.
        post_migrate.connect(create_cache_tables, sender=self, dispatch_uid="tokens.create_cache_tables")
