"""The operators' settings: each bad value stops start-up with a message saying what to give (no
traceback), and production with every option on still passes check --deploy."""

import pytest

from config.tests.test_settings import manage

pytestmark = pytest.mark.process  # runs commands: not in `make unit`


def test_the_admin_moves_to_its_own_path():
    result = manage("shell", "-c", "from django.urls import reverse; print(reverse('admin:index'))",
                    env_overrides={"ADMIN_URL": "control-room-5f2c/"})
    assert result.stdout.splitlines()[-1] == "/control-room-5f2c/", result.stderr


@pytest.mark.parametrize(
    ("name", "value", "advice"),
    [
        ("ADMIN_URL", "/admin", "ADMIN_URL='/admin' is not a usable path"),
        ("ADMIN_URL", "api/admin/", "outside api/"),
        ("MONITORING_ALLOWED_IPS", "10.0.0.0/8,localhost", "'localhost' is not an address or network"),
        ("MONITORING_TOKEN", "short", "shorter than 32 characters"),
        ("LOG_FORMAT", "yaml", "plain (the default) or json"),
        ("SENTRY_TRACES_SAMPLE_RATE", "5", "a fraction from 0 to 1"),
    ],
)
def test_a_bad_value_is_refused_in_words(name, value, advice):
    result = manage("check", env_overrides={name: value})
    assert result.returncode == 2 and "are refused, 1 problem to fix" in result.stderr
    assert advice in result.stderr and "Traceback" not in result.stderr


def test_check_deploy_is_clean_with_every_option_on(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "DEBUG", env_overrides={
        "ADMIN_URL": "control-room-5f2c/",
        "MONITORING_ALLOWED_IPS": "127.0.0.1,10.0.0.0/8",
        "MONITORING_TOKEN": "m" * 40,
        "METRICS_ENABLED": "true",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "LOG_FORMAT": "json",
        "WS_LOG_CONNECTIONS": "true",
        "SENTRY_DSN": "https://public@sentry.invalid/1",
    })
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
    assert (tmp_path / "metrics").is_dir()
