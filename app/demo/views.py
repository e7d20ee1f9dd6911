from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe
from django.views.generic import TemplateView

from .seeding import DEMO_USERS


class DemoPage(TemplateView):
    template_name = "demo/index.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "demo_users": [u[0] for u in DEMO_USERS]}


demo_page = ensure_csrf_cookie(DemoPage.as_view())


@require_safe
def favicon(request):
    """Browsers ask for /favicon.ico on every page that names no icon (the admin's, DRF's): the
    demo's icon instead of a 404 in every log. Not permanent: the static file's name carries
    its hash in production and changes with it."""
    return HttpResponseRedirect(static("demo/favicon.svg"))
