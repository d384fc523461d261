"""The bearer token: parsing an ``Authorization`` value and comparing it with the one
configured (``FPE_API_TOKEN``), for the REST shim, GraphQL over HTTP and WebSockets alike.

The scheme is matched case-insensitively (``Bearer``, ``bearer``: RFC 9110 section 11.1); a
raw token sent without the scheme is refused. Any text compares safely: a non-ASCII token is
a wrong token, not an error.
"""

from __future__ import annotations

import hmac

__all__ = ["bearer_token", "token_matches"]


def bearer_token(authorization: str | None) -> str | None:
    """The token of ``Bearer <token>`` (any case of the scheme); None for anything else."""
    if not isinstance(authorization, str):
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def token_matches(presented: str | None, required: str) -> bool:
    """Constant-time comparison of the presented token with the required one."""
    if presented is None:
        return False
    return hmac.compare_digest(
        presented.encode("utf-8", "surrogatepass"), required.encode("utf-8", "surrogatepass")
    )
