from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import Notification


class CreateNotification(serializers.Serializer):
    recipient = serializers.CharField(required=False, help_text="Username; defaults to yourself.")
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(required=False, allow_blank=True, default="")


class NotificationListView(APIView):
    """GET: your latest notifications. POST: create one (staff may address anyone)."""

    def get(self, request):
        return Response([n.as_event() for n in request.user.notifications.all()[:50]])

    def post(self, request):
        data = CreateNotification(data=request.data)
        data.is_valid(raise_exception=True)
        username = data.validated_data.get("recipient") or request.user.get_username()
        if username != request.user.get_username() and not request.user.is_staff:
            raise PermissionDenied("Only staff can notify other users.")
        recipient = get_object_or_404(get_user_model(), username=username)
        notification = Notification.objects.create(
            recipient=recipient, title=data.validated_data["title"], body=data.validated_data["body"]
        )
        return Response(notification.as_event(), status=status.HTTP_201_CREATED)


class MarkReadView(APIView):
    def post(self, request, pk):
        notification = get_object_or_404(Notification, pk=pk, recipient=request.user)
        notification.read_at = notification.read_at or timezone.now()
        notification.save(update_fields=["read_at"])
        return Response(notification.as_event())
