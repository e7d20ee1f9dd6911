"""HTTP request counts and durations (METRICS_ENABLED: first in MIDDLEWARE, so every answer is
counted, static files and redirects included)."""

import time

from django.conf import settings

from . import metrics


class HttpMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.static_prefix = "/" + settings.STATIC_URL.lstrip("/")

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if match is not None:
            route = "/" + match.route  # the pattern, not the path: ids stay out of the labels
        elif request.path.startswith(self.static_prefix):
            route = "static"
        else:
            route = "unmatched"
        method = request.method if request.method in KNOWN_METHODS else "other"
        metrics.http_requests.labels(method, route, str(response.status_code)).inc()
        metrics.http_seconds.labels(method, route).observe(time.perf_counter() - started)
        return response


KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
