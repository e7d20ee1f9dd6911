from rest_framework import serializers, status
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import profile_for
from realtime.broadcast import BroadcastUnavailable, broadcast

from . import scopes


class RealtimeUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "realtime_unavailable"


class Announcement(serializers.Serializer):
    scope = serializers.ChoiceField(choices=scopes.SCOPES)
    value = serializers.SlugField(required=False, help_text="Defaults to your own team/branch.")
    message = serializers.CharField(max_length=2000)


class AnnounceView(APIView):
    """POST {"scope": "team", "message": ...}: to your own team/branch; staff to any."""

    def post(self, request):
        data = Announcement(data=request.data)
        data.is_valid(raise_exception=True)
        scope = data.validated_data["scope"]
        own = getattr(profile_for(request.user), scope)
        value = data.validated_data.get("value") or own
        if not value:
            raise PermissionDenied(f"You have no {scope}; ask an admin to set it on your profile.")
        if value != own and not scopes.can_override(request.user):
            raise PermissionDenied(f"You can only announce to your own {scope}.")
        group = scopes.group_name(scope, value)
        try:
            broadcast(
                group,
                {
                    "type": "feed.event",
                    "scope": f"{scope}:{value}",
                    "message": data.validated_data["message"],
                    "by": request.user.get_username(),
                },
            )
        except BroadcastUnavailable as error:
            raise RealtimeUnavailable(f"Not announced: {error} Try again shortly.") from None
        return Response({"group": group}, status=status.HTTP_202_ACCEPTED)
