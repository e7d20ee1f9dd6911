"""`manage.py migrate` also creates the DatabaseCache table the token store lives in."""

from django.core.management import call_command


def create_cache_tables(sender, using, **kwargs):
    """post_migrate: create the cache tables in the database just migrated (`using`), so no
    separate createcachetable step can be forgotten. createcachetable skips existing tables."""
    call_command("createcachetable", database=using, verbosity=0)
