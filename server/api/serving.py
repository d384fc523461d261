"""How ``fpe serve`` runs uvicorn: its HTTP protocol with two guards uvicorn lacks.

- **Header timeout.** uvicorn has none: a client sending one header line every few seconds
  kept its connection (and a file descriptor) for ever, and 20,000 of them exhausted the
  process's descriptors.  A timer armed when a request is awaited (the connection opens,
  a request begins, or bytes arrive between requests) closes the connection unless the
  request's headers are complete within ``FPE_HEADER_TIMEOUT`` seconds; trickling bytes
  does not re-arm it.  Idle keep-alive connections stay uvicorn's (``timeout_keep_alive``).
- **Connection cap.** ``limit_concurrency`` answers 503 only once a request's headers are
  complete, so connections that never complete them are not counted against it.  Here a
  connection opened while ``FPE_MAX_CONNECTIONS`` are open (WebSockets included) gets a
  503 at once and is closed, and a warning says the limit was reached.

Both subclass uvicorn's httptools protocol (its default whenever httptools is installed).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import resource
import time
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from server.base.config import Settings

__all__ = ["ConnectionLimits", "GuardedHttpProtocol", "connection_limits", "uvicorn_options"]

log = logging.getLogger("fpe.serve")

FD_RESERVE = 200
"""File descriptors kept free under the connection cap: database and Redis connections,
log and static files, the listening sockets."""


def _plain(status: str, text: str, *headers: str) -> bytes:
    """A whole HTTP answer written straight to the transport, closing the connection."""
    body = text.encode()
    head = [
        f"HTTP/1.1 {status}",
        "content-type: text/plain; charset=utf-8",
        f"content-length: {len(body)}",
        *headers,
        "connection: close",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


_FULL = _plain("503 Service Unavailable", "too many open connections: retry\n", "retry-after: 5")
_TOO_SLOW = _plain("408 Request Timeout", "the request headers did not arrive in time\n")


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float
    max_connections: int


class _Throttled:
    """A warning for an event that can repeat thousands of times a second: the first at
    once, then at most one per ``every`` seconds, counting the events in between."""

    def __init__(self, message: str, every: float = 10.0) -> None:
        self.message = message
        self.every = every
        self.count = 0
        self.last = -float("inf")

    def __call__(self, *args: Any) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.last >= self.every:
            if self.count == 1:
                log.warning(self.message, *args)
            else:
                log.warning(self.message + " (%d times since the last line)", *args, self.count)
            self.count, self.last = 0, now


_limit_reached = _Throttled(
    "connection limit reached: %d connections are open (FPE_MAX_CONNECTIONS); new ones get "
    "503 and are closed"
)
_headers_too_slow = _Throttled(
    "closed a connection whose request headers were not complete within %.1f s (FPE_HEADER_TIMEOUT)"
)


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header timeout and a connection cap."""

    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self._header_timer: asyncio.TimerHandle | None = None
        self._between_requests = True  # no request started since the last one ended
        self._received = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        full = len(self.connections) >= self.limits.max_connections
        super().connection_made(transport)
        if full:
            _limit_reached(len(self.connections) - 1)
            transport.write(_FULL)
            transport.close()  # no more reading: connection_lost follows
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._received = True
        if self._between_requests:  # bytes before a request line (blank lines) count too
            self._arm()
        super().data_received(data)

    def on_message_begin(self) -> None:
        self._arm()  # also for a pipelined request that began in an earlier packet
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._between_requests = False
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._between_requests = True
        super().on_message_complete()

    def _arm(self) -> None:
        if self._header_timer is None:  # never re-armed: trickling bytes buys no time
            self._header_timer = self.loop.call_later(
                self.limits.header_timeout, self._headers_timed_out
            )

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        _headers_too_slow(self.limits.header_timeout)
        if self._received:  # a client that sent nothing (a browser's preconnect) gets no answer
            self.transport.write(_TOO_SLOW)
        self.transport.close()


def connection_limits(settings: Settings) -> ConnectionLimits:
    """The configured limits; the cap is lowered (with a warning) to what the process's
    file-descriptor limit leaves room for."""
    cap = settings.max_connections
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and cap > soft - FD_RESERVE:
        lowered = max(soft - FD_RESERVE, 2)
        log.warning(
            "FPE_MAX_CONNECTIONS=%d is more than the open-file limit (%d) allows: %d connections",
            cap,
            soft,
            lowered,
        )
        cap = lowered
    return ConnectionLimits(header_timeout=settings.header_timeout, max_connections=cap)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The options ``fpe serve`` adds to ``uvicorn.run``: the guarded protocol, with its
    limits bound (a partial pickles, so ``--workers N`` processes get them too)."""
    protocol = functools.partial(GuardedHttpProtocol, limits=connection_limits(settings))
    return {"http": protocol}
