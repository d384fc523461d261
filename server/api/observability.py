"""Health, readiness, Prometheus metrics and logs: JSON lines for machines, plain lines for
people (on a terminal, or ``FPE_LOG_FORMAT=text``).

Several server processes (``fpe serve --workers N``) log alike, because uvicorn applies
:func:`logging_config` in each of them, and ``/metrics`` answers the sum over all of them
with prometheus-client's multiprocess mode (:func:`multiprocess_metrics`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import logging.config
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "MULTIPROC_ENV",
    "JsonFormatter",
    "RequestMetrics",
    "TextFormatter",
    "configure_logging",
    "healthz",
    "json_logs",
    "logging_config",
    "mark_process_dead",
    "metrics",
    "multiprocess_metrics",
    "readyz",
    "routes",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

access_log = logging.getLogger("fpe.access")
# metric label values are bounded: any other method (h11 accepts any token) is "other"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
log = logging.getLogger(__name__)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, process id, message, extra fields,
    exception."""

    _STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in self._STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """One line for a person: local time (``2025-11-26 19:03:02,123``), level, logger,
    message, then the extra fields the message does not already show (``run=3
    phase=fit``), then any traceback."""

    _STANDARD = JsonFormatter._STANDARD
    _SHOWN = frozenset({"method", "path", "status", "duration_ms"})  # in the access line

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self.formatTime(record)} {record.levelname} {record.name}: {record.getMessage()}"
        extra = {
            k: v
            for k, v in vars(record).items()
            if k not in self._STANDARD and not (record.name == access_log.name and k in self._SHOWN)
        }
        if extra:
            line += "  " + " ".join(f"{k}={v}" for k, v in extra.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def json_logs(json_lines: bool | None, stream: Any = None) -> bool:
    """JSON when asked (``True``), text when asked (``False``); otherwise (``None``) text on
    a terminal and JSON when the output goes to a file, a pipe or a log collector."""
    if json_lines is not None:
        return json_lines
    stream = sys.stderr if stream is None else stream
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):  # no stream, or a closed one
        return True


def logging_config(level: str = "info", json_lines: bool | None = None) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of every process: one stderr handler on the root
    logger, JSON lines or lines for people (:func:`json_logs`; ``FPE_LOG_FORMAT``).
    uvicorn's loggers propagate to it; its access log is off because
    :class:`RequestMetrics` writes the access lines."""
    name = "JsonFormatter" if json_logs(json_lines) else "TextFormatter"
    formatter: dict[str, Any] = {"()": f"server.api.observability.{name}"}
    uvicorn = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            "uvicorn": uvicorn,
            "uvicorn.error": uvicorn,
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }


def configure_logging(level: str = "info", json_lines: bool | None = None) -> None:
    """Logs of ``fpe serve`` and ``fpe worker``; see :func:`logging_config`."""
    logging.config.dictConfig(logging_config(level, json_lines))


@contextlib.contextmanager
def multiprocess_metrics(processes: int) -> Iterator[None]:
    """For several server processes: a fresh ``PROMETHEUS_MULTIPROC_DIR``, inherited by the
    processes started inside the block and removed afterwards, so that ``/metrics`` adds
    up every process (also those that exited) and its counters never go backwards.  One
    process, or a directory already set by the deployment, is left as it is."""
    if processes < 2 or os.environ.get(MULTIPROC_ENV):
        yield
        return
    path = tempfile.mkdtemp(prefix="fpe-metrics-")
    os.environ[MULTIPROC_ENV] = path
    try:
        yield
    finally:
        del os.environ[MULTIPROC_ENV]
        shutil.rmtree(path, ignore_errors=True)


def mark_process_dead() -> None:
    """At a server process's exit: drop its live gauges from the multiprocess totals."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(os.getpid())


class RequestMetrics:
    """ASGI middleware: request count and latency per route template and status, and one
    access log line per request."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "fpe_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "fpe_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=registry,
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.websockets = Counter(
            "fpe_websocket_connections_total", "WebSocket connections", ["route"], registry=registry
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route(scope)
            elapsed = time.perf_counter() - start
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self.requests.labels(method, route, str(status)).inc()
            self.latency.labels(method, route).observe(elapsed)
            duration_ms = round(1000 * elapsed, 2)
            access_log.info(
                "%s %s %d %.2f ms",
                scope["method"],
                scope["path"],
                status,
                duration_ms,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": duration_ms,
                },
            )

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Counted by route template once the router has matched (or refused) it: at the
        first message sent (accept, close or a denial), else when the app returns.  The
        raw path would make a series per junk path."""
        counted = False

        def count() -> None:
            nonlocal counted
            if not counted:
                counted = True
                self.websockets.labels(_route(scope)).inc()

        async def send_wrapper(message: Message) -> None:
            count()
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            count()


def _route(scope: Scope) -> str:
    """The matched route's template (bounded label values), not the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return path
    return "/static" if scope["path"].startswith("/static/") else "unmatched"


async def healthz(request: Request) -> JSONResponse:
    """The process is up."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """The database (and Redis, when configured) answer; 503 with the reason otherwise."""
    services = request.app.state.services
    checks: dict[str, str] = {}
    try:
        async with services.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # the detail (hosts, ports) goes to the log, not to readers
        log.warning("readiness: database unavailable: %s: %s", type(exc).__name__, exc)
        checks["database"] = f"error: {type(exc).__name__}"
    if services.settings.redis_url:
        try:
            await services.queue.check()
            checks["redis"] = "ok"
        except Exception as exc:
            log.warning("readiness: redis unavailable: %s: %s", type(exc).__name__, exc)
            checks["redis"] = f"error: {type(exc).__name__}"
    else:
        checks["redis"] = "not configured (in-process training)"
    ready = all(v == "ok" or v.startswith("not configured") for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", **checks}, status_code=200 if ready else 503
    )


def _exposition(registry: CollectorRegistry) -> bytes:
    if os.environ.get(MULTIPROC_ENV):  # every process's numbers, from their files
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)


async def metrics(request: Request) -> Response:
    body = await asyncio.to_thread(_exposition, request.app.state.metrics_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
