"""The two chat routes. `/ws/chat/<id>/` serves one conversation per socket; `/ws/chat/` serves
many on one socket (join_conversation / leave_conversation), as mobile clients of older setups
expect. Both share ChatSocket: the same frames in, the same frames out, the same groups, so a
message posted anywhere reaches both kinds of socket."""

import asyncio
import logging

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError

from realtime.consumers import JsonProtocolConsumer, group_frame
from realtime.errors import describe
from realtime.groups import local_groups
from realtime.protocol import ACCESS_WITHDRAWN

from . import handshakes, protocol, services
from .models import Membership, conversation_group

logger = logging.getLogger("realtime")


def frame_id(value):
    """A positive id from a frame (clients send 12 or "12"), or None."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def handshake_frame(handshake):
    return {"type": "handshake", "conversation_id": handshake["conversation_id"], "handshake": handshake}


def receipt_frame(kind):
    """The group-event handler for read receipts, sent as `kind` ("read" or "read_receipt").
    Each kind has a name of its own, so group_frame encodes each once per process."""

    def build(self, event):
        return {"type": kind, "conversation_id": event.get("conversation_id"), "user": event["user"],
                "message_id": event["message_id"]}

    build.__name__ = build.__qualname__ = f"chat_{kind}"
    return group_frame(build)


class ChatSocket(JsonProtocolConsumer):
    """What both chat routes do once a socket is in a conversation: messages (saved, then
    broadcast), typing, read receipts, presence and handshakes. Subclasses say which
    conversations the socket has joined and whether one is implied when a frame names none."""

    def joined_ids(self):
        raise NotImplementedError

    @property
    def implied_conversation(self):
        return None

    @classmethod
    def lost_access(cls, consumers):
        """{socket: [conversation ids it joined and whose member its user no longer is]}, for
        realtime.revocation's checks: a member removed from a conversation (or the conversation
        deleted) stops receiving it on sockets opened before, within the same bound as a logout."""
        wanted = {(consumer.user.pk, conversation_id) for consumer in consumers
                  for conversation_id in consumer.joined_ids()}
        if not wanted:
            return {}
        kept = set(Membership.objects.filter(
            user_id__in={user_id for user_id, _ in wanted},
            conversation_id__in={conversation_id for _, conversation_id in wanted},
        ).values_list("user_id", "conversation_id"))
        lost = {}
        for consumer in consumers:
            gone = [conversation_id for conversation_id in consumer.joined_ids()
                    if (consumer.user.pk, conversation_id) not in kept]
            if gone:
                lost[consumer] = gone
        return lost

    async def conversation_of(self, content, ref):
        """The joined conversation a frame is about, or None once the client was told why not."""
        raw = content.get("conversation_id")
        if raw is None and self.implied_conversation is not None:
            return self.implied_conversation
        if raw is None:
            await self.send_error(protocol.INVALID_MESSAGE, "Name the conversation: conversation_id.", ref=ref)
            return None
        conversation_id = frame_id(raw)
        if conversation_id is None:
            await self.send_error(protocol.INVALID_MESSAGE, "conversation_id must be a positive integer.", ref=ref)
            return None
        if conversation_id not in self.joined_ids():
            await self.send_error(protocol.NOT_JOINED, f"This socket has not joined conversation {conversation_id}.",
                                  ref=ref, conversation_id=conversation_id)
            return None
        return conversation_id

    async def presence(self, conversation_id, action):
        await self.channel_layer.group_send(
            conversation_group(conversation_id),
            {"type": "chat.presence", "action": action, "conversation_id": conversation_id,
             "user": self.user_payload()},
        )

    # --- client -> server ---------------------------------------------------------------
    async def handle_message(self, content):
        conversation_id = await self.conversation_of(content, "message")
        if conversation_id is None:
            return
        try:
            text = services.message_text(content)
            await database_sync_to_async(services.post_message)(conversation_id, self.user, text)
        except services.ChatError as error:
            await self.send_error(protocol.INVALID_MESSAGE, str(error), ref="message")

    async def handle_typing(self, content):
        conversation_id = await self.conversation_of(content, "typing")
        if conversation_id is None:
            return
        await self.channel_layer.group_send(
            conversation_group(conversation_id),
            {
                "type": "chat.typing",
                "conversation_id": conversation_id,
                "user": self.user_payload(),
                "is_typing": bool(content.get("is_typing", True)),
                "sender": self.socket_id,
            },
        )

    async def handle_read(self, content, ref="read"):
        if content.get("conversation_id") is None:
            candidates = self.joined_ids()  # the message says which conversation
        else:
            conversation_id = await self.conversation_of(content, ref)
            if conversation_id is None:
                return
            candidates = [conversation_id]
        try:
            message = await database_sync_to_async(services.mark_read)(candidates, self.user, content.get("message_id"))
        except (services.ChatError, ValueError, TypeError):
            await self.send_error(protocol.INVALID_MESSAGE, "Send the id of a message in a conversation you joined.",
                                  ref=ref)
            return
        await self.channel_layer.group_send(
            conversation_group(message.conversation_id),
            {"type": "chat.read", "conversation_id": message.conversation_id, "user": self.user_payload(),
             "message_id": message.pk},
        )

    async def handle_read_receipt(self, content):
        """`read` as clients of other setups spell it."""
        await self.handle_read(content, ref="read_receipt")

    async def handle_handshake_start(self, content):
        await self.handshake(content, "handshake_start",
                             lambda conversation_id: handshakes.start(conversation_id, self.user,
                                                                      content.get("message") or ""))

    async def handle_handshake_approve(self, content):
        await self.handshake(content, "handshake_approve",
                             lambda conversation_id: handshakes.answer(conversation_id, self.user, "approve"))

    async def handle_handshake_decline(self, content):
        await self.handshake(content, "handshake_decline",
                             lambda conversation_id: handshakes.answer(conversation_id, self.user, "decline"))

    async def handle_handshake_cancel(self, content):
        await self.handshake(content, "handshake_cancel",
                             lambda conversation_id: handshakes.cancel(conversation_id, self.user))

    async def handle_handshake_status(self, content):
        """Where the conversation's handshake stands (`handshake` is null if it never had one)."""
        conversation_id = await self.conversation_of(content, "handshake_status")
        if conversation_id is None:
            return
        try:
            handshake = await database_sync_to_async(handshakes.current)(conversation_id, self.user)
        except handshakes.HandshakeError as error:
            await self.send_error(error.code, str(error), ref="handshake_status", conversation_id=conversation_id)
            return
        await self.send_json({"type": "handshake", "conversation_id": conversation_id,
                              "handshake": handshake and handshake.as_event()})

    async def handshake(self, content, ref, action):
        conversation_id = await self.conversation_of(content, ref)
        if conversation_id is None:
            return
        try:
            handshake, changed = await database_sync_to_async(action)(conversation_id)
        except handshakes.HandshakeError as error:
            extra = {"handshake": error.handshake.as_event()} if error.handshake else {}
            await self.send_error(error.code, str(error), ref=ref, conversation_id=conversation_id, **extra)
            return
        if not changed:  # nothing new for the other member: only the asker hears where it stands
            await self.send_json(handshake_frame(handshake.as_event()))

    # --- group events -> client ---------------------------------------------------------
    @group_frame
    def chat_message(self, event):
        message = event["message"]
        return {"type": "message", "conversation_id": message["conversation"], "message": message}

    async def chat_typing(self, event):
        if event.get("sender") != self.socket_id:
            await self.send_json({"type": "typing", "conversation_id": event.get("conversation_id"),
                                  "user": event["user"], "is_typing": event["is_typing"]})

    chat_read = receipt_frame("read")

    @group_frame
    def chat_presence(self, event):
        return {"type": event["action"], "conversation_id": event.get("conversation_id"), "user": event["user"]}

    @group_frame
    def chat_handshake(self, event):
        return handshake_frame(event["handshake"])


class ChatConsumer(ChatSocket):
    """/ws/chat/<conversation_id>/: members only (4004 unknown conversation, 4003 not a member)."""

    route = "chat"

    @property
    def conversation_id(self):
        return self.scope["url_route"]["kwargs"]["conversation_id"]

    @property
    def implied_conversation(self):
        return self.conversation_id

    def joined_ids(self):
        return [self.conversation_id]

    async def authorize(self):
        access, _ = await database_sync_to_async(services.conversation_access)(self.conversation_id, self.user)
        if access == "not_found":
            return self.refuse(protocol.NOT_FOUND_CLOSE, f"conversation {self.conversation_id} does not exist")
        if access == "forbidden":
            return self.refuse(protocol.FORBIDDEN_CLOSE, f"not a member of conversation {self.conversation_id}")
        return None

    async def get_groups(self):
        return [conversation_group(self.conversation_id)]

    async def access_lost(self, conversation_ids):
        await super().access_lost(f"no longer a member of conversation {self.conversation_id}")

    async def on_connected(self):
        await self.presence(self.conversation_id, "join")

    async def on_disconnect(self, code):
        await self.presence(self.conversation_id, "leave")


class ChatMultiplexConsumer(ChatSocket):
    """/ws/chat/: one socket, many conversations. Membership is checked on every join (an
    `error`, not a close, for a conversation the user is not in); at most
    CHAT_MAX_JOINED_CONVERSATIONS per socket; every frame about a conversation names it."""

    route = "chat-multiplexed"
    # The mobile clients this route is for say read_receipt (the other route says read).
    chat_read = receipt_frame("read_receipt")

    async def connect(self):
        self.conversations = []  # joined, in join order
        await super().connect()

    def joined_ids(self):
        return list(self.conversations)

    async def on_disconnect(self, code):
        for conversation_id in self.conversations:
            await self.presence(conversation_id, "leave")

    async def handle_join_conversation(self, content):
        conversation_id = await self.requested_id(content, "join_conversation")
        if conversation_id is None:
            return
        if conversation_id not in self.conversations:
            if len(self.conversations) >= settings.CHAT_MAX_JOINED_CONVERSATIONS:
                await self.send_error(
                    protocol.TOO_MANY_CONVERSATIONS,
                    f"At most {settings.CHAT_MAX_JOINED_CONVERSATIONS} conversations per socket: leave one first.",
                    ref="join_conversation", conversation_id=conversation_id)
                return
            try:  # bounded like the per-conversation route's check at connect
                async with asyncio.timeout(settings.WS_AUTH_TIMEOUT):
                    access, _ = await database_sync_to_async(services.conversation_access)(conversation_id, self.user)
            except (TimeoutError, DatabaseError) as error:
                logger.warning("join_conversation %s on %s: membership could not be checked (%s)", conversation_id,
                               self.scope.get("path"), type(error).__name__)
                await self.send_error(protocol.UNAVAILABLE, "Membership could not be checked now: join again later.",
                                      ref="join_conversation", conversation_id=conversation_id)
                return
            if access != "ok":
                code, why = {"not_found": (protocol.NOT_FOUND, "does not exist"),
                             "forbidden": (protocol.FORBIDDEN, "is not one of yours")}[access]
                await self.send_error(code, f"Conversation {conversation_id} {why}.", ref="join_conversation",
                                      conversation_id=conversation_id)
                return
            if self.closing or not await self.join_group(conversation_id):
                return
            self.conversations.append(conversation_id)
            await self.send_json({"type": "conversation_joined", "conversation_id": conversation_id})
            await self.presence(conversation_id, "join")
        else:
            await self.send_json({"type": "conversation_joined", "conversation_id": conversation_id})

    async def handle_leave_conversation(self, content):
        """Leaving a conversation this socket is not in is not an error: the socket is not in it."""
        conversation_id = await self.requested_id(content, "leave_conversation")
        if conversation_id is None:
            return
        if conversation_id in self.conversations:
            await self.presence(conversation_id, "leave")
            self.leave_group(conversation_id)
        await self.send_json({"type": "conversation_left", "conversation_id": conversation_id})

    async def access_lost(self, conversation_ids):
        """Leave the conversations the user was removed from; the socket stays for the others."""
        for conversation_id in conversation_ids:
            if conversation_id not in self.conversations or self.closing:
                continue
            self.leave_group(conversation_id)
            logger.info("conversation %s left on %s: user %s is no longer a member", conversation_id,
                        self.scope.get("path"), self.user.pk)
            await self.send_error(ACCESS_WITHDRAWN, f"You are no longer a member of conversation "
                                  f"{conversation_id}: its messages stop here.", conversation_id=conversation_id)

    def leave_group(self, conversation_id):
        self.conversations.remove(conversation_id)
        group = conversation_group(conversation_id)
        self.groups_joined.remove(group)
        local_groups(self.channel_layer).leave(group, self)

    async def requested_id(self, content, ref):
        conversation_id = frame_id(content.get("conversation_id"))
        if conversation_id is None:
            await self.send_error(protocol.INVALID_MESSAGE, "conversation_id must be a positive integer.", ref=ref)
        return conversation_id

    async def join_group(self, conversation_id):
        group = conversation_group(conversation_id)
        self.groups_joined.append(group)  # from here on, disconnect leaves it whatever happens
        try:
            await local_groups(self.channel_layer).join(group, self)
        except Exception as error:  # noqa: BLE001 - the socket stays; the client may join again later
            self.groups_joined.remove(group)
            logger.warning("join_conversation %s on %s: could not join its group (%s)", conversation_id,
                           self.scope.get("path"), describe(error))
            await self.send_error(protocol.UNAVAILABLE, "The server cannot deliver this conversation's messages now: "
                                  "join it again later.", ref="join_conversation", conversation_id=conversation_id)
            return False
        return True
