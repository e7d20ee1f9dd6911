"""The settings every profile shares, and most of those that come from the environment.

Defaults are production-safe (DEBUG off, no hosts allowed). The profiles read a few variables
themselves: ``dev`` re-reads DJANGO_DEBUG, SECRET_KEY, ALLOWED_HOSTS and API_SCHEMA_PUBLIC with
development defaults; ``production`` requires SECRET_KEY and REDIS_URL and reads its HTTPS and cookie flags
(SECURE_*, SESSION_COOKIE_SECURE, CSRF_COOKIE_SECURE). All of them read through ``env`` below.
"""

import ipaddress
import os
import re
import socket
from datetime import timedelta
from pathlib import Path

import environ

from .refusals import CheckedEnv, Problems, check_database_url, check_redis_url

BASE_DIR = Path(__file__).resolve().parents[2]

# Every problem found while reading the settings; the profile reports them all at once (refusals).
problems = Problems()
env = CheckedEnv(problems)
# An .env file beside manage.py is read when present; real environment variables win. Only
# when present: django-environ logs "not found" otherwise, once per process (every daphne, every
# worker), where a server's environment comes from its unit or container instead.
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Render sets RENDER_EXTERNAL_HOSTNAME (NAME.onrender.com) at run time, so render.yaml cannot
# know it: that name is served (and is a WebSocket Origin) over HTTPS without repeating it.
RENDER_EXTERNAL_HOSTNAME = env.str("RENDER_EXTERNAL_HOSTNAME", default="")
if RENDER_EXTERNAL_HOSTNAME:
    ALLOWED_HOSTS = [*ALLOWED_HOSTS, RENDER_EXTERNAL_HOSTNAME]
    CSRF_TRUSTED_ORIGINS = [*CSRF_TRUSTED_ORIGINS, f"https://{RENDER_EXTERNAL_HOSTNAME}"]

# Shown in connection_established so clients and tests can tell instances apart.
SERVER_INSTANCE_ID = env.str("SERVER_INSTANCE_ID", default=f"{socket.gethostname()}:{os.getpid()}")

INSTALLED_APPS = [
    # daphne first: its runserver replaces Django's and speaks WebSocket (check daphne.E001).
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI and ReDoc as our own static files (SPECTACULAR_SETTINGS below), not from a CDN.
    "drf_spectacular_sidecar",
    "axes",
    "accounts",
    "tokens",
    "wsauth",
    "realtime",
    "chat",
    "notifications",
    "feeds",
    "health",
    "demo",
    "throttling",
    "observability",
    "apidocs",
    "overload",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A view that meets an unavailable database (pool exhausted, PostgreSQL stalled or down) or a
    # full queue of password checks answers 503 with Retry-After, not a 500 with a traceback.
    "overload.middleware.ServiceUnavailableMiddleware",
    # Last, as django-axes asks: turns a locked-out admin login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite file by default so `make run` needs no service; PostgreSQL via DATABASE_URL.
DATABASE_URL = env.str("DATABASE_URL", default="")
DATABASES = {"default": environ.Env.db_url_config(f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASE_URL:
    DATABASES["default"] = check_database_url(problems, DATABASE_URL) or DATABASES["default"]
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool("DB_POOL", default=True):
    # A connection pool per process (psycopg_pool). Without it every handler opened a new
    # PostgreSQL connection: channels closes the connection around each database_sync_to_async
    # call, and the connects were the largest cost of a connect storm (bench/RESULTS.md).
    # Pooling replaces CONN_MAX_AGE (Django refuses both).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A database that does not answer a connect fails it in seconds, not after the OS's TCP
    # timeout (minutes): the pool's getconn and every handshake waiting on it give up in time.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options.setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=5))
    options["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DB_POOL_MAX_SIZE", default=4),
        # Seconds a caller waits for a free connection before an error (HTTP: a 503 with
        # Retry-After). Queries hold a connection for milliseconds (password hashing gives its
        # connection back: overload.hashers), so a wait this long means the database is stalled or
        # down, and a longer one only made the same answer slower: with 10 s, 50 logins at once
        # got 500s after 10 s, bystanders too. Below WS_AUTH_TIMEOUT (5 s), so a handshake's
        # database call has given up before the handshake does.
        "timeout": env.float("DB_POOL_TIMEOUT", default=3.0),
    }
    # Each connection is checked as it leaves the pool (one empty query; Django passes psycopg's
    # check_connection for it): after a database restart every pooled connection is dead, and
    # each answered one request with a 500.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_POOL_CHECK", default=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes and threads write the same file. IMMEDIATE takes the write lock at
    # BEGIN, so a second writer waits up to `timeout` seconds; with SQLite's default deferred
    # transactions it fails at once with "database is locked" when upgrading its lock.
    sqlite_options = DATABASES["default"].setdefault("OPTIONS", {})
    sqlite_options.setdefault("timeout", 20)
    sqlite_options.setdefault("transaction_mode", "IMMEDIATE")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TOKEN_CACHE_ALIAS = "tokens"
CACHES = {
    # "default" (throttles, the admin's login limit) is set below, once REDIS_URL is known.
    # Tokens live in the database so every process (HTTP server, each daphne) sees the
    # same ones. A per-process LocMemCache here is the classic "works over HTTP, 4001
    # over WebSocket" bug; the realtime app's system check refuses it.
    # tokens.cache.TokenDatabaseCache: Django's DatabaseCache culls live rows too once the
    # table passes MAX_ENTRIES, which logged users out at random. This one deletes expired
    # rows only: past MAX_ENTRIES each write also deletes some expired rows, a valid token or
    # ticket is never dropped, and the table may grow past it (`manage.py clear_expired_tokens`
    # removes expired rows on a schedule; the health report warns past TOKEN_CACHE_WARN_ENTRIES).
    TOKEN_CACHE_ALIAS: {
        "BACKEND": "tokens.cache.TokenDatabaseCache",
        "LOCATION": env.str("TOKEN_CACHE_TABLE", default="token_cache"),
        "TIMEOUT": None,
        "OPTIONS": {"MAX_ENTRIES": env.int("TOKEN_CACHE_MAX_ENTRIES", default=100_000)},
    },
}
# Live tokens and tickets past which the health report says "degraded" (and how to fix it);
# the metric token_store_entries shows the count. Default: 80% of TOKEN_CACHE_MAX_ENTRIES.
TOKEN_CACHE_WARN_ENTRIES = env.int(
    "TOKEN_CACHE_WARN_ENTRIES", default=max(1, CACHES[TOKEN_CACHE_ALIAS]["OPTIONS"]["MAX_ENTRIES"] * 4 // 5)
)
for _name, _value in (("TOKEN_CACHE_MAX_ENTRIES", CACHES[TOKEN_CACHE_ALIAS]["OPTIONS"]["MAX_ENTRIES"]),
                      ("TOKEN_CACHE_WARN_ENTRIES", TOKEN_CACHE_WARN_ENTRIES)):
    if _value is not None and _value < 1:
        problems.add(f"{_name}={_value} is not a number of rows: give 1 or more, or unset it for the default.")

# --- Channel layer ------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Which layer: "redis" (channels_redis's core layer: groups kept in Redis, per-channel queues
# with a capacity) or "redis-pubsub" (RedisPubSubChannelLayer: one PUBLISH per group_send,
# groups kept by each process). bench/RESULTS.md compares them.
CHANNEL_LAYER = env.str("CHANNEL_LAYER", default="redis")
# Connections per process to Redis. redis-py 8 raises at once when a pool is exhausted, which
# turned connect and disconnect storms into tracebacks; our layer (realtime.layers) waits up to
# REDIS_POOL_TIMEOUT seconds for a free connection instead. Redis serves one command at a time,
# so more connections add no speed: a 10,000-socket connect storm on two daphne took 21.8 s
# with 64 per process and 31.4 s with 1,000 (which also left 2,000 idle Redis clients).
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=64)
# Below daphne's handshake wait (60 s): in a 10,000-socket reconnect storm 10 s was too short
# for the last group_add of the queue (311 handshakes closed in the benchmark).
REDIS_POOL_TIMEOUT = env.float("REDIS_POOL_TIMEOUT", default=30.0)
# channels_redis waits for messages with a 5 s BZPOPMIN; redis-py 8's default socket timeout
# is also 5 s, so an idle consumer's read times out and its socket closes with 1011. The
# timeout must clearly exceed the blocking wait; it still bounds how long a hung Redis stalls.
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=15.0)
CHANNEL_LAYER_CAPACITY = env.int("CHANNEL_LAYER_CAPACITY", default=200)
# How long an HTTP request (an announcement, a logout) waits for the layer to take a broadcast
# before answering 503: a paused Redis otherwise held it for REDIS_SOCKET_TIMEOUT and then 500.
CHANNEL_LAYER_SEND_TIMEOUT = env.float("CHANNEL_LAYER_SEND_TIMEOUT", default=2.0)
# Must outlive daphne's --websocket_timeout (86400 s) or long-lived sockets fall out of
# their groups silently.
CHANNEL_LAYER_GROUP_EXPIRY = env.int("CHANNEL_LAYER_GROUP_EXPIRY", default=86400)
CHANNEL_LAYER_CHOICES = ("redis", "redis-pubsub")
if CHANNEL_LAYER not in CHANNEL_LAYER_CHOICES:
    problems.add(
        f"CHANNEL_LAYER={CHANNEL_LAYER!r} is not a layer this project knows: set it to one of "
        f"{', '.join(CHANNEL_LAYER_CHOICES)} (or leave it unset for redis)."
    )


def redis_channel_layer(url):
    host = {"address": url, "max_connections": REDIS_MAX_CONNECTIONS, "socket_timeout": REDIS_SOCKET_TIMEOUT}
    if CHANNEL_LAYER != "redis-pubsub":  # "redis", or a name refused above
        return {
            "BACKEND": "realtime.layers.RedisChannelLayer",
            "CONFIG": {
                "hosts": [host],
                "pool_timeout": REDIS_POOL_TIMEOUT,
                "capacity": CHANNEL_LAYER_CAPACITY,
                "group_expiry": CHANNEL_LAYER_GROUP_EXPIRY,
            },
        }
    # Publishes one at a time over one connection per process, plus one subscriber.
    return {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [host]}}


if REDIS_URL:
    check_redis_url(problems, REDIS_URL)
    CHANNEL_LAYERS = {"default": redis_channel_layer(REDIS_URL)}
else:
    # Single-process only; the realtime system check warns, production refuses.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Tokens and WebSocket auth ---------------------------------------------------------
TOKEN_TTL_SECONDS = env.int("TOKEN_TTL_SECONDS", default=12 * 3600)
WS_TICKET_TTL_SECONDS = env.int("WS_TICKET_TTL_SECONDS", default=30)
# Order matters: the first backend that finds a credential decides.
WS_AUTH_BACKENDS = env.list(
    "WS_AUTH_BACKENDS",
    default=[
        "wsauth.backends.SubprotocolTicketBackend",
        "wsauth.backends.TicketBackend",
        "wsauth.backends.SubprotocolTokenBackend",
        "wsauth.backends.AuthorizationHeaderBackend",
        "wsauth.backends.SessionBackend",
        "wsauth.backends.QueryTokenBackend",
    ],
)
# Seconds a handshake may spend checking its credential and access (the database): past it the
# socket is closed with 4013 (retry later) instead of hanging until the proxy gives up.
WS_AUTH_TIMEOUT = env.float("WS_AUTH_TIMEOUT", default=5.0)
# What a bearer credential may be: our opaque tokens, and JWTs when WS_AUTH_JWT is on.
WS_AUTH_JWT = env.bool("WS_AUTH_JWT", default=False)
TOKEN_VERIFIERS = ["tokens.verifiers.TokenStoreVerifier"]
if WS_AUTH_JWT:
    TOKEN_VERIFIERS.append("wsauth.jwt.SimpleJWTVerifier")
# ?token= appears in URLs that proxies may log; kept for existing clients, can be switched off.
WS_ALLOW_QUERY_TOKEN = env.bool("WS_ALLOW_QUERY_TOKEN", default=True)
# Browsers always send Origin on a WebSocket handshake; a missing one means a non-browser
# client, which cross-site hijacking cannot involve.
WS_ALLOW_MISSING_ORIGIN = env.bool("WS_ALLOW_MISSING_ORIGIN", default=True)

# --- WebSocket protocol limits ----------------------------------------------------------
WS_MAX_MESSAGE_BYTES = env.int("WS_MAX_MESSAGE_BYTES", default=64 * 1024)
# What daphne holds for one socket whose client does not read before cutting it off (4009):
# a stalled client otherwise grew daphne without bound.
WS_MAX_SEND_BUFFER_BYTES = env.int("WS_MAX_SEND_BUFFER_BYTES", default=1024 * 1024)
# The same for servers whose sends wait for a slow client (uvicorn's flow control): group
# events queued for one socket before it is cut off (4009).
WS_MAX_HELD_EVENTS = env.int("WS_MAX_HELD_EVENTS", default=1000)
# Anonymous sockets (/ws/test/) that send nothing for this long are closed (4008); 0: never.
# Longer than `wsdoctor --idle 75`, which proves an idle socket outlives the proxy's timeout.
WS_ANONYMOUS_IDLE_SECONDS = env.float("WS_ANONYMOUS_IDLE_SECONDS", default=300.0)
# The bound on how long an open socket outlives a revocation or a withdrawn access that its
# broadcast did not carry (Redis down, a script, a queryset update()): every this many seconds
# each process checks the logins and access of all its open sockets, in a few queries
# (realtime.revocation). 0 turns the check off (then only the broadcast closes sockets).
WS_RECHECK_SECONDS = env.float("WS_RECHECK_SECONDS", default=10.0)
# Open sockets one user may hold at once, across every process (counted in Redis; without Redis,
# per process): beyond it a connect gets `too_many_sockets` and 4008. nginx caps per address;
# this caps an account (a leaked token, a client reconnecting without closing). 0: no cap.
WS_MAX_SOCKETS_PER_USER = env.int("WS_MAX_SOCKETS_PER_USER", default=50)
WS_RATE_LIMIT_PER_SECOND = env.float("WS_RATE_LIMIT_PER_SECOND", default=20.0)
WS_RATE_LIMIT_BURST = env.int("WS_RATE_LIMIT_BURST", default=40)
CHAT_MAX_MESSAGE_LENGTH = env.int("CHAT_MAX_MESSAGE_LENGTH", default=4000)
# Conversations one /ws/chat/ socket may join at once (each is a group membership of the process).
CHAT_MAX_JOINED_CONVERSATIONS = env.int("CHAT_MAX_JOINED_CONVERSATIONS", default=50)
# How long a handshake waits for the other member's answer before it expires.
CHAT_HANDSHAKE_TTL_SECONDS = env.int("CHAT_HANDSHAKE_TTL_SECONDS", default=24 * 3600)
OPS_STATS_INTERVAL_SECONDS = env.float("OPS_STATS_INTERVAL_SECONDS", default=5.0)
# Each process is one member of a group in the layer, whatever its number of sockets there
# (realtime.groups); it joins again this often, so the layer's group expiry never drops it.
REALTIME_GROUP_REFRESH_SECONDS = env.float("REALTIME_GROUP_REFRESH_SECONDS", default=300.0)
# Each process asks the layer this often whether it still holds a membership only that process
# has (its probe group): a FLUSHALL or a Redis that came back empty is noticed within about this
# long, the groups joined again and their sockets told to resync. 0: no probe.
REALTIME_PROBE_SECONDS = env.float("REALTIME_PROBE_SECONDS", default=2.0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tokens.authentication.StoreTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Counted in the default cache, which every process shares (see "Per-client limits").
    "DEFAULT_THROTTLE_RATES": {
        "login": env.str("LOGIN_THROTTLE_RATE", default="10/min"),
        "ws_ticket": env.str("WS_TICKET_THROTTLE_RATE", default="60/min"),
        "health": env.str("HEALTH_THROTTLE_RATE", default="60/min"),
    },
    # The client is REMOTE_ADDR, which daphne and uvicorn already took from nginx's
    # X-Forwarded-For (nginx overwrites it). DRF's default keyed on the raw header instead.
    "NUM_PROXIES": 0,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
if WS_AUTH_JWT:
    REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"].append(
        "rest_framework_simplejwt.authentication.JWTAuthentication"
    )
    INSTALLED_APPS.append("rest_framework_simplejwt")

# --- Answers under overload (overload) ------------------------------------------------------
# Retry-After of every 503 the overload middleware writes (database unavailable, server busy).
HTTP_RETRY_AFTER_SECONDS = env.int("HTTP_RETRY_AFTER_SECONDS", default=5)
# Password hashes at once per process (logins, the admin's, set_password): each is ~0.4 s of one
# core, so more than the cores only slows each; a check that waits longer than
# PASSWORD_CHECK_WAIT seconds for its turn is a 503 with Retry-After.
PASSWORD_CHECKS_AT_ONCE = env.int("PASSWORD_CHECKS_AT_ONCE", default=2)
PASSWORD_CHECK_WAIT = env.float("PASSWORD_CHECK_WAIT", default=3.0)
for _name, _value in (("HTTP_RETRY_AFTER_SECONDS", HTTP_RETRY_AFTER_SECONDS),
                      ("PASSWORD_CHECKS_AT_ONCE", PASSWORD_CHECKS_AT_ONCE)):
    if _value is not None and _value < 1:
        problems.add(f"{_name}={_value}: give a whole number of 1 or more, or unset it for the default.")
if PASSWORD_CHECK_WAIT is not None and PASSWORD_CHECK_WAIT <= 0:
    problems.add(f"PASSWORD_CHECK_WAIT={PASSWORD_CHECK_WAIT}: give seconds above 0, or unset it for the default.")
# Django's default hashers, each giving its pooled database connection back while it hashes and
# taking one of PASSWORD_CHECKS_AT_ONCE turns (overload.hashers). Same algorithms: stored hashes verify.
PASSWORD_HASHERS = [
    "overload.hashers.PBKDF2PasswordHasher",
    "overload.hashers.PBKDF2SHA1PasswordHasher",
    "overload.hashers.Argon2PasswordHasher",
    "overload.hashers.BCryptSHA256PasswordHasher",
    "overload.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# plain: one readable line per event (the default); json: one JSON object per line, with the
# process's instance and, while serving a WebSocket, its route and user id (observability.logs).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    problems.add(f"LOG_FORMAT={LOG_FORMAT!r}: set it to plain (the default) or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Adds instance/route/user_id and filters anything credential-shaped out of every line.
    "filters": {"context": {"()": "observability.logs.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "observability.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    # No log line here carries a credential: rejections log the reason only, and daphne's
    # WebSocket access lines print the path without the query string (?ticket=, ?token=).
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Django's defaults give "django" a console handler of its own (while DEBUG) and
    # "django.server" its own handler and format: each line went out there and again through
    # root (runserver printed every line twice). Here they keep no handler and propagate to root.
    "loggers": {"django": {"handlers": []}, "django.server": {"handlers": [], "propagate": True}},
}

# --- Per-client limits ------------------------------------------------------------------
# DRF's throttles (login, tickets, health) and the admin's login limit count per client in
# the default cache. Per process (LocMemCache) a limit of 10/min was 10/min per HTTP worker and
# per daphne; so it lives in Redis when there is one (throttling.cache: one connection pool per
# process, and a Redis outage lets requests through instead of failing them), else in the
# database. A per-process cache is refused in production (check throttling.E001).
if REDIS_URL:
    CACHES["default"] = {
        "BACKEND": "throttling.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cache",
        # A stalled Redis holds a throttled request this long at most (redis-py waits forever).
        "OPTIONS": {"socket_timeout": 1.0, "socket_connect_timeout": 1.0},
    }
else:
    CACHES["default"] = {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "shared_cache"}

# --- The admin ----------------------------------------------------------------------------
# Where the admin lives: a path of your own keeps it out of scripted scans of /admin/.
ADMIN_URL = env.str("ADMIN_URL", default="admin/")
if not re.fullmatch(r"([A-Za-z0-9._~-]+/)+", ADMIN_URL) or ADMIN_URL.startswith(("api/", "ws/", "static/")):
    problems.add(
        f"ADMIN_URL={ADMIN_URL!r} is not a usable path: give one or more segments of letters, digits, "
        "'.', '_', '~' or '-', each ending with '/', without a leading '/' and outside api/, ws/ and "
        "static/ (e.g. ADMIN_URL=control-room-5f2c/)."
    )
# django-axes: ADMIN_LOGIN_FAILURE_LIMIT failed logins for one username from one address lock that
# pair out of the admin for ADMIN_LOGIN_LOCKOUT_SECONDS (HTTP 429). Counted in the shared cache
# (Redis in production), so every process sees every attempt; the API's login has its throttle.
AUTHENTICATION_BACKENDS = [
    "throttling.backends.AdminLoginLimitBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env.bool("ADMIN_LOGIN_LIMIT", default=True)
AXES_ONLY_ADMIN_SITE = True
AXES_HANDLER = "throttling.backends.AdminOnlyCacheHandler"
AXES_CACHE = "default"
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(seconds=env.int("ADMIN_LOGIN_LOCKOUT_SECONDS", default=900))
# Username and address together: a wrong password from elsewhere never locks the real admin out.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "throttling.backends.client_address"
AXES_ENABLE_ADMIN = False  # its admin pages list database records; the cache handler keeps none
AXES_VERBOSE = False  # no start-up banner in every process's log

# Seconds each check of the deep health report may take (health.checks): past it the check says
# fail and why, instead of the report waiting for a stalled database or Redis.
HEALTH_CHECK_TIMEOUT = env.float("HEALTH_CHECK_TIMEOUT", default=2.0)
if HEALTH_CHECK_TIMEOUT is not None and HEALTH_CHECK_TIMEOUT <= 0:
    problems.add(f"HEALTH_CHECK_TIMEOUT={HEALTH_CHECK_TIMEOUT}: give seconds above 0, or unset it for the default.")

# --- Monitoring access --------------------------------------------------------------------
# Who may read the deep health report's details and /metrics (observability.access): these
# addresses, the bearer MONITORING_TOKEN, or staff. Loopback by default: probes on the server and
# the local stack. Empty on Render, whose proxy sets the client address from a header.
MONITORING_ALLOWED_IPS = env.list(
    "MONITORING_ALLOWED_IPS", default=[] if RENDER_EXTERNAL_HOSTNAME else ["127.0.0.0/8", "::1/128"]
)
for _cidr in MONITORING_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_cidr, strict=False)
    except ValueError:
        problems.add(
            f"MONITORING_ALLOWED_IPS: {_cidr!r} is not an address or network; give a comma-separated list "
            "such as 127.0.0.0/8,::1/128,10.0.0.5 (or leave it empty to allow none)."
        )
MONITORING_TOKEN = env.str("MONITORING_TOKEN", default="")
if MONITORING_TOKEN and len(MONITORING_TOKEN) < 32:
    problems.add(
        "MONITORING_TOKEN is shorter than 32 characters: generate one with "
        "python -c 'import secrets; print(secrets.token_urlsafe(32))'."
    )

# --- Observability (each off by default) --------------------------------------------------
# Prometheus metrics at /metrics (observability.metrics). With several processes on a host
# (gunicorn's workers, daphne instances), PROMETHEUS_MULTIPROC_DIR is a directory they share:
# any process then answers for all of them.
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=False)
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if METRICS_ENABLED:
    MIDDLEWARE.insert(0, "observability.middleware.HttpMetricsMiddleware")  # first: counts every answer
# One log line per WebSocket when it ends: route, user id, close code, who closed, duration.
WS_LOG_CONNECTIONS = env.bool("WS_LOG_CONNECTIONS", default=False)
# Errors to Sentry (observability.sentry), credentials filtered out of everything sent.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="production")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
if not 0.0 <= SENTRY_TRACES_SAMPLE_RATE <= 1.0:
    problems.add(f"SENTRY_TRACES_SAMPLE_RATE={SENTRY_TRACES_SAMPLE_RATE}: give a fraction from 0 to 1.")

# --- API schema (drf-spectacular) ---------------------------------------------------------
# /api/schema/ (OpenAPI 3) and /api/schema/docs/ (Swagger UI). Staff only unless public: the
# schema maps every endpoint and field, which production need not hand to everyone.
API_SCHEMA_PUBLIC = env.bool("API_SCHEMA_PUBLIC", default=False)
SPECTACULAR_SETTINGS = {
    "TITLE": "channels-stack HTTP API",
    "DESCRIPTION": (
        "Log in for a token, get one-time WebSocket tickets, chat history, notifications, announcements "
        "and the health report. WebSocket messages are described in the README (WebSocket protocol)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/",
    "SERVE_PERMISSIONS": ["apidocs.permissions.SchemaAccess"],  # reads API_SCHEMA_PUBLIC
    # The Swagger page's scripts, styles and icon come from drf-spectacular-sidecar's static files:
    # a version pinned in the lock, served by us, no third party in the page, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Swagger UI's default shows a badge from validator.swagger.io, to which every reader's browser
    # would send the schema's URL (it skips only localhost): off.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}
