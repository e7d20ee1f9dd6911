"""What an HTTP request gets when the server cannot serve it now: 503 with Retry-After, not a 500
with a traceback (middleware), and password hashing that neither holds a database connection nor
runs more than a few at a time (hashers)."""
