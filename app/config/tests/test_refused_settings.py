"""Production refuses the settings that would break it at run time, every problem in one report
with its fix, and no traceback; development and test settings need no environment at all."""

import os
import subprocess
import sys

import pytest

from config.settings import refusals
from config.tests.test_settings import APP_DIR, GOOD_ENV, manage


def refused(result):
    """The report's problem lines, after checking it is a report and nothing else."""
    assert result.returncode == refusals.MANAGE_EXIT_STATUS, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "ImproperlyConfigured:" not in result.stderr, result.stderr
    assert "The settings (config.settings.production) are refused" in result.stderr
    return [line.removeprefix("  - ") for line in result.stderr.splitlines() if line.startswith("  - ")]


@pytest.mark.parametrize(
    ("name", "value", "advice"),
    [
        ("REDIS_URL", "localhost:6379", "REDIS_URL ('localhost:6379') must start with redis://, rediss:// or unix://"),
        ("ALLOWED_HOSTS", "https://chat.example.org",
         "ALLOWED_HOSTS: 'https://chat.example.org' has a scheme: give the bare name (chat.example.org)"),
        ("ALLOWED_HOSTS", "chat.example.org:8443", "'chat.example.org:8443' has a port"),
        ("ALLOWED_HOSTS", "chat.example.org/app", "'chat.example.org/app' has a path"),
        ("ALLOWED_HOSTS", "::1", "write it in brackets ([::1])"),
        ("CSRF_TRUSTED_ORIGINS", "chat.example.org", "CSRF_TRUSTED_ORIGINS: 'chat.example.org' needs its scheme"),
        ("SECRET_KEY", "abc", "it is 3 characters long, fewer than 40"),
        ("SECRET_KEY", "k" * 60, "it has 1 different characters, fewer than 10"),
        ("SECRET_KEY", "django-insecure-" + "a1b2c3d4e5f6g7h8i9j0" * 3, "Django's startproject placeholder"),
        ("SECRET_KEY", refusals.DEV_SECRET_KEY, "the development key from config/settings/dev.py"),
        ("DB_POOL_MAX_SIZE", "abc", "'abc' is not a whole number: give one such as DB_POOL_MAX_SIZE=4"),
        ("REDIS_SOCKET_TIMEOUT", "soon", "REDIS_SOCKET_TIMEOUT='soon' is not a number"),
        ("SECURE_SSL_REDIRECT", "ture", "SECURE_SSL_REDIRECT='ture' is not true or false"),
        ("DATABASE_URL", "localhost:5432", "('localhost:5432') is not a database URL this project can use"),
    ],
)
@pytest.mark.process
def test_a_value_that_would_fail_at_run_time_is_refused_in_words(name, value, advice):
    # DB_POOL_* are read for PostgreSQL only; nothing connects during `check`.
    database = {"DATABASE_URL": "postgres://app:pw@127.0.0.1:9/app"} if name.startswith("DB_POOL") else {}
    problems = refused(manage("check", env_overrides={**database, name: value}))
    assert len(problems) == 1 and advice in problems[0], problems


@pytest.mark.process
def test_production_without_a_database_url_is_refused_not_run_on_sqlite():
    problems = refused(manage("check", drop=("DATABASE_URL",)))
    assert problems == [
        "DATABASE_URL is not set, so production would run on a SQLite file inside the code (app/db.sqlite3). Set "
        "DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/NAME (or, for one host on purpose, "
        "DATABASE_URL=sqlite:////var/lib/NAME/db.sqlite3)."
    ]


@pytest.mark.process
def test_every_problem_is_reported_at_once():
    result = manage("check", drop=("SECRET_KEY", "REDIS_URL", "DATABASE_URL"), env_overrides={
        "ALLOWED_HOSTS": "https://chat.example.org", "CSRF_TRUSTED_ORIGINS": "chat.example.org",
        "ADMIN_URL": "/admin", "LOG_FORMAT": "yaml", "MONITORING_TOKEN": "short", "SENTRY_TRACES_SAMPLE_RATE": "5",
        "MONITORING_ALLOWED_IPS": "localhost", "CHANNEL_LAYER": "kafka", "WS_AUTH_TIMEOUT": "x",
    })
    problems = refused(result)
    starts = ["SECRET_KEY is not set", "REDIS_URL is not set", "DATABASE_URL is not set", "ALLOWED_HOSTS: ",
              "CSRF_TRUSTED_ORIGINS: ", "ADMIN_URL=", "LOG_FORMAT=", "MONITORING_TOKEN ", "SENTRY_TRACES_SAMPLE_RATE=",
              "MONITORING_ALLOWED_IPS: ", "CHANNEL_LAYER=", "WS_AUTH_TIMEOUT="]
    assert sorted(starts) == sorted(start for start in starts for problem in problems if problem.startswith(start))
    assert len(problems) == len(starts)
    assert f"refused, {len(starts)} problems to fix" in result.stderr


@pytest.mark.process
def test_no_password_reaches_the_report():
    problems = refused(manage("check", env_overrides={
        "REDIS_URL": ":hunter2-redis@localhost:6379", "DATABASE_URL": "postgres://app:hunter2/db@db:5432/app",
    }))
    assert len(problems) == 2, problems
    report = "".join(problems)
    assert "REDIS_URL ('***@localhost:6379')" in report and "'postgres://***@db:5432/app'" in report
    assert "hunter2" not in "".join(problems)


@pytest.mark.process
def test_a_render_generated_key_and_an_explicit_sqlite_database_are_accepted():
    """Render's generateValue (256 bits, base64: 43-44 characters) passes; so does SQLite chosen
    on purpose (DATABASE_URL given), as the manual install's single-host example uses it."""
    result = manage("check", "--deploy", "--fail-level", "ERROR",
                    env_overrides={"SECRET_KEY": "Xq3" + "k9ZpL2mW7vB4nR8tY1cF6hJ0sD5gA_e-uQ" + "oiP3zV"})
    assert result.returncode == 0, result.stderr
    assert GOOD_ENV["DATABASE_URL"].startswith("sqlite:")


@pytest.mark.parametrize("settings_module", ["config.settings.dev", "config.settings.test"])
@pytest.mark.process
def test_development_and_test_settings_need_no_environment(settings_module):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
           "DJANGO_SETTINGS_MODULE": settings_module}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=APP_DIR, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and "no issues" in result.stdout, result.stderr


@pytest.mark.process
def test_development_settings_refuse_a_bad_value_too():
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
           "DJANGO_SETTINGS_MODULE": "config.settings.dev", "LOG_FORMAT": "yaml", "DJANGO_DEBUG": "ture"}
    result = subprocess.run([sys.executable, "manage.py", "runserver", "--noreload"], cwd=APP_DIR, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "The settings (config.settings.dev) are refused, 2 problems" in result.stderr


# --- the rules themselves ---------------------------------------------------------------------

@pytest.mark.parametrize(("host", "fine"), [
    ("chat.example.org", True), (".example.org", True), ("127.0.0.1", True), ("[::1]", True), ("*", True),
    ("[::1]:8000", False), ("http://x.org", False), ("x.org:80", False), ("x.org/", False), ("fe80::1", False),
])
def test_which_allowed_hosts_entries_can_match_a_request(host, fine):
    assert (refusals.host_problem(host) is None) == fine


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://:p@ss/w:rd@h:6379/0", "redis://***@h:6379/0"),
    ("unix:///run/redis/redis.sock", "unix:///run/redis/redis.sock"),
    (":pw@localhost:6379", "***@localhost:6379"),
])
def test_urls_in_problems_hide_their_password(url, shown):
    assert refusals.without_password(url) == shown


def test_a_strong_key_has_no_problem_and_problems_are_listed_once():
    problems = refusals.Problems()
    refusals.check_secret_key(problems, "Yy3_lT0b7Qk2ZxV9mN4pR8sW1cF6hJ5gA0eU7iO3uD2q")
    assert not problems
    problems.add("X is wrong.")
    problems.add("X is wrong.")  # Django imports a failed settings module twice
    with pytest.raises(refusals.SettingsRefused, match=r"refused, 1 problem to fix") as caught:
        problems.raise_if_any("config.settings.production")
    assert caught.value.problems == ["X is wrong."]
