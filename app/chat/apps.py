from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat (members-only conversations)"

    def ready(self):
        from django.db.models.signals import post_delete

        from realtime.revocation import announce_access_changed

        from .models import Membership

        def member_removed(sender, instance, **kwargs):
            # Sockets opened before the removal stop receiving the conversation (realtime.revocation).
            announce_access_changed(instance.user_id)

        post_delete.connect(member_removed, sender=Membership, dispatch_uid="chat.member_removed", weak=False)
