"""The project's URLs with /metrics, as METRICS_ENABLED=true builds them."""

from django.urls import include, path

from config.urls import urlpatterns as project_urlpatterns

urlpatterns = [*project_urlpatterns, path("", include("observability.urls"))]
