from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from apidocs.views import SwaggerPage

urlpatterns = [
    path("", include("demo.urls")),
    path("", include("health.urls")),
    path(settings.ADMIN_URL, admin.site.urls),  # ADMIN_URL: a path of your own, not the well-known admin/
    path("api/", include("tokens.urls")),
    path("api/chat/", include("chat.urls")),
    path("api/notifications/", include("notifications.urls")),
    path("api/feed/", include("feeds.urls")),
    # OpenAPI 3 (YAML; ?format=json) and its Swagger UI: staff only unless API_SCHEMA_PUBLIC (the
    # page sends a browser that may not read it to log in).
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/schema/docs/", SwaggerPage.as_view(url_name="api-schema"), name="api-docs"),
]

if settings.METRICS_ENABLED:  # otherwise /metrics is a 404 and nothing is counted
    urlpatterns.append(path("", include("observability.urls")))
