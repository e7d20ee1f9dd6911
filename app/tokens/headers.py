"""The `Authorization` header, read the same way over HTTP (authentication.py, DRF) and over
WebSocket (wsauth.backends.AuthorizationHeaderBackend): `Token <credential>` or
`Bearer <credential>`, the keyword in any case, separated by ASCII whitespace."""

AUTHORIZATION_KEYWORDS = ("token", "bearer")


class MalformedAuthorization(ValueError):
    """The header names Token or Bearer but does not carry exactly one credential."""


def credential_from_authorization(header):
    """The credential in an Authorization header value (bytes, as the header arrives).

    None when the header is empty or names another scheme (Basic, ...).
    Raises MalformedAuthorization for `Token`, `Bearer a b` and the like.
    The credential is returned as text, decoded as latin-1 like every header value.
    """
    parts = header.split()
    if not parts or parts[0].decode("latin1").lower() not in AUTHORIZATION_KEYWORDS:
        return None
    if len(parts) != 2:
        raise MalformedAuthorization(f"expected '<keyword> <credential>', got {len(parts)} parts")
    return parts[1].decode("latin1")
