"""The OpenAPI schema: generated without a warning, served to whom it should be."""

from html.parser import HTMLParser
from urllib.parse import quote, urlsplit

import pytest
from django.core.management import call_command
from django.templatetags.static import static
from django.test import override_settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_schema_validates_with_no_warning(tmp_path):
    """`manage.py spectacular --validate --fail-on-warn`: a view drf-spectacular cannot read (no
    serializer, an unknown authentication class, two operations with one id) fails here."""
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ("/api/auth/login/", "/api/ws/ticket/", "/api/chat/conversations/", "/api/notifications/",
                 "/api/feed/announce/", "/api/websocket/health/"):
        assert f"  {path}:" in text, path
    assert "tokenAuth" in text


def test_schema_and_swagger_page_are_open_while_developing(client):
    assert client.get("/api/schema/").status_code == 200
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200 and response.json()["info"]["title"] == "channels-stack HTTP API"
    assert client.get("/api/schema/docs/").status_code == 200


@override_settings(API_SCHEMA_PUBLIC=False)
def test_schema_is_staff_only_in_production(client, alice, carol, token_for):
    assert client.get("/api/schema/").status_code == 401
    assert client.get("/api/schema/", HTTP_AUTHORIZATION=f"Token {token_for(alice)}").status_code == 403
    assert client.get("/api/schema/", HTTP_AUTHORIZATION=f"Token {token_for(carol)}").status_code == 200
    assert client.get("/api/schema/docs/", HTTP_AUTHORIZATION=f"Token {token_for(alice)}").status_code == 403
    assert client.get("/api/schema/docs/", HTTP_AUTHORIZATION=f"Token {token_for(carol)}").status_code == 200


def login_redirect(next_path):
    return f"{reverse('admin:login')}?next={quote(next_path)}"


@override_settings(API_SCHEMA_PUBLIC=False)
def test_a_browser_that_may_not_read_the_docs_is_sent_to_log_in(client, alice, carol):
    """Not a bare 401: the admin's login, and back to the page after it (the query kept)."""
    response = client.get("/api/schema/docs/?lang=en")
    assert response.status_code == 302 and response["Location"] == login_redirect("/api/schema/docs/?lang=en")
    # Signed in but not staff: the admin's login says so and offers another account.
    client.force_login(alice)
    response = client.get("/api/schema/docs/")
    assert response.status_code == 302 and response["Location"] == login_redirect("/api/schema/docs/")
    assert b"not authorized to access this page" in client.get(response["Location"]).content
    client.logout()
    # The whole round trip: the login form's next brings a staff user to the page.
    logged_in = client.post(reverse("admin:login"), {"username": "carol", "password": "pw-for-tests-1",
                                                     "next": "/api/schema/docs/"})
    assert logged_in.status_code == 302 and logged_in["Location"] == "/api/schema/docs/"
    assert client.get("/api/schema/docs/").status_code == 200
    # The schema itself is for API clients and HTML's page loads it with the session.
    assert client.get("/api/schema/").status_code == 200


class Resources(HTMLParser):
    """Every URL a page loads by itself: scripts, styles, icons, images."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img") and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def test_the_swagger_page_loads_only_our_own_static_files(client, settings):
    """Swagger UI from drf-spectacular-sidecar, served by us: pinned by the lock, no CDN, no third
    party seeing who reads the docs, and a page that works offline."""
    settings.WHITENOISE_USE_FINDERS = True  # served from the apps, as under `make run`
    settings.WHITENOISE_AUTOREFRESH = True
    html = client.get("/api/schema/docs/").content.decode()
    page = Resources()
    page.feed(html)
    sidecar = static("drf_spectacular_sidecar/")
    assert {url.rsplit("/", 1)[-1] for url in page.urls} >= {
        "swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png"}
    for url in page.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith(sidecar), url
        response = client.get(url)
        assert response.status_code == 200 and b"".join(response.streaming_content), url
    assert "cdn.jsdelivr.net" not in html and "https://" not in html
    # Nor Swagger UI's own call out: its validator badge (validator.swagger.io) is off.
    assert '"validatorUrl": null' in html


@pytest.mark.process
def test_production_settings_keep_the_schema_private():
    from config.tests.test_settings import manage

    result = manage("shell", "-c", "from django.conf import settings; print(settings.API_SCHEMA_PUBLIC)")
    assert result.stdout.splitlines()[-1] == "False", result.stderr
