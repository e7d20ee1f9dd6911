from django.urls import path

from . import views

urlpatterns = [
    path("conversations/", views.ConversationListView.as_view(), name="chat-conversations"),
    path("conversations/<int:conversation_id>/messages/", views.MessageListView.as_view(), name="chat-messages"),
]
