"""503 with Retry-After, never a 500 with a traceback, when a view cannot be served now.

50 logins at once exhausted the database pool: those requests, and bystanders in the same
seconds, got 500 after the pool's wait (psycopg_pool.PoolTimeout), and a PostgreSQL stall gave
500s too. Both are conditions a client should retry, and it is told when (Retry-After). Only what
a view raises passes here (Django's process_exception), DRF's views included: DRF re-raises what
is not one of its own exceptions."""

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse

logger = logging.getLogger("overload")

try:
    import psycopg
except ImportError:  # an install without PostgreSQL's driver
    _DRIVER_ERRORS = ()
else:
    # Django wraps what its own calls raise (PoolTimeout arrives as OperationalError from it); these
    # are what code using the driver or the pool directly raises. PoolTimeout is an OperationalError.
    _DRIVER_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, *_DRIVER_ERRORS)


class ServiceUnavailable(Exception):
    """Raise under a view to refuse work this process cannot do now: 503, Retry-After, `code`."""

    def __init__(self, detail, code="server_busy"):
        super().__init__(detail)
        self.detail = detail
        self.code = code


def unavailable_response(detail, code):
    response = JsonResponse({"detail": detail, "code": code}, status=503)
    response["Retry-After"] = str(settings.HTTP_RETRY_AFTER_SECONDS)
    # Our one WARNING line says why; Django would add an ERROR "Service Unavailable" line per 503.
    response._has_been_logged = True
    return response


def _reason(error):
    """The driver's words, first line only (libpq's messages name host and user, never a password)."""
    cause = error.__cause__ if isinstance(error, (OperationalError, InterfaceError)) and error.__cause__ else error
    text = (str(cause).strip().splitlines() or [""])[0][:200]
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


def _schema_error(error):
    """SQLite reports a missing table or column (a `migrate` not run: a deployment's bug, not an
    overload) as OperationalError; PostgreSQL as ProgrammingError. It stays a 500, reported as one."""
    cause = error.__cause__ or error
    return type(cause).__module__ == "sqlite3" and str(cause).startswith(("no such table", "no such column"))


class ServiceUnavailableMiddleware:
    """Last in MIDDLEWARE, so its process_exception is asked first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        # request.path: never the query string, where a ?token= may be.
        if isinstance(exception, ServiceUnavailable):
            logger.warning("503 %s %s: %s", request.method, request.path, exception.detail)
            return unavailable_response(exception.detail, exception.code)
        if isinstance(exception, DATABASE_UNAVAILABLE) and not _schema_error(exception):
            logger.warning("503 %s %s: database unavailable (%s)", request.method, request.path, _reason(exception))
            return unavailable_response(
                f"The database cannot serve this request now: try again in {settings.HTTP_RETRY_AFTER_SECONDS} s.",
                "database_unavailable",
            )
        return None
