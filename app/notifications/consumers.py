from realtime.consumers import JsonProtocolConsumer, group_frame

from .models import user_group


class NotificationConsumer(JsonProtocolConsumer):
    """/ws/notifications/: every connection of a user joins that user's group."""

    route = "notifications"

    async def get_groups(self):
        return [user_group(self.user.pk)]

    @group_frame
    def notification_created(self, event):
        return {"type": "notification", "notification": event["notification"]}
