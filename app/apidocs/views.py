from django.contrib.auth.views import redirect_to_login
from django.urls import reverse
from drf_spectacular.views import SpectacularSwaggerView
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, PermissionDenied


class SwaggerPage(SpectacularSwaggerView):
    """The Swagger UI page. It is opened by a browser, so one that may not read it (the schema is
    staff only unless API_SCHEMA_PUBLIC) goes to the admin's login and comes back here after it,
    where the page alone answered a bare 401. The admin's login also says when the signed-in
    user is not staff. A client that sent an Authorization header keeps its 401/403: it is not a
    person at a login form. The schema itself (/api/schema/) answers with 401/403 as before."""

    def handle_exception(self, exc):
        refused = isinstance(exc, NotAuthenticated | AuthenticationFailed | PermissionDenied)
        if refused and "HTTP_AUTHORIZATION" not in self.request.META:
            return redirect_to_login(self.request.get_full_path(), reverse("admin:login"))
        return super().handle_exception(exc)
