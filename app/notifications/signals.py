"""Model change -> transaction.on_commit -> group_send: whoever creates a Notification
(API, admin, a task), every open socket of its recipient gets it, on any process."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Notification, user_group


@receiver(post_save, sender=Notification)
def push_new_notification(sender, instance, created, **kwargs):
    if not created:
        return
    event = {"type": "notification.created", "notification": instance.as_event()}
    group = user_group(instance.recipient_id)
    transaction.on_commit(lambda: async_to_sync(get_channel_layer().group_send)(group, event))
