"""The token store's cache backend: Django's DatabaseCache, except that a full table never costs
a valid credential.

Django's DatabaseCache culls on a write once the table holds more than MAX_ENTRIES rows: it
deletes the expired rows, and if that is not enough, a third of the rest (CULL_FREQUENCY), live
ones included (or the whole table with CULL_FREQUENCY=0). For a cache that is fine; for tokens
it logged users out at random (with MAX_ENTRIES=10, two more logins left 8 of 10 valid tokens
working). Here MAX_ENTRIES is the size past which each write also deletes up to CULL_BATCH
expired rows; live rows are never deleted, so the write always succeeds and the table may grow
past MAX_ENTRIES when that many credentials are valid. CULL_FREQUENCY is ignored. Expired rows
are removed by the scheduled clean-up (`manage.py clear_expired_tokens`); the health report and
the metric `token_store_entries` show the table's size, and warn past TOKEN_CACHE_WARN_ENTRIES.
"""

from dataclasses import dataclass

from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router
from django.utils.timezone import now as tz_now

# Django's private names this backend uses: one place, and
# tests/test_django_internals.py fails loudly when an upgrade removes or changes one.
#   DatabaseCache._cull(self, db, cursor, now, num): what DatabaseCache._base_set calls, inside
#       a write, when the table holds more than MAX_ENTRIES rows. Overridden below.
#   BaseCache._max_entries: MAX_ENTRIES as the backend read it from OPTIONS.
#   BaseDatabaseCache._table: the table's name (LOCATION).
#   BaseDatabaseCache.cache_model_class: the stand-in model the database router is asked about
#       (public name, undocumented).
DJANGO_PRIVATE_METHODS = {"_cull": ("self", "db", "cursor", "now", "num")}
DJANGO_PRIVATE_ATTRIBUTES = ("_max_entries", "_table", "cache_model_class")

# Expired rows one write deletes at most once the table is past MAX_ENTRIES: a write stays quick
# however many expired rows wait; the scheduled clean-up takes the rest.
CULL_BATCH = 500


@dataclass(frozen=True)
class EntryCounts:
    live: int
    expired: int

    @property
    def total(self):
        return self.live + self.expired


class TokenDatabaseCache(DatabaseCache):
    """DatabaseCache whose culling deletes expired rows only (see the module's docstring)."""

    @property
    def max_entries(self):
        return self._max_entries

    @property
    def table(self):
        return self._table

    def _cull(self, db, cursor, now, num):
        # Replaces Django's, which deletes live rows too (or clears the table) when deleting the
        # expired ones leaves more than MAX_ENTRIES. Runs on the write's own cursor.
        self._delete_expired_batch(connections[db], cursor, now, CULL_BATCH)

    def _delete_expired_batch(self, connection, cursor, now, limit):
        """Delete up to `limit` rows that expired before `now`: (rows found, rows deleted). Fewer
        deleted than found when another process (a second host's clean-up) got there first.

        Two statements instead of DELETE ... WHERE key IN (SELECT ... LIMIT n), which MySQL
        refuses. The DELETE repeats the expiry condition: a row set again in between (add() over
        an expired key rewrites it) is live by then and stays."""
        quote = connection.ops.quote_name
        table, key, expires = quote(self._table), quote("cache_key"), quote("expires")
        limit = self._batch_limit(connection, limit)
        cutoff = connection.ops.adapt_datetimefield_value(now)
        # S608: only names quoted by the database backend and an integer are formatted in, as
        # Django's DatabaseCache does; every value is a parameter.
        cursor.execute(
            f"SELECT {key} FROM {table} WHERE {expires} < %s ORDER BY {expires} "  # noqa: S608
            f"{connection.ops.limit_offset_sql(0, limit)}",
            [cutoff],
        )
        keys = [row[0] for row in cursor.fetchall()]
        if not keys:
            return 0, 0
        placeholders = ", ".join(["%s"] * len(keys))
        delete = f"DELETE FROM {table} WHERE {key} IN ({placeholders}) AND {expires} < %s"  # noqa: S608
        cursor.execute(delete, [*keys, cutoff])
        return len(keys), cursor.rowcount

    @staticmethod
    def _batch_limit(connection, limit):
        """`limit`, or fewer where the database takes fewer query parameters (SQLite: 999)."""
        max_params = connection.features.max_query_params
        return min(limit, max_params - 1) if max_params else limit

    def delete_expired(self, batch_size=1000):
        """Delete every row expired by now, `batch_size` rows per statement (each its own short
        transaction in autocommit, so logins are never held up for long); the number deleted.
        Rows that expire while it runs are left for the next run, so it always ends."""
        if batch_size < 1:
            raise ValueError("batch_size must be 1 or more")
        connection = connections[router.db_for_write(self.cache_model_class)]
        limit = self._batch_limit(connection, batch_size)
        now = tz_now()
        deleted = 0
        with connection.cursor() as cursor:
            while True:
                found, removed = self._delete_expired_batch(connection, cursor, now, limit)
                deleted += removed
                if found < limit:  # a batch that was not full was the last
                    return deleted

    def entry_counts(self):
        """Live and expired rows of the table, in one query."""
        connection = connections[router.db_for_read(self.cache_model_class)]
        quote = connection.ops.quote_name
        expires = quote("expires")
        cutoff = connection.ops.adapt_datetimefield_value(tz_now())
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN {expires} < %s THEN 1 ELSE 0 END), 0) "  # noqa: S608
                f"FROM {quote(self._table)}",
                [cutoff],
            )
            total, expired = cursor.fetchone()
        return EntryCounts(live=int(total) - int(expired), expired=int(expired))
