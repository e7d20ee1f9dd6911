"""Who may read what operators read: the deep health report and the metrics.

Three ways in, checked cheapest first:
- the client's address is in MONITORING_ALLOWED_IPS (default loopback: a probe on the server, the
  local stack through its nginx), or the request came over the app's own unix socket with no
  forwarded address (only the app user and nginx's group can open it);
- `Authorization: Bearer <MONITORING_TOKEN>` (a scraper, an uptime checker);
- a staff user: the admin's session, or a staff user's API token.

The address is the one the server derived: nginx overwrites X-Forwarded-For with the client's
own address and daphne/uvicorn read it, so a client cannot claim to be loopback through nginx.
"""

import functools
import hmac
import ipaddress

from django.conf import settings
from rest_framework.exceptions import AuthenticationFailed

ADDRESS, TOKEN, STAFF = "address", "monitoring token", "staff"


@functools.cache
def _networks(cidrs):
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def address_allowed(address):
    """True for an address in MONITORING_ALLOWED_IPS; None (a unix-socket peer) counts as local."""
    if not address:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(settings.MONITORING_ALLOWED_IPS)))


def _bearer(request):
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _is_staff(request):
    from django.contrib.auth import get_user

    # The session's user, read from the session itself: a DRF view without authentication
    # classes has already replaced request.user with AnonymousUser.
    user = get_user(request) if hasattr(request, "session") else None
    if user is not None and user.is_authenticated:
        return user.is_staff
    from tokens.authentication import StoreTokenAuthentication

    try:
        found = StoreTokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        return False  # a bad credential is no credential here: the caller gets the public answer
    return bool(found and found[0].is_active and found[0].is_staff)


def monitoring_access(request):
    """Why `request` (a Django HttpRequest) may read operators' data, or None."""
    request = getattr(request, "_request", request)  # a DRF Request wraps the HttpRequest
    if not hasattr(request, "_monitoring_access"):
        request._monitoring_access = _decide(request)
    return request._monitoring_access


def _decide(request):
    if address_allowed(request.META.get("REMOTE_ADDR")):
        return ADDRESS
    expected = settings.MONITORING_TOKEN
    presented = _bearer(request)
    if expected and presented and hmac.compare_digest(presented.encode(), expected.encode()):
        return TOKEN
    if _is_staff(request):
        return STAFF
    return None


REFUSAL = (
    "Restricted to operators: ask from an address in MONITORING_ALLOWED_IPS, send "
    "'Authorization: Bearer <MONITORING_TOKEN>', or sign in as staff."
)
