from django.apps import AppConfig


class OverloadConfig(AppConfig):
    name = "overload"
    verbose_name = "Answers under overload: 503 with Retry-After, bounded password hashing"
