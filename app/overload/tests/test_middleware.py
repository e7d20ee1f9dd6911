"""A view that meets an unavailable database answers 503 with Retry-After and one WARNING line:
no 500, no traceback, no query string (where a ?token= may be) in the log."""

import logging

import psycopg
import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client, override_settings
from django.urls import path
from psycopg_pool import PoolTimeout
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from overload.middleware import ServiceUnavailable


def pool_timeout_from_django():
    """What a view meets when the pool has no connection free: Django wraps the pool's error."""
    try:
        raise PoolTimeout("couldn't get a connection after 3.00 sec")
    except PoolTimeout as error:
        raise OperationalError(str(error)) from error


def raising(error):
    def raise_it():
        raise error

    return raise_it


RAISES = {
    "pool-timeout": pool_timeout_from_django,
    "bare-pool-timeout": raising(PoolTimeout("couldn't get a connection after 3.00 sec")),
    "operational": raising(OperationalError("server closed the connection unexpectedly")),
    "interface": raising(InterfaceError("connection already closed")),
    "psycopg": raising(psycopg.OperationalError("consuming input failed")),
    "busy": raising(ServiceUnavailable("Too many password checks at once.")),
    "bug": raising(ZeroDivisionError("division by zero")),
    "unmigrated": lambda: __import__("django.contrib.auth", fromlist=["models"]).models.Group.objects.raw(
        "SELECT * FROM no_such_table_here")[0],
}


def plain_view(request, kind):
    RAISES[kind]()


class DrfView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request, kind):
        RAISES[kind]()


urlpatterns = [path("plain/<str:kind>/", plain_view), path("drf/<str:kind>/", DrfView.as_view())]


@pytest.fixture(autouse=True)
def _urls():
    with override_settings(ROOT_URLCONF=__name__):
        yield


DATABASE_KINDS = ["pool-timeout", "bare-pool-timeout", "operational", "interface", "psycopg"]


@pytest.mark.parametrize("kind", DATABASE_KINDS)
@pytest.mark.parametrize("style", ["plain", "drf"])
def test_an_unavailable_database_is_a_503_with_retry_after_and_one_warning(caplog, style, kind):
    with caplog.at_level(logging.INFO):
        response = Client().get(f"/{style}/{kind}/?token=secret-token-value")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.json()
    assert body["code"] == "database_unavailable" and "try again in 5 s" in body["detail"]
    (line,) = [r for r in caplog.records if r.levelno >= logging.WARNING]  # Django's own ERROR line too
    assert line.levelno == logging.WARNING and line.name == "overload" and line.exc_info is None
    message = line.getMessage()
    assert message.startswith(f"503 GET /{style}/{kind}/: database unavailable (")
    assert "secret-token-value" not in caplog.text and "Traceback" not in caplog.text


def test_the_log_line_names_the_pools_error_not_djangos_wrapper(caplog):
    with caplog.at_level(logging.WARNING):
        Client().get("/drf/pool-timeout/")
    assert "database unavailable (PoolTimeout: couldn't get a connection after 3.00 sec)" in caplog.text


@pytest.mark.parametrize("style", ["plain", "drf"])
def test_a_busy_server_is_a_503_with_its_code(caplog, style):
    with caplog.at_level(logging.WARNING):
        response = Client().get(f"/{style}/busy/")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response.json() == {"detail": "Too many password checks at once.", "code": "server_busy"}
    assert [r.levelname for r in caplog.records] == ["WARNING"]


def test_retry_after_is_a_setting(settings):
    settings.HTTP_RETRY_AFTER_SECONDS = 17
    response = Client().get("/drf/operational/")
    assert response["Retry-After"] == "17" and "try again in 17 s" in response.json()["detail"]


def test_any_other_error_is_still_a_500():
    """Only conditions worth retrying become 503: a bug stays a 500 with its traceback."""
    assert Client(raise_request_exception=False).get("/drf/bug/").status_code == 500


@pytest.mark.django_db
def test_a_table_sqlite_does_not_have_is_a_500_not_an_overload():
    """SQLite says OperationalError for a `migrate` not run; that is a deployment's bug."""
    assert Client(raise_request_exception=False).get("/drf/unmigrated/").status_code == 500


def test_the_middleware_is_installed_before_axes():
    from django.conf import settings

    middleware = settings.MIDDLEWARE
    assert middleware.index("overload.middleware.ServiceUnavailableMiddleware") == len(middleware) - 2
    assert middleware[-1] == "axes.middleware.AxesMiddleware"
