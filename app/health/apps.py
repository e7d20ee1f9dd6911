from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = "Health endpoints and the wsdoctor diagnostics command"
