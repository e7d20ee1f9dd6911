"""Fixtures for the live and browser tests: a real redis-server, a migrated SQLite database
shared by processes, and daphne processes started on demand."""

import pytest

from ops.testing.processes import DEMO_PASSWORD, Daphne, RedisServer, django_env, prepare_database
from ops.testing.tools import require_tool

# The order of a session: what runs in this process; then the host suites, molecule's scenarios
# converging in the background meanwhile (tests/molecule/scenarios.py); then what starts
# servers and judges times, on a machine no longer busy with them.
IN_PROCESS, HOSTS, SERVERS = range(3)
HOST_MARKERS = ("containers", "infra", "molecule")
SERVER_MARKERS = ("live", "e2e", "browser")


def phase(item):
    if any(item.get_closest_marker(name) for name in SERVER_MARKERS):
        return SERVERS
    if any(item.get_closest_marker(name) for name in HOST_MARKERS):
        return HOSTS
    return IN_PROCESS


@pytest.hookimpl(trylast=True)  # after pytest-django's own ordering, which the sort keeps within a phase
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
            # The first one's setup builds the images: 2-3 min alone, more while molecule converges.
            if not item.get_closest_marker("timeout"):
                item.add_marker(pytest.mark.timeout(1200))
        elif "/tests/terraform/" in str(item.path):
            item.add_marker(pytest.mark.infra)
    # Molecule last among the host suites: its tests only wait for results.
    items.sort(key=lambda item: (phase(item), item.get_closest_marker("molecule") is not None))


def pytest_runtest_setup(item):
    if phase(item) == HOSTS:
        from tests.molecule.scenarios import RUNS

        RUNS.start(item.session.items)


def pytest_sessionfinish(session):
    from tests.molecule.scenarios import RUNS

    RUNS.stop()


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
