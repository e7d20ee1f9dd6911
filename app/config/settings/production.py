"""Production: refuses to start on what would break it, secure by default.

Every problem (here and in base.py) is reported at once, each with its fix, before anything
starts (refusals.py). `python manage.py check --deploy` with these settings reports nothing (with a key of 50
characters or more; a 40-49 character key, as Render generates, draws security.W009 only).
"""

from .base import *  # noqa: F403
from .base import env, problems
from .refusals import check_allowed_hosts, check_csrf_trusted_origins, check_secret_key

DEBUG = False

check_secret_key(problems, SECRET_KEY)  # noqa: F405
if not REDIS_URL:  # noqa: F405
    problems.add(
        "REDIS_URL is not set. Production needs Redis for the channel layer: without it broadcasts never "
        "cross processes. Example: REDIS_URL=redis://:PASSWORD@127.0.0.1:6379/0."
    )
# base.py falls back on SQLite (app/db.sqlite3) for `make run`: here that would be a database
# file inside the release, different on every host and lost at the next deploy. SQLite stays
# possible, as an explicit choice: DATABASE_URL=sqlite:////var/lib/NAME/db.sqlite3.
if not DATABASE_URL:  # noqa: F405
    problems.add(
        "DATABASE_URL is not set, so production would run on a SQLite file inside the code (app/db.sqlite3). "
        "Set DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/NAME (or, for one host on purpose, "
        "DATABASE_URL=sqlite:////var/lib/NAME/db.sqlite3)."
    )
check_allowed_hosts(problems, ALLOWED_HOSTS)  # noqa: F405
check_csrf_trusted_origins(problems, CSRF_TRUSTED_ORIGINS)  # noqa: F405
CHANNEL_LAYERS = {"default": redis_channel_layer(REDIS_URL)}  # noqa: F405

# TLS ends at the proxy (nginx), which sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=63072000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

problems.raise_if_any(__name__)
