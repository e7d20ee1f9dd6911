"""django-axes for the admin's login limit (settings: AXES_*)."""

from axes.backends import AxesStandaloneBackend
from axes.handlers.cache import AxesCacheHandler


class AdminLoginLimitBackend(AxesStandaloneBackend):
    """axes' backend, which refuses a locked-out username + address before the password is checked.

    Only the admin's login is limited (AXES_ONLY_ADMIN_SITE); the API's login has its throttle.
    authenticate() without a request (the test client's login(), a script) is no admin login:
    axes itself would raise there.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_address(request):
    """The address the server derived (daphne and uvicorn read nginx's X-Forwarded-For), as the
    throttles see it; never a header of the client's own."""
    return request.META.get("REMOTE_ADDR")


class AdminOnlyCacheHandler(AxesCacheHandler):
    """axes' cache handler, counting and logging the admin's logins only: the API's failed logins
    are its throttle's business, and were warning lines of their own in every log."""

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        if request is not None and self.is_admin_request(request):
            return super().user_login_failed(sender, credentials, request, **kwargs)
        return None

    def user_logged_in(self, sender, request, user, **kwargs):
        if request is not None and self.is_admin_request(request):
            return super().user_logged_in(sender, request, user, **kwargs)
        return None

    def user_logged_out(self, sender, request, user, **kwargs):
        if request is not None and self.is_admin_request(request):
            return super().user_logged_out(sender, request, user, **kwargs)
        return None
