from django.apps import AppConfig


class ThrottlingConfig(AppConfig):
    name = "throttling"
    verbose_name = "Per-client limits every process shares: API throttles and the admin's login limit"

    def ready(self):
        from . import checks  # noqa: F401  (registers system checks)
