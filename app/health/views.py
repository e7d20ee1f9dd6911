import asyncio
import threading
import time

from asgiref.sync import async_to_sync
from django.core.handlers.asgi import ASGIRequest
from django.http import JsonResponse
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from observability.access import monitoring_access
from throttling.throttles import SharedScopedRateThrottle

from . import checks

# Callers who may not read the report get its status only, computed at most this often per
# process: a flood from many addresses then costs one round of probes every few seconds.
PUBLIC_REUSE_SECONDS = 2.0
PUBLIC_DETAIL = (
    "Status only. The full report (each check, its figures and advice) is for operators: ask from an "
    "address in MONITORING_ALLOWED_IPS, send 'Authorization: Bearer <MONITORING_TOKEN>', or sign in as staff."
)


def healthz(request):
    """Liveness: the process answers. Touches nothing else, so it stays cheap."""
    return JsonResponse({"status": "ok"})


class PublicHealthThrottle(SharedScopedRateThrottle):
    """HEALTH_THROTTLE_RATE per client, for callers without operator access; operators' probes
    (a deploy waiting for each process, a scraper) are never throttled."""

    def allow_request(self, request, view):
        if monitoring_access(request):
            return True
        return super().allow_request(request, view)


async def _async_probes():
    return list(await asyncio.gather(checks.check_channel_layer(), checks.check_redis()))


def run_checks(is_asgi):
    """Every probe that waits on something is bounded by HEALTH_CHECK_TIMEOUT, and they run at
    once: the report answers within about that long whatever stalls (it took one bound per probe
    in turn, and a stalled database held it for as long as the stall)."""
    database = checks.BoundedProbes([
        ("token_cache", checks.check_token_cache, "The token cache's table"),
        ("shared_cache", checks.check_shared_cache, "The shared cache's table"),
        ("database", checks.check_database, "The database"),
        # A cache read (a table when the shared cache is DatabaseCache): bounded like the others.
        ("delivery", checks.check_delivery, "The shared cache"),
    ])
    asgi = checks.check_asgi()
    channel_layer, redis = async_to_sync(_async_probes)()
    return [asgi, channel_layer, redis, *database.results(), checks.check_routes(), checks.check_server(is_asgi)]


class CheckSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[checks.OK, checks.DEGRADED, checks.FAIL])
    detail = serializers.DictField(help_text="Figures of the probe (backend, round trip in ms, version, ...).")
    recommendation = serializers.CharField(help_text="What to do, in words; empty when ok.")


class HealthReportSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[checks.OK, checks.DEGRADED, checks.FAIL],
        help_text="ok; degraded (works, with advice); fail (HTTP 503).",
    )
    checks = serializers.DictField(
        child=CheckSerializer(), required=False,
        help_text="Operators only: asgi, channel_layer, redis, token_cache, shared_cache, database, "
        "websocket_routes, server.",
    )
    recommendations = serializers.ListField(child=serializers.CharField(), required=False,
                                            help_text="Operators only.")
    detail = serializers.CharField(required=False, help_text="For other callers: why they see the status only.")


class WebSocketHealthView(APIView):
    """Readiness of everything WebSockets need; 503 when something fails."""

    authentication_classes = []  # monitoring_access reads the credentials itself, a bad one as none
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]  # monitors and curl, never the browsable API's page
    throttle_classes = [PublicHealthThrottle]
    throttle_scope = "health"
    _public = None  # (time, body, status) of the last answer computed for the public
    _public_lock = threading.Lock()

    @extend_schema(
        operation_id="websocket_health",
        summary="Deep health report (readiness)",
        description=(
            "The channel layer with a real message round trip, Redis PING, the token cache and the shared "
            "cache (reads only), the database, the WebSocket routes and the server interface. Operators "
            "(an address in MONITORING_ALLOWED_IPS, `Authorization: Bearer <MONITORING_TOKEN>`, or staff) "
            "get every check; anyone else gets the status only, throttled (HEALTH_THROTTLE_RATE)."
        ),
        auth=[],
        responses={
            200: HealthReportSerializer,
            503: OpenApiResponse(HealthReportSerializer, description="Something WebSockets need fails."),
        },
        examples=[OpenApiExample("public", value={"status": "ok", "detail": PUBLIC_DETAIL}, response_only=True)],
    )
    def get(self, request):
        if monitoring_access(request):
            body = checks.as_dict(run_checks(isinstance(request._request, ASGIRequest)))
            return Response(body, status=503 if body["status"] == checks.FAIL else 200)
        with self._public_lock:
            cached = WebSocketHealthView._public
        if cached is None or time.monotonic() - cached[0] > PUBLIC_REUSE_SECONDS:
            # No figures, no recommendations, no exception text: those are for operators.
            status = checks.overall(run_checks(isinstance(request._request, ASGIRequest)))
            code = 503 if status == checks.FAIL else 200
            cached = (time.monotonic(), {"status": status, "detail": PUBLIC_DETAIL}, code)
            with self._public_lock:
                WebSocketHealthView._public = cached
        return Response(cached[1], status=cached[2])


websocket_health = WebSocketHealthView.as_view()
