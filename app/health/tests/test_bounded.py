"""Every check of the deep report is bounded (HEALTH_CHECK_TIMEOUT): a stalled database or Redis
makes its check fail within about the bound, saying what did not answer, instead of holding the
report until the stall ends and then saying ok."""

import asyncio
import socket
import threading
import time

import pytest

from health import checks

BOUND = 0.3


@pytest.fixture
def bound(settings):
    settings.HEALTH_CHECK_TIMEOUT = BOUND
    return BOUND


@pytest.fixture
def stall():
    """stall(check) -> a probe that waits until the test ends (a database that does not answer)."""
    release = threading.Event()

    def make(name):
        def stalled():
            release.wait(10)
            return checks.Check(name, checks.OK)

        return stalled

    yield make
    release.set()
    if checks.BoundedProbes._last is not None:  # none still waits into the next test
        checks.BoundedProbes._last.thread.join(5)


def test_a_probe_past_its_bound_fails_within_about_the_bound(bound, stall):
    started = time.monotonic()
    (check,) = checks.BoundedProbes([("database", stall("database"), "The database")]).results()
    elapsed = time.monotonic() - started
    assert check.status == checks.FAIL and check.name == "database"
    assert check.recommendation.startswith(f"The database did not answer within {BOUND} s")
    assert check.detail == {"error": f"no answer within {BOUND} s"}
    assert BOUND - 0.05 < elapsed < BOUND + 0.5


def test_one_deadline_for_all_and_the_answers_before_a_stall_are_kept(bound, stall):
    def quick():
        return checks.Check("token_cache", checks.OK, {"backend": "db"})

    started = time.monotonic()
    results = checks.BoundedProbes([("token_cache", quick, "The token cache's table"),
                                    ("shared_cache", stall("shared_cache"), "The shared cache's table"),
                                    ("database", stall("database"), "The database")]).results()
    assert time.monotonic() - started < BOUND + 0.5  # one bound, not one per probe
    assert [c.status for c in results] == [checks.OK, checks.FAIL, checks.FAIL]
    assert results[2].recommendation.startswith(f"The database did not answer within {BOUND} s")


def test_probes_that_answer_in_time_give_their_own_check(bound):
    def quick():
        time.sleep(0.05)
        return checks.Check("database", checks.OK, {"vendor": "sqlite"})

    (check,) = checks.BoundedProbes([("database", quick, "The database")]).results()
    assert check == checks.Check("database", checks.OK, {"vendor": "sqlite"})


def test_a_probe_still_waiting_is_not_started_again(bound, stall):
    """A stall costs one waiting thread per process, not one per report."""
    starts = []

    def counted():
        starts.append(1)
        return stall("database")()

    checks.BoundedProbes([("database", counted, "The database")]).results()
    started = time.monotonic()
    (check,) = checks.BoundedProbes([("database", counted, "The database")]).results()
    assert time.monotonic() - started < 0.1 and len(starts) == 1
    assert check.status == checks.FAIL
    assert "The database has not answered the probes started" in check.recommendation


def test_a_probe_that_raises_is_a_fail_with_the_error(bound):
    def broken():
        raise RuntimeError("a bug in the probe")

    (check,) = checks.BoundedProbes([("database", broken, "The database")]).results()
    assert check.status == checks.FAIL and check.detail["error"] == "RuntimeError: a bug in the probe"


@pytest.mark.django_db
def test_inside_a_transaction_the_probes_run_here(bound):
    """A test's transaction: the probes must see its rows, and would wait on its locks elsewhere."""
    seen = []
    checks.BoundedProbes([("database", lambda: seen.append(threading.current_thread()) or checks.Check(
        "database", checks.OK), "The database")]).results()
    assert seen == [threading.current_thread()]


@pytest.mark.django_db(transaction=True)
async def test_the_report_answers_503_within_about_the_bound_while_the_database_stalls(
        async_client, bound, stall, monkeypatch):
    monkeypatch.setattr(checks, "check_database", stall("database"))
    started = time.monotonic()
    response = await async_client.get("/api/websocket/health/")
    elapsed = time.monotonic() - started
    body = response.json()
    assert response.status_code == 503 and body["status"] == "fail"
    assert body["checks"]["database"]["status"] == "fail"
    assert f"database: The database did not answer within {BOUND} s" in " ".join(body["recommendations"])
    assert body["checks"]["token_cache"]["status"] == "ok"  # the others keep their own answers
    assert elapsed < BOUND + 1.5


@pytest.fixture
def silent_redis():
    """A listening socket that never answers: connects succeed (the kernel's backlog), PING waits."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    server.close()


async def test_a_redis_that_does_not_answer_fails_within_the_bound(bound, settings, silent_redis):
    settings.REDIS_URL = silent_redis
    started = time.monotonic()
    check = await checks.check_redis()
    assert check.status == checks.FAIL and "Redis" in check.recommendation
    assert time.monotonic() - started < BOUND + 0.5


async def test_the_two_async_probes_run_at_once(bound, settings, silent_redis, monkeypatch):
    from health import views

    async def slow_layer():
        await asyncio.sleep(BOUND)
        return checks.Check("channel_layer", checks.OK)

    monkeypatch.setattr(checks, "check_channel_layer", slow_layer)
    settings.REDIS_URL = silent_redis
    started = time.monotonic()
    layer, redis = await views._async_probes()
    assert (layer.name, redis.name) == ("channel_layer", "redis")
    assert time.monotonic() - started < 1.7 * BOUND  # in turn: 2 bounds


@pytest.mark.django_db
def test_delivery_is_degraded_for_a_while_after_a_daphne_missed_events(settings):
    import time

    from django.core.cache import caches

    from health import checks
    from realtime.stats import MISSED_KEY, MISSED_REPORT_SECONDS

    caches["default"].delete(MISSED_KEY)
    assert checks.check_delivery().status == checks.OK
    caches["default"].set(MISSED_KEY, {"instance": "web1:daphne-2", "count": 6, "at": time.time() - 30})
    check = checks.check_delivery()
    assert check.status == checks.DEGRADED and check.detail["count"] == 6
    assert "web1:daphne-2 missed 6 group event(s) 30 s ago" in check.recommendation
    caches["default"].set(MISSED_KEY, {"instance": "web1:daphne-2", "count": 6,
                                       "at": time.time() - MISSED_REPORT_SECONDS - 1})
    assert checks.check_delivery().status == checks.OK
    caches["default"].delete(MISSED_KEY)
