"""On Render, RENDER_EXTERNAL_HOSTNAME (set by the platform at run time) is a served host and a
trusted HTTPS origin, so render.yaml needs no ALLOWED_HOSTS of its own."""

import json

import pytest

from config.tests.test_settings import manage

pytestmark = pytest.mark.process  # runs commands: not in `make unit`

PRINT_HOSTS = (
    "import json; from django.conf import settings; "
    "print(json.dumps([settings.ALLOWED_HOSTS, settings.CSRF_TRUSTED_ORIGINS]))"
)


def hosts(**env):
    result = manage("shell", "-c", PRINT_HOSTS, env_overrides=env, drop=("ALLOWED_HOSTS",))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_render_hostname_alone_satisfies_production():
    allowed, trusted = hosts(RENDER_EXTERNAL_HOSTNAME="chat.onrender.com")
    assert allowed == ["chat.onrender.com"]
    assert trusted == ["https://chat.onrender.com"]


def test_render_hostname_is_added_to_the_configured_ones():
    allowed, trusted = hosts(
        RENDER_EXTERNAL_HOSTNAME="chat.onrender.com",
        ALLOWED_HOSTS="chat.example.org",
        CSRF_TRUSTED_ORIGINS="https://chat.example.org",
    )
    assert allowed == ["chat.example.org", "chat.onrender.com"]
    assert trusted == ["https://chat.example.org", "https://chat.onrender.com"]


def test_without_render_nothing_is_added():
    allowed, trusted = hosts(ALLOWED_HOSTS="example.com", RENDER_EXTERNAL_HOSTNAME="")
    assert allowed == ["example.com"] and trusted == []
