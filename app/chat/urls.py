from django.urls import path, re_path

from . import views

urlpatterns = [
    path("conversations/", views.ConversationListView.as_view(), name="chat-conversations"),
    path("conversations/<int:conversation_id>/messages/", views.MessageListView.as_view(), name="chat-messages"),
    path("conversations/<int:conversation_id>/handshake/", views.HandshakeView.as_view(), name="chat-handshake"),
    re_path(
        r"^conversations/(?P<conversation_id>[0-9]+)/handshake/(?P<action>approve|decline|cancel)/$",
        views.HandshakeActionView.as_view(),
        name="chat-handshake-action",
    ),
]
