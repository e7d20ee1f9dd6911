from django.contrib import admin

from .models import Conversation, Handshake, Membership, Message


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user", "last_read")


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    inlines = [MembershipInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "conversation", "sender", "created_at")
    raw_id_fields = ("sender",)


@admin.register(Handshake)
class HandshakeAdmin(admin.ModelAdmin):
    list_display = ("id", "conversation", "status", "initiator", "created_at", "expires_at")
    list_filter = ("status",)
    raw_id_fields = ("user1", "user2", "initiator")
