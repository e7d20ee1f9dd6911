"""config.handlers.OneHopASGIHandler: Django's middleware and view in one thread hop."""

import threading

import pytest
from asgiref import sync
from asgiref.testing import ApplicationCommunicator
from django.http import HttpResponse
from django.test import override_settings
from django.urls import path

from config.handlers import OneHopASGIHandler

threads = []


def probe_middleware(get_response):
    def middleware(request):
        threads.append(("middleware", threading.get_ident()))
        return get_response(request)

    return middleware


def view(request):
    threads.append(("view", threading.get_ident()))
    return HttpResponse("ok")


urlpatterns = [path("probe/", view)]


@pytest.mark.django_db
async def test_middleware_and_view_run_in_one_thread_hop(monkeypatch):
    """Django's own ASGIHandler hops between the loop and the thread for each half of each
    sync middleware (about fifteen hops a request here); this one hops once, for the whole
    request (plus Django's request_started/finished signals, which it sends on their own)."""
    threads.clear()
    hops = []
    for kind in (sync.SyncToAsync, sync.AsyncToSync):
        original = kind.__call__

        def counted(self, *args, _original=original, _kind=kind.__name__, **kwargs):
            hops.append((_kind, getattr(self, "func", getattr(self, "awaitable", None))))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(kind, "__call__", counted)
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "whitenoise.middleware.WhiteNoiseMiddleware",
        f"{__name__}.probe_middleware",
        "django.middleware.common.CommonMiddleware",
    ], ALLOWED_HOSTS=["testserver"]):
        handler = OneHopASGIHandler()
        scope = {"type": "http", "http_version": "1.1", "method": "GET", "path": "/probe/", "raw_path": b"/probe/",
                 "query_string": b"", "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 1),
                 "server": ("testserver", 80), "scheme": "http", "root_path": ""}
        communicator = ApplicationCommunicator(handler, scope)
        await communicator.send_input({"type": "http.request", "body": b""})
        start = await communicator.receive_output(5)
        body = await communicator.receive_output(5)
    assert start["status"] == 200 and body["body"] == b"ok"
    assert threading.get_ident() not in {ident for _, ident in threads}
    request_hops = [hop for hop in hops if "send" not in repr(hop[1])]  # the signals: request_started/finished
    assert len(request_hops) == 1, hops
