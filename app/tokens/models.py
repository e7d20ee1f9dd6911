"""No models: the tokens live in a DatabaseCache table (see store.py).

This module exists because Django sends post_migrate only for apps with a models module,
and tokens.signals.create_cache_tables listens for this app's post_migrate.
"""
