"""`manage.py clear_expired_tokens`: delete the token store's expired rows.

Run on a schedule: the systemd timer <app>-token-cleanup.timer (rendered from systemd/), the
compose service token-cleanup (`--every`), a Render cron job. Idempotent, and safe while the
site serves and while another host runs it too: a row that is live is never touched.
"""

import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections

from tokens.cache import TokenDatabaseCache
from tokens.store import token_cache

# A pass that failed in --every mode (the database not up yet, migrations not applied) is tried
# again after this many seconds at most, not a whole interval later.
RETRY_SECONDS = 60


class Command(BaseCommand):
    help = (
        "Delete the expired tokens and tickets from the token store's table, in batches, and say how many. "
        "Live ones are never touched. Exit 0; with --every, run again every SECONDS until stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000,
                            help="Rows per DELETE (each a short transaction of its own). Default 1000.")
        parser.add_argument("--every", type=float, metavar="SECONDS",
                            help="Keep running: a pass now, then one every SECONDS (a container without a "
                            "timer). SIGTERM or SIGINT ends it with exit 0.")

    def handle(self, *args, batch_size, every, **options):
        problems = []
        if batch_size < 1:
            problems.append(f"--batch-size {batch_size}: give 1 or more")
        if every is not None and every <= 0:
            problems.append(f"--every {every:g}: give a number of seconds above 0")
        if problems:
            raise CommandError("; ".join(problems))
        cache = token_cache()
        if not isinstance(cache, TokenDatabaseCache):
            backend = f"{type(cache).__module__}.{type(cache).__qualname__}"
            self.stdout.write(f"clear_expired_tokens: the token cache is {backend}, not "
                              "tokens.cache.TokenDatabaseCache: nothing to clean here.")
            return
        if every is None:
            try:
                self.clean(cache, batch_size)
            except DatabaseError as error:
                raise CommandError(self.advice(cache, error)) from None
            return
        self.run_every(cache, batch_size, every)

    def clean(self, cache, batch_size):
        removed = cache.delete_expired(batch_size=batch_size)
        counts = cache.entry_counts()
        self.stdout.write(f"clear_expired_tokens: removed {removed} expired entries from {cache.table}; "
                          f"{counts.live} live remain.")
        self.stdout.flush()  # a container's log shows each pass as it happens, not at exit

    @staticmethod
    def advice(cache, error):
        return (f"the token store's table {cache.table} cannot be cleaned ({type(error).__name__}: {error}). "
                "Check that the database answers (DATABASE_URL) and run `manage.py migrate`, which creates the table.")

    def run_every(self, cache, batch_size, every):
        # A container's PID 1 gets no default SIGTERM handler: without one `docker stop` waits
        # for its grace period and kills.
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        while not stop.is_set():
            wait = every
            try:
                self.clean(cache, batch_size)
            except DatabaseError as error:
                self.stderr.write(f"clear_expired_tokens: {self.advice(cache, error)} Trying again in "
                                  f"{min(every, RETRY_SECONDS):g} s.")
                wait = min(every, RETRY_SECONDS)
            finally:
                # A fresh connection each pass: one held for an hour may be dead by the next.
                connections.close_all()
            stop.wait(wait)
        self.stdout.write("clear_expired_tokens: stopped.")
