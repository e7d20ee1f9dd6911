"""The OpenAPI schema: generated without a warning, served to whom it should be."""

import pytest
from django.core.management import call_command
from django.test import override_settings

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
    assert client.get("/api/schema/docs/").status_code in (401, 403)


def test_production_settings_keep_the_schema_private():
    from config.tests.test_settings import manage

    result = manage("shell", "-c", "from django.conf import settings; print(settings.API_SCHEMA_PUBLIC)")
    assert result.stdout.splitlines()[-1] == "False", result.stderr
