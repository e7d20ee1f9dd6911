"""Django's ASGI handler with the middleware and the view run in one thread hop per request.

Django's ASGIHandler runs a sync middleware (every MiddlewareMixin one, and WhiteNoise) through
sync_to_async for each of its request and response halves: with this project's middleware that
was about fifteen hops between the event loop and the sync thread per HTTP request, most of its
latency (bench/RESULTS.md: 4 ms for /healthz, 9 ms for an authenticated API call). The views are
sync (DRF) and the HTTP server is ASGI only so that broadcasts reuse the worker's event loop and
its Redis connections; so the whole request runs as it would under WSGI, in one hop. Async views
still work (Django adapts them), with a hop of their own.
"""

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler


class OneHopASGIHandler(ASGIHandler):
    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
