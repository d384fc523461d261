"""A cap on request bodies, for every route: a body declared larger than the limit
(``Content-Length``) is refused before any of it is read, and a streamed (chunked) body is
refused as soon as what was read passes the limit.  Either way the answer is a 413 and the
connection is closed, so the rest of the body is never read.  Without it a 200 MB body was
read into memory in full before the route refused it (+350 MB per request)."""

from __future__ import annotations

import logging

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.api.envelope import error

__all__ = ["BodyLimit", "BodyTooLargeError"]

log = logging.getLogger(__name__)


class BodyTooLargeError(Exception):
    """Raised from ``receive`` when a streamed body passes the limit; :class:`BodyLimit`
    turns it into the 413 (it is no ``FPEError``, so no handler on the way maps it)."""


class BodyLimit:
    """ASGI middleware: at most ``max_bytes`` of request body per HTTP request."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await _refusal(scope, 400, f"Content-Length {declared!r} is not a number")(
                    scope, receive, send
                )
                return
            if int(declared) > self.max_bytes:
                await self._too_large(scope, receive, send, int(declared))
                return
        read = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self.max_bytes:
                    raise BodyTooLargeError
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLargeError:
            if started:  # the answer began before the body was read: only closing is left
                raise
            await self._too_large(scope, receive, send, None)

    async def _too_large(
        self, scope: Scope, receive: Receive, send: Send, declared: int | None
    ) -> None:
        body = "a streamed body" if declared is None else f"a body of {declared:,} bytes"
        log.warning("%s %s: %s refused (FPE_MAX_BODY_BYTES)", scope["method"], scope["path"], body)
        message = (
            f"the request body is larger than the limit of {self.max_bytes:,} bytes "
            "(FPE_MAX_BODY_BYTES)"
        )
        if declared is not None:
            message += f": Content-Length says {declared:,}"
        await _refusal(scope, 413, message)(scope, receive, send)


def _refusal(scope: Scope, status: int, message: str) -> JSONResponse:
    """The answer, in GraphQL's shape on ``/graphql`` and the REST shape elsewhere, with
    ``Connection: close`` so that the server reads no more of the body."""
    code = "PAYLOAD_TOO_LARGE" if status == 413 else "BAD_REQUEST"
    if scope["path"] == "/graphql":
        body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
        response = JSONResponse(body, status_code=status)
    else:
        response = error(status, message, code)
    response.headers["connection"] = "close"
    return response
