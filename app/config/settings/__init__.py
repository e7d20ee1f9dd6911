"""Settings modules: ``base`` reads the environment; the others pick a profile.

``dev`` (manage.py's default), ``production`` (asgi.py's default), ``test`` (pytest).
"""
