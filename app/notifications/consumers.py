from realtime.consumers import JsonProtocolConsumer

from .models import user_group


class NotificationConsumer(JsonProtocolConsumer):
    """/ws/notifications/: every connection of a user joins that user's group."""

    route = "notifications"

    async def get_groups(self):
        return [user_group(self.user.pk)]

    async def notification_created(self, event):
        await self.send_json({"type": "notification", "notification": event["notification"]})
