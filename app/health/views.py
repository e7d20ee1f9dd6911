from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import JsonResponse

from . import checks


def healthz(request):
    """Liveness: the process answers. Touches nothing else, so it stays cheap."""
    return JsonResponse({"status": "ok"})


async def websocket_health(request):
    """Readiness of everything WebSockets need; 503 when something fails."""
    results = [
        await sync_to_async(checks.check_asgi)(),
        await checks.check_channel_layer(),
        await checks.check_redis(),
        await sync_to_async(checks.check_token_cache)(),
        await sync_to_async(checks.check_database)(),
        checks.check_routes(),
        checks.check_server(isinstance(request, ASGIRequest)),
    ]
    body = checks.as_dict(results)
    return JsonResponse(body, status=503 if body["status"] == checks.FAIL else 200)
