"""Settings problems, collected and reported together instead of one per start.

Every profile reads the environment through ``env`` (a ``CheckedEnv``) and records what is wrong
in ``problems`` instead of raising at the first: an operator sees every problem of a start in one
report, each with its fix, rather than fixing one, restarting and meeting the next. A value that
does not parse (``DB_POOL_MAX_SIZE=abc``) is one of them, not a traceback. A profile ends with
``problems.raise_if_any(__name__)``; manage.py and config/asgi.py print the report and exit.
"""

import ipaddress
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

# dev.py's key: fine on a laptop, published in this repository, so refused in production.
DEV_SECRET_KEY = "dev-only-insecure-key-never-used-in-production"
# Render's generateValue gives a 256-bit base64 value (43-44 characters): strong, so the bar sits
# just below it; anything typed by hand (SECRET_KEY=abc, changeme, a word) stays far under it.
SECRET_KEY_MIN_LENGTH = 40
SECRET_KEY_MIN_UNIQUE = 10
GENERATE_SECRET_KEY = "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"
REDIS_SCHEMES = ("redis", "rediss", "unix")
CAST_WORDS = {int: "a whole number", float: "a number", bool: "true or false"}
# What environ reads as false; anything else that is not one of its true strings is a typo
# (DJANGO_DEBUG=ture), which environ would silently read as false.
FALSE_STRINGS = ("false", "off", "no", "n", "0", "")
# manage.py exits 2 (a usage error, as argparse does); the servers exit 4, gunicorn's "App failed
# to load", so gunicorn stops instead of restarting its workers forever.
MANAGE_EXIT_STATUS = 2
SERVER_EXIT_STATUS = 4


class SettingsRefused(ImproperlyConfigured):
    """Every problem found in the settings, as one message."""

    def __init__(self, module, problems):
        self.module = module
        self.problems = list(problems)
        count = f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(
            f"The settings ({module}) are refused, {count} to fix in the environment (or the service's "
            f"EnvironmentFile, app.env) before anything starts:\n{lines}"
        )


class Problems:
    def __init__(self):
        # An ordered set: Django imports a settings module that failed a second time (to report it),
        # which would otherwise list each problem of the profile twice.
        self._found = {}

    def add(self, problem):
        self._found[problem] = None

    def __bool__(self):
        return bool(self._found)

    def __iter__(self):
        return iter(self._found)

    def raise_if_any(self, module):
        if self._found:
            raise SettingsRefused(module, self._found)


class CheckedEnv(environ.Env):
    """environ.Env whose unreadable values become problems (and the default meanwhile)."""

    def __init__(self, problems, **scheme):
        super().__init__(**scheme)
        self.problems = problems

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        fallback = None if default is self.NOTSET else default
        raw = self.ENVIRON.get(var)
        if cast is bool and raw is not None and raw.strip().lower() not in (*self.BOOLEAN_TRUE_STRINGS, *FALSE_STRINGS):
            self.problems.add(f"{var}={raw!r} is not true or false: give {var}=true or {var}=false.")
            return fallback
        try:
            return super().get_value(var, cast=cast, default=default, parse_default=parse_default)
        except (ValueError, TypeError) as error:
            words = CAST_WORDS.get(cast)
            if words is None:  # not a number or a flag: the value may be a secret, never echo it
                self.problems.add(f"{var} cannot be read ({type(error).__name__}): check its value.")
            else:
                example = f" such as {var}={default}" if default is not self.NOTSET else ""
                self.problems.add(f"{var}={raw!r} is not {words}: give one{example}, or unset it for the default.")
            return fallback
        except ImproperlyConfigured as error:  # a $NAME reference to a variable that is not set
            self.problems.add(f"{var}: {error}.")
            return fallback


def without_password(url):
    """url with everything between its scheme and its last '@' hidden, so a problem never prints
    a password (whatever characters it holds)."""
    if "@" not in url:
        return url
    scheme = url.split("://", 1)[0] + "://" if "://" in url else ""
    return f"{scheme}***@{url.rsplit('@', 1)[1]}"


def check_redis_url(problems, url):
    scheme = urlsplit(url).scheme if "://" in url else ""
    if scheme not in REDIS_SCHEMES:
        problems.add(
            f"REDIS_URL ({without_password(url)!r}) must start with redis://, rediss:// or unix://: e.g. "
            "REDIS_URL=redis://:PASSWORD@127.0.0.1:6379/0 (or unix:///run/redis/redis.sock)."
        )


def check_database_url(problems, url):
    """A URL django-environ knows; returns the engine's settings dict or None."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in environ.Env.DB_SCHEMES:
        problems.add(
            f"DATABASE_URL ({without_password(url)!r}) is not a database URL this project can use: give "
            "DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/NAME (or sqlite:////path/to/db.sqlite3)."
        )
        return None
    try:
        return environ.Env.db_url_config(url)
    except (ValueError, KeyError):
        # environ's message can quote a piece of the password: say where to look instead.
        problems.add(
            f"DATABASE_URL ({without_password(url)!r}) cannot be read: check the port is a number and the "
            "password is URL-encoded (python3 -c 'import urllib.parse; print(urllib.parse.quote(input(), safe=\"\"))')."
        )
        return None


def check_secret_key(problems, key):
    """The production rules for SECRET_KEY; never prints the key."""
    if not key:
        problems.add(
            "SECRET_KEY is not set. Production needs a long random secret key; generate one with: "
            f"{GENERATE_SECRET_KEY} and set SECRET_KEY=<that value>."
        )
        return
    why = []
    if key == DEV_SECRET_KEY:
        why.append("it is the development key from config/settings/dev.py, published with the code")
    elif key.startswith("django-insecure-"):
        why.append("it is Django's startproject placeholder (django-insecure-...)")
    if len(key) < SECRET_KEY_MIN_LENGTH:
        why.append(f"it is {len(key)} characters long, fewer than {SECRET_KEY_MIN_LENGTH}")
    if len(set(key)) < SECRET_KEY_MIN_UNIQUE:
        why.append(f"it has {len(set(key))} different characters, fewer than {SECRET_KEY_MIN_UNIQUE}")
    if why:
        problems.add(f"SECRET_KEY is weak ({'; '.join(why)}): generate one with: {GENERATE_SECRET_KEY}.")


def host_problem(host):
    """Why an ALLOWED_HOSTS entry can never match a request, or None. Django compares it with the
    request's host without its port, so a scheme, a path or a port make it dead."""
    if "://" in host:
        return f"{host!r} has a scheme: give the bare name ({urlsplit(host).hostname or 'chat.example.org'})"
    if "/" in host:
        return f"{host!r} has a path: give the bare name ({host.split('/', 1)[0]})"
    if host.startswith("["):
        return None if host.endswith("]") else f"{host!r} has a port: give the address alone ({host.rsplit(':', 1)[0]})"
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"{host!r} has a port: give the name alone ({host.rsplit(':', 1)[0]})"
        return f"{host!r} is an IPv6 address: write it in brackets ([{host}])"
    return None


def check_allowed_hosts(problems, hosts):
    if not hosts:
        problems.add(
            "ALLOWED_HOSTS is empty, so every request and WebSocket handshake would be refused. "
            "Set ALLOWED_HOSTS=example.com (comma-separated for several)."
        )
    for host in hosts:
        problem = host_problem(host)
        if problem:
            problems.add(f"ALLOWED_HOSTS: {problem}.")


def check_csrf_trusted_origins(problems, origins):
    for origin in origins:
        if not origin.startswith(("https://", "http://")) or not urlsplit(origin).netloc:
            problems.add(
                f"CSRF_TRUSTED_ORIGINS: {origin!r} needs its scheme: give the origin as the browser sends "
                "it, e.g. CSRF_TRUSTED_ORIGINS=https://chat.example.org (with :PORT when not 443 or 80)."
            )
