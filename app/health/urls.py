from django.urls import path

from . import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("api/websocket/health/", views.websocket_health, name="websocket-health"),
]
