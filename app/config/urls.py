from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("demo.urls")),
    path("", include("health.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("tokens.urls")),
    path("api/chat/", include("chat.urls")),
    path("api/notifications/", include("notifications.urls")),
    path("api/feed/", include("feeds.urls")),
]
