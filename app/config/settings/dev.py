"""Local development: `make run`. SQLite, in-memory channel layer unless REDIS_URL is set."""

from .base import *  # noqa: F403
from .base import env, problems
from .refusals import DEV_SECRET_KEY

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# A fixed dev key is fine here: production refuses it (and any weak one) and wants its own.
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
# The API schema and its Swagger page are open while developing (staff only in production).
API_SCHEMA_PUBLIC = env.bool("API_SCHEMA_PUBLIC", default=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# base.py's problems (a bad ADMIN_URL, LOG_FORMAT, a number that is not one...), all at once.
problems.raise_if_any(__name__)
