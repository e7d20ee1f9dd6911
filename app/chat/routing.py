from django.urls import path

from .consumers import ChatConsumer, ChatMultiplexConsumer

websocket_urlpatterns = [
    path("ws/chat/<int:conversation_id>/", ChatConsumer.as_asgi()),
    path("ws/chat/", ChatMultiplexConsumer.as_asgi()),
]
