"""Run by tests/live/test_token_store.py in a process of its own (config.settings.test, the
database of DATABASE_URL: a SQLite file or PostgreSQL): migrate, store EXPIRED expired tokens,
then THREADS threads log in LOGINS times each through the login API at the same moment, every
write past the tiny TOKEN_CACHE_MAX_ENTRIES culling; then every token is looked up. Prints one
JSON line. `--django-cache` runs the same with Django's own DatabaseCache (negative control).

    python storm_probe.py THREADS LOGINS EXPIRED [--django-cache]
"""

import json
import sys
import threading
import time

import django

PASSWORD = "storm-password-1"


def main(threads, logins, expired, django_cache):
    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections
    from django.test import Client, override_settings
    from django.test.utils import setup_test_environment

    from accounts.models import Profile
    from throttling.throttles import SharedScopedRateThrottle
    from tokens import store
    from tokens.cache import TokenDatabaseCache

    setup_test_environment()  # the test client's host, "testserver", is allowed
    call_command("migrate", verbosity=0)
    if django_cache:
        tokens_cache = {**settings.CACHES["tokens"], "BACKEND": "django.core.cache.backends.db.DatabaseCache"}
        override_settings(CACHES={**settings.CACHES, "tokens": tokens_cache}).enable()
    SharedScopedRateThrottle.THROTTLE_RATES["login"] = "1000000/min"  # the whole storm is one address
    user = get_user_model().objects.create_user("storm", password=PASSWORD)
    Profile.objects.create(user=user, team="red", branch="north")
    seed = TokenDatabaseCache(settings.CACHES["tokens"]["LOCATION"], {"OPTIONS": {"MAX_ENTRIES": 10**9}})
    for number in range(expired):
        seed.set(f"{store.TOKEN_PREFIX}expired-{number}", {"user_id": user.pk, "expires_at": 0}, timeout=-1)
    connections.close_all()

    tokens, failures, lock = [], [], threading.Lock()
    together = threading.Barrier(threads)

    def storm():
        client = Client()
        together.wait()
        try:
            for _ in range(logins):
                response = client.post("/api/auth/login/", {"username": "storm", "password": PASSWORD},
                                       content_type="application/json")
                with lock:
                    if response.status_code == 200:
                        tokens.append(response.json()["token"])
                    else:
                        failures.append(f"{response.status_code} {response.content[:200]!r}")
        finally:
            connections.close_all()

    started = time.monotonic()
    workers = [threading.Thread(target=storm) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.monotonic() - started
    valid = sum(store.user_for_token(raw) == user for raw in tokens)
    cache = store.token_cache()
    counts = cache.entry_counts() if isinstance(cache, TokenDatabaseCache) else None
    print(json.dumps({
        "vendor": connections["default"].vendor, "max_entries": cache._max_entries, "tokens": len(tokens),
        "distinct": len(set(tokens)), "valid": valid, "failures": len(failures), "first_failures": failures[:3],
        "live": counts and counts.live, "expired": counts and counts.expired, "seconds": round(seconds, 1),
    }))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), "--django-cache" in sys.argv[4:])
