from django.http import HttpResponse, JsonResponse

from . import metrics
from .access import REFUSAL, monitoring_access


def metrics_view(request):
    """Prometheus's scrape (text exposition format): operators only (observability.access)."""
    if not monitoring_access(request):
        return JsonResponse({"detail": REFUSAL}, status=403)
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)
