from channels.db import database_sync_to_async

from realtime import protocol
from realtime.consumers import JsonProtocolConsumer, group_frame

from . import services
from .models import conversation_group


class ChatConsumer(JsonProtocolConsumer):
    """/ws/chat/<conversation_id>/: members only. Messages are saved, then broadcast;
    typing indicators, read receipts and join/leave go straight through the group."""

    route = "chat"

    @property
    def conversation_id(self):
        return self.scope["url_route"]["kwargs"]["conversation_id"]

    @property
    def group(self):
        return conversation_group(self.conversation_id)

    async def authorize(self):
        access, _ = await database_sync_to_async(services.conversation_access)(self.conversation_id, self.user)
        if access == "not_found":
            return self.refuse(protocol.NOT_FOUND, f"conversation {self.conversation_id} does not exist")
        if access == "forbidden":
            return self.refuse(protocol.FORBIDDEN, f"not a member of conversation {self.conversation_id}")
        return None

    async def get_groups(self):
        return [self.group]

    async def on_connected(self):
        await self.presence("join")

    async def on_disconnect(self, code):
        await self.presence("leave")

    async def presence(self, action):
        await self.channel_layer.group_send(
            self.group, {"type": "chat.presence", "action": action, "user": self.user_payload()}
        )

    # --- client -> server ---------------------------------------------------------------
    async def handle_message(self, content):
        try:
            await database_sync_to_async(services.post_message)(self.conversation_id, self.user, content.get("body"))
        except services.ChatError as error:
            await self.send_error(protocol.INVALID_MESSAGE, str(error), ref="message")

    async def handle_typing(self, content):
        await self.channel_layer.group_send(
            self.group,
            {
                "type": "chat.typing",
                "user": self.user_payload(),
                "is_typing": bool(content.get("is_typing", True)),
                "sender": self.socket_id,
            },
        )

    async def handle_read(self, content):
        try:
            message = await database_sync_to_async(services.mark_read)(
                self.conversation_id, self.user, content.get("message_id")
            )
        except (services.ChatError, ValueError, TypeError):
            await self.send_error(
                protocol.INVALID_MESSAGE, "Send the id of a message in this conversation.", ref="read"
            )
            return
        await self.channel_layer.group_send(
            self.group, {"type": "chat.read", "user": self.user_payload(), "message_id": message.pk}
        )

    # --- group events -> client ---------------------------------------------------------
    @group_frame
    def chat_message(self, event):
        return {"type": "message", "message": event["message"]}

    async def chat_typing(self, event):
        if event.get("sender") != self.socket_id:
            await self.send_json({"type": "typing", "user": event["user"], "is_typing": event["is_typing"]})

    @group_frame
    def chat_read(self, event):
        return {"type": "read", "user": event["user"], "message_id": event["message_id"]}

    @group_frame
    def chat_presence(self, event):
        return {"type": event["action"], "user": event["user"]}
