from django.conf import settings
from django.db import models


def conversation_group(conversation_id):
    """The channel-layer group of a conversation's open sockets."""
    return f"chat.{conversation_id}"


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

    def as_event(self):
        return {
            "id": self.pk,
            "conversation": self.conversation_id,
            "sender": {"id": self.sender_id, "username": self.sender.get_username()},
            "body": self.body,
            "created_at": self.created_at.isoformat(),
        }
