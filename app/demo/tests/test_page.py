"""The demo page's HTML: its icon is ours, and no browser's /favicon.ico ends in a 404."""

import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from django.templatetags.static import static

pytestmark = pytest.mark.django_db


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        if tag == "link":
            self.links.append(dict(attrs))


def served(client, url):
    """What the static files' server (whitenoise, from the apps' directories here) answers."""
    response = client.get(url)
    return response.status_code, response["Content-Type"], b"".join(response.streaming_content)


@pytest.fixture
def static_client(client, settings):
    # whitenoise serves straight from the apps, as under `make run` (no collectstatic in unit tests).
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    return client


def test_the_page_names_its_icon_and_the_icon_is_served(static_client):
    page = Links()
    page.feed(static_client.get("/").content.decode())
    (icon,) = [link for link in page.links if link.get("rel") == "icon"]
    assert icon["href"] == static("demo/favicon.svg") and icon["type"] == "image/svg+xml"
    status, content_type, body = served(static_client, icon["href"])
    assert status == 200 and content_type.startswith("image/svg+xml")
    assert ET.fromstring(body).tag == "{http://www.w3.org/2000/svg}svg"


def test_favicon_ico_redirects_to_the_icon(static_client):
    response = static_client.get("/favicon.ico")
    # Not permanent: in production the icon's name carries its content hash.
    assert response.status_code == 302 and response["Location"] == static("demo/favicon.svg")
    assert served(static_client, response["Location"])[0] == 200
    assert static_client.head("/favicon.ico").status_code == 302
    assert static_client.post("/favicon.ico").status_code == 405
