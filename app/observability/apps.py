import os

from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class ObservabilityConfig(AppConfig):
    name = "observability"
    verbose_name = "Metrics, structured logs, error reports, and who may read them"

    def ready(self):
        from . import checks  # noqa: F401  (registers system checks)

        if settings.METRICS_ENABLED and settings.PROMETHEUS_MULTIPROC_DIR:
            prepare_multiprocess_dir(settings.PROMETHEUS_MULTIPROC_DIR)
        if settings.SENTRY_DSN:
            from . import sentry

            sentry.init()


def prepare_multiprocess_dir(directory):
    # prometheus_client reads the variable itself when first imported: a value from settings or
    # app/.env is handed on before that.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", directory)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as error:
        raise ImproperlyConfigured(
            f"PROMETHEUS_MULTIPROC_DIR={directory!r} cannot be created ({error.strerror}): give a directory "
            "every app process may write, e.g. under the socket directory /run/<app>/metrics."
        ) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ImproperlyConfigured(
            f"PROMETHEUS_MULTIPROC_DIR={directory!r} is not writable by this process (uid {os.getuid()}): every "
            "app process writes its values there."
        )
    from prometheus_client import multiprocess

    # A process that had this pid before left its open-socket gauge here: this one starts at 0.
    multiprocess.mark_process_dead(os.getpid(), directory)
