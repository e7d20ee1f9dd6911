"""Model change -> transaction.on_commit -> group_send: whoever creates a Notification
(API, admin, a task), every open socket of its recipient gets it, on any process."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from realtime.broadcast import broadcast_on_commit

from .models import Notification, user_group


@receiver(post_save, sender=Notification)
def push_new_notification(sender, instance, created, **kwargs):
    if not created:
        return
    event = {"type": "notification.created", "notification": instance.as_event()}
    group = user_group(instance.recipient_id)
    broadcast_on_commit(group, event)
