from django.apps import AppConfig


class ApiDocsConfig(AppConfig):
    name = "apidocs"
    verbose_name = "The OpenAPI schema of the HTTP API"

    def ready(self):
        from . import extensions  # noqa: F401  (registers the schema extensions)
