from django.urls import path

from .consumers import EchoConsumer, OpsConsumer

websocket_urlpatterns = [
    path("ws/test/", EchoConsumer.as_asgi()),
    path("ws/ops/", OpsConsumer.as_asgi()),
]
