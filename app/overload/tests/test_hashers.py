"""Password hashing holds no pooled database connection and takes one of a few turns per process;
a login that cannot get a turn in time is a 503 with Retry-After, not a 500 after the pool's wait."""

import threading
import time
from contextlib import contextmanager

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher as DjangoPBKDF2
from django.contrib.auth.hashers import check_password, make_password
from rest_framework.test import APIClient

from overload import hashers
from overload.middleware import ServiceUnavailable


class QuickPBKDF2(hashers.PBKDF2PasswordHasher):
    """The project's hasher with few rounds, so the tests take no seconds; same algorithm name."""

    iterations = 1000


QUICK = [f"{__name__}.QuickPBKDF2"]


@pytest.fixture
def one_turn(settings):
    settings.PASSWORD_HASHERS = QUICK
    settings.PASSWORD_CHECKS_AT_ONCE = 1
    settings.PASSWORD_CHECK_WAIT = 0.2


@contextmanager
def turn_taken():
    """Another thread holds the only turn meanwhile."""
    taken, done = threading.Event(), threading.Event()

    def hold():
        with hashers.hashing_slot():
            taken.set()
            done.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert taken.wait(5)
    try:
        yield
    finally:
        done.set()
        thread.join(5)


def test_the_project_uses_them_with_djangos_algorithms():
    from django.contrib.auth import hashers as django_hashers
    from django.utils.module_loading import import_string

    from config.settings import base

    names = [path.rsplit(".", 1)[1] for path in base.PASSWORD_HASHERS]
    assert names == ["PBKDF2PasswordHasher", "PBKDF2SHA1PasswordHasher", "Argon2PasswordHasher",
                     "BCryptSHA256PasswordHasher", "ScryptPasswordHasher"]  # Django's defaults, in order
    for path, name in zip(base.PASSWORD_HASHERS, names, strict=True):
        ours, djangos = import_string(path), getattr(django_hashers, name)
        assert path.startswith("overload.hashers.") and issubclass(ours, djangos)
        assert ours.algorithm == djangos.algorithm


def test_a_hash_stored_by_djangos_hasher_still_verifies(one_turn):
    stored = DjangoPBKDF2().encode("pw-for-tests-1", "somesalt", iterations=1000)
    assert check_password("pw-for-tests-1", stored) and not check_password("wrong", stored)


def test_verify_inside_encode_takes_one_turn_not_two(one_turn):
    """PBKDF2's verify() calls encode(): with one turn a second acquire would wait for itself."""
    encoded = make_password("pw-for-tests-1")
    started = time.monotonic()
    assert check_password("pw-for-tests-1", encoded)
    assert time.monotonic() - started < 0.2


def test_past_the_wait_a_password_check_is_refused_with_server_busy(one_turn):
    encoded = DjangoPBKDF2().encode("pw", "somesalt", iterations=1000)
    started = time.monotonic()
    with turn_taken(), pytest.raises(ServiceUnavailable) as refused:
        check_password("pw", encoded)
    assert 0.15 < time.monotonic() - started < 1.5
    assert refused.value.code == "server_busy"


class FakeConnection:
    def __init__(self, pooled, in_atomic_block=False, connected=True):
        self.settings_dict = {"OPTIONS": {"pool": {"max_size": 4}} if pooled else {}}
        self.in_atomic_block = in_atomic_block
        self.connection = object() if connected else None
        self.closed = False

    def close(self):
        self.closed = True


def test_only_a_pooled_connection_outside_a_transaction_goes_back(monkeypatch):
    pooled, sqlite = FakeConnection(pooled=True), FakeConnection(pooled=False)
    in_transaction, idle = FakeConnection(pooled=True, in_atomic_block=True), FakeConnection(True, connected=False)
    every = [pooled, sqlite, in_transaction, idle]

    class Handler:
        def all(self, initialized_only=False):
            return every

    monkeypatch.setattr(hashers, "connections", Handler())
    hashers.release_pooled_connections()
    assert [c.closed for c in every] == [True, False, False, False]


# --- The login ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_login_gives_its_connection_back_before_hashing(one_turn, make_user, monkeypatch):
    make_user("alice")
    order = []
    monkeypatch.setattr(hashers, "release_pooled_connections", lambda: order.append("released"))
    real_verify = DjangoPBKDF2.verify
    monkeypatch.setattr(DjangoPBKDF2, "verify", lambda self, *a: order.append("hashed") or real_verify(self, *a))
    response = APIClient().post("/api/auth/login/", {"username": "alice", "password": "pw-for-tests-1"},
                                format="json")
    assert response.status_code == 200 and order == ["released", "hashed"]


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["alice", "nobody"])  # an unknown user hashes too (timing)
def test_a_login_without_a_turn_in_time_is_a_503_with_retry_after(one_turn, make_user, username):
    make_user("alice")
    started = time.monotonic()
    with turn_taken():
        response = APIClient().post("/api/auth/login/", {"username": username, "password": "pw-for-tests-1"},
                                    format="json")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response.json()["code"] == "server_busy"
    assert time.monotonic() - started < 1.5
