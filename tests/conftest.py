"""Fixtures for the live and browser tests: a real redis-server, a migrated SQLite database
shared by processes, and daphne processes started on demand."""

import pytest

from ops.testing.processes import DEMO_PASSWORD, Daphne, RedisServer, django_env, prepare_database
from ops.testing.tools import require_tool


def pytest_collection_modifyitems(items):
    for item in items:
        if "/tests/live/" in str(item.path):
            item.add_marker(pytest.mark.live)
        elif "/tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.live)
            item.add_marker(pytest.mark.e2e)
        elif "/tests/browser/" in str(item.path):
            item.add_marker(pytest.mark.browser)
        elif "/tests/molecule/" in str(item.path):
            item.add_marker(pytest.mark.molecule)
        elif "/tests/containers/" in str(item.path):
            item.add_marker(pytest.mark.containers)
        elif "/tests/terraform/" in str(item.path):
            item.add_marker(pytest.mark.infra)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    binary = require_tool("redis-server", "the Redis channel layer tests need a real Redis")
    server = RedisServer(binary, tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A SQLite file every process of a test shares (the DatabaseCache lives in it too)."""
    path = tmp_path_factory.mktemp("db") / "live.sqlite3"
    url = f"sqlite:///{path}"
    prepare_database(django_env("config.settings.dev", url, DJANGO_DEBUG="false"), DEMO_PASSWORD)
    return url


@pytest.fixture
def start_daphne(tmp_path, database_url):
    """start_daphne(name, redis=None, **env) -> a running Daphne with production settings
    (or dev settings with DEBUG off when no Redis is given)."""
    started = []

    def start(name="daphne-1", redis=None, settings=None, extra_args=(), **env):
        if settings is None:
            settings = "config.settings.production" if redis else "config.settings.dev"
        extra = {"SERVER_INSTANCE_ID": name, "DJANGO_DEBUG": "false", **env}
        if redis:
            extra["REDIS_URL"] = redis.url
        process = Daphne(django_env(settings, database_url, **extra), tmp_path / f"{name}.log", extra_args)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
