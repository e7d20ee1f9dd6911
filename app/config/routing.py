"""All WebSocket routes, collected from the apps that own them."""

from chat.routing import websocket_urlpatterns as chat_routes
from feeds.routing import websocket_urlpatterns as feed_routes
from notifications.routing import websocket_urlpatterns as notification_routes
from realtime.routing import websocket_urlpatterns as realtime_routes

websocket_urlpatterns = [*realtime_routes, *chat_routes, *notification_routes, *feed_routes]
