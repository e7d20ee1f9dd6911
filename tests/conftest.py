"""Fixtures for the live and browser tests: a real redis-server, a migrated SQLite database
shared by processes, and daphne processes started on demand."""

from pathlib import Path

import pytest

from ops.testing.processes import DEMO_PASSWORD, Daphne, RedisServer, django_env, prepare_database
from ops.testing.tools import require_tool
from ops.tools import REPO_DIR

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


# Where each system suite lives, and the markers its tests get. Given at collection, before
# `-m` selects (a marker added in pytest_collection_modifyitems comes after pytest's own
# deselection: `make unit` then started the molecule scenarios and the image builds).
SUITE_MARKERS = {
    "live": ("live",),
    "e2e": ("live", "e2e"),
    "browser": ("browser",),
    "molecule": ("molecule",),
    "containers": ("containers",),
    "terraform": ("infra",),
    "install": ("infra",),
}
SYSTEM_MARKERS = HOST_MARKERS + SERVER_MARKERS


def suite_markers(path):
    parts = Path(path).resolve().relative_to(REPO_DIR).parts
    if len(parts) > 2 and parts[0] == "tests":
        return SUITE_MARKERS.get(parts[1], ())
    return ()


def pytest_itemcollected(item):
    for name in suite_markers(item.path):
        item.add_marker(name)
    if item.get_closest_marker("containers") and not item.get_closest_marker("timeout"):
        # The first one's setup builds the images: 2-3 min alone, more while molecule converges.
        item.add_marker(pytest.mark.timeout(1200))


@pytest.hookimpl(trylast=True)  # after pytest-django's own ordering, which the sort keeps within a phase
def pytest_collection_modifyitems(items):
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
