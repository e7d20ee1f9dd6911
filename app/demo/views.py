from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.generic import TemplateView

from .seeding import DEMO_USERS


class DemoPage(TemplateView):
    template_name = "demo/index.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "demo_users": [u[0] for u in DEMO_USERS]}


demo_page = ensure_csrf_cookie(DemoPage.as_view())
