from django.conf import settings
from django.db import models


def conversation_group(conversation_id):
    """The channel-layer group of a conversation's open sockets (both chat routes)."""
    return f"chat.{conversation_id}"


def user_payload(user):
    """How a sender is named in every chat frame: `full_name` for clients of older setups."""
    return {"id": user.pk, "username": user.get_username(), "full_name": user.get_full_name()}


class Conversation(models.Model):
    title = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="conversations")

    def __str__(self):
        return self.title

    @property
    def group_name(self):
        return conversation_group(self.pk)


class Membership(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    joined_at = models.DateTimeField(auto_now_add=True)
    last_read = models.ForeignKey("Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["conversation", "user"], name="unique_membership")]

    def __str__(self):
        return f"{self.user} in {self.conversation}"


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.sender}: {self.body[:40]}"

    def as_event(self, is_read=False):
        """The message as every chat frame and the history API carry it. `body` and `content`
        (the same text) and `conversation`/`conversation_id` are compatibility aliases; `is_read`:
        every other member has read it (always false when it is first pushed)."""
        return {
            "id": self.pk,
            "conversation": self.conversation_id,
            "conversation_id": self.conversation_id,
            "sender": user_payload(self.sender),
            "body": self.body,
            "content": self.body,
            "created_at": self.created_at.isoformat(),
            "is_read": is_read,
        }


class Handshake(models.Model):
    """Two members of a two-member conversation agreeing to something: one starts it, the other
    approves or declines it (chat.handshakes has the rules)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        DECLINED = "declined"
        CANCELLED = "cancelled"
        EXPIRED = "expired"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="handshakes")
    # The conversation's two members, lower user id first, whoever started.
    user1 = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    user2 = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    initiator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    message = models.CharField(max_length=500, blank=True, help_text="The initiator's note.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField(help_text="A pending handshake expires then.")

    class Meta:
        ordering = ["-id"]
        constraints = [
            # Two "start"s at once create one handshake: the second insert fails and reads the first.
            models.UniqueConstraint(
                fields=["conversation"], condition=models.Q(status="pending"), name="one_pending_handshake"
            )
        ]

    def __str__(self):
        return f"handshake {self.pk} in {self.conversation_id}: {self.status}"

    def as_event(self):
        return {
            "id": self.pk,
            "conversation_id": self.conversation_id,
            "status": self.status,
            "user1_id": self.user1_id,
            "user2_id": self.user2_id,
            "initiator_id": self.initiator_id,
            "message": self.message,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }
