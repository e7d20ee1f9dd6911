"""Production settings refuse to start without what they need, and pass check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

APP_DIR = Path(__file__).resolve().parents[2]
GOOD_ENV = {
    "SECRET_KEY": "x" * 20 + "-a-long-random-secret-key-for-the-deploy-check-0123456789",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "ALLOWED_HOSTS": "example.com",
    "DATABASE_URL": "sqlite:////tmp/channels-stack-settings-test.sqlite3",
}


def manage(*args, env_overrides=None, drop=()):
    env = {k: v for k, v in os.environ.items() if k not in GOOD_ENV and k != "DJANGO_SETTINGS_MODULE"}
    env.update({k: v for k, v in GOOD_ENV.items() if k not in drop})
    env.update(env_overrides or {})
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.production"
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=APP_DIR, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.process
def test_check_deploy_is_clean():
    result = manage("check", "--deploy", "--fail-level", "DEBUG")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("missing", "advice"),
    [
        ("SECRET_KEY", "secrets.token_urlsafe"),
        ("REDIS_URL", "REDIS_URL=redis://"),
        ("ALLOWED_HOSTS", "ALLOWED_HOSTS=example.com"),
    ],
)
@pytest.mark.process
def test_missing_required_setting_stops_startup_with_advice(missing, advice):
    result = manage("check", drop=(missing,))
    assert result.returncode == 2
    assert "are refused, 1 problem to fix" in result.stderr and "Traceback" not in result.stderr
    assert f"{missing} is" in result.stderr and advice in result.stderr


@pytest.mark.process
def test_production_uses_redis_layer_with_a_sized_waiting_pool():
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; c = settings.CHANNEL_LAYERS['default']; h = c['CONFIG']['hosts'][0]; "
        "print(c['BACKEND'], h['max_connections'], c['CONFIG']['pool_timeout'], settings.DEBUG)",
        env_overrides={"REDIS_MAX_CONNECTIONS": "777", "REDIS_POOL_TIMEOUT": "3"},
    )
    last_line = result.stdout.splitlines()[-1]
    assert last_line.split() == ["realtime.layers.RedisChannelLayer", "777", "3.0", "False"], result.stderr


@pytest.mark.process
def test_the_pubsub_layer_is_a_choice():
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.CHANNEL_LAYERS['default']['BACKEND'])",
        env_overrides={"CHANNEL_LAYER": "redis-pubsub"},
    )
    assert result.stdout.splitlines()[-1] == "channels_redis.pubsub.RedisPubSubChannelLayer", result.stderr


@pytest.mark.process
def test_an_unknown_layer_is_refused_with_the_choices():
    result = manage("check", env_overrides={"CHANNEL_LAYER": "kafka"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "CHANNEL_LAYER='kafka'" in result.stderr and "redis, redis-pubsub" in result.stderr


@pytest.mark.process
def test_dev_falls_back_to_in_memory_layer_without_redis():
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.CHANNEL_LAYERS['default']['BACKEND'])"],  # noqa: E501
        cwd=APP_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings.dev"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "channels.layers.InMemoryChannelLayer", result.stderr


def test_daphne_precedes_staticfiles_so_runserver_speaks_websocket():
    from django.conf import settings

    apps = settings.INSTALLED_APPS
    assert apps.index("daphne") < apps.index("django.contrib.staticfiles")
    assert settings.ASGI_APPLICATION == "config.asgi.application"


@pytest.mark.process
def test_jwt_backend_is_switched_on_by_one_setting():
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.TOKEN_VERIFIERS[-1], "
        "settings.REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'][-1])",
        env_overrides={"WS_AUTH_JWT": "true"},
    )
    assert result.stdout.splitlines()[-1].split() == [
        "wsauth.jwt.SimpleJWTVerifier",
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ], result.stderr
