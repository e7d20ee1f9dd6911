import asyncio
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from health import checks


def unapplied_migrations():
    connection = connections["default"]
    executor = MigrationExecutor(connection)
    return executor.migration_plan(executor.loader.graph.leaf_nodes())


class Command(BaseCommand):
    help = (
        "Wait until the database and Redis answer (and, with --migrations, until every migration is "
        "applied), then exit 0. A container runs this before its server: podman-compose does not wait "
        "for healthy dependencies, and a server started too early fails its first requests."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=120.0, help="Give up after this many seconds (exit 1).")
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between two attempts.")
        parser.add_argument("--migrations", action="store_true",
                            help="Also wait until `manage.py migrate` has applied every migration.")

    def handle(self, *args, **options):
        deadline = time.monotonic() + options["timeout"]
        last_reported = None
        while True:
            waiting = self.waiting_for(options["migrations"])
            if not waiting:
                done = ", migrations applied" if options["migrations"] else ""
                self.stdout.write(f"waitfor: database and Redis answer{done}")
                return
            if waiting != last_reported:
                self.stderr.write(f"waitfor: waiting for {waiting}")
                last_reported = waiting
            if time.monotonic() >= deadline:
                raise CommandError(f"gave up after {options['timeout']:.0f} s waiting for {waiting}")
            time.sleep(options["interval"])

    def waiting_for(self, migrations):
        """What is not ready yet, in words (with the probe's advice), or "" when all is."""
        # check_redis is "degraded", not "fail", without REDIS_URL (the in-memory layer).
        for check in (checks.check_database(), asyncio.run(checks.check_redis())):
            if check.status == checks.FAIL:
                connections.close_all()
                return f"{check.name} ({check.detail.get('error', '')}): {check.recommendation}"
        if migrations:
            plan = unapplied_migrations()
            if plan:
                return f"{len(plan)} unapplied migrations (the migrate job runs them: `manage.py migrate`)"
        return ""
