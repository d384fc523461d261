"""Cross-site request forgery on the REST shim's writes.

Without a token (the default) a page on any site could start a run with ``POST
/api/model/train`` sent as ``text/plain``, or switch the active model: such "simple"
requests need no CORS preflight, so the browser sends them and only hides the answer.
A write is therefore refused when

- its ``Origin`` is neither the server's own nor one of ``FPE_CORS_ORIGINS`` (403;
  browsers send ``Origin`` on every cross-site POST; the CLI and curl send none and pass);
- it has a body or a ``Content-Type`` that is not ``application/json`` (415): a browser
  sends JSON to another site only after a preflight, which CORS refuses for other origins.

GraphQL refuses those content types on its own.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse

from server.api.envelope import error

__all__ = ["cross_site_refusal", "origin_allowed"]

JSON = "application/json"


def origin_allowed(origin: str, host: str | None, allowed: tuple[str, ...]) -> bool:
    """True for the server's own origin (its host and port as the ``Host`` header names
    them), an origin in ``allowed`` or any origin when ``allowed`` has ``*``."""
    origin = origin.strip().rstrip("/").lower()
    if "*" in allowed or origin in {a.lower() for a in allowed}:
        return True
    netloc = urlsplit(origin).netloc if "://" in origin else ""
    return bool(netloc) and host is not None and netloc == host.strip().lower()


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    chunked = request.headers.get("transfer-encoding") is not None
    return chunked or (length is not None and length.strip() not in ("", "0"))


def cross_site_refusal(request: Request, allowed: tuple[str, ...]) -> JSONResponse | None:
    """The 403 or 415 for a write that a foreign page could have sent, else ``None``."""
    origin = request.headers.get("origin")
    if origin is not None and not origin_allowed(origin, request.headers.get("host"), allowed):
        return error(
            403,
            f"a page from {origin} may not change anything here: add its origin to "
            "FPE_CORS_ORIGINS to allow it",
            "FORBIDDEN",
        )
    content_type = request.headers.get("content-type")
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if (content_type is not None or _has_body(request)) and media != JSON:
        given = f"Content-Type {media!r}" if media else "no Content-Type"
        message = f"send the body as JSON with Content-Type: {JSON}, not {given}"
        return error(415, message, "UNSUPPORTED_MEDIA_TYPE")
    return None
