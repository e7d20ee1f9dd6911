"""Settings modules: ``base`` holds the shared settings and reads most of the environment; the
others pick a profile (``dev`` and ``production`` also read the few variables whose defaults or
rules differ by profile).

``dev`` (manage.py's default), ``production`` (asgi.py's default), ``test`` (pytest).
"""
