from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.compatibility)
def check_metrics_cover_every_process(app_configs, **kwargs):
    if settings.METRICS_ENABLED and not settings.PROMETHEUS_MULTIPROC_DIR and not settings.DEBUG:
        return [
            Warning(
                "METRICS_ENABLED without PROMETHEUS_MULTIPROC_DIR: each scrape of /metrics answers for the one "
                "process it reaches (one gunicorn worker, one daphne).",
                hint="Set PROMETHEUS_MULTIPROC_DIR to a directory every app process of the host shares, e.g. "
                "/run/channels-stack/metrics; with a single process this warning can be silenced "
                "(SILENCED_SYSTEM_CHECKS).",
                id="observability.W001",
            )
        ]
    return []
