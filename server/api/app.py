"""The Starlette application: GraphQL (HTTP and WebSocket) with offline GraphiQL, the
legacy REST shim with its OpenAPI description (``/openapi.json``, ``/docs``) and static
files.  ``fpe serve`` runs it with uvicorn; without Redis it also runs training
in-process, so one command gives a working service."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio.to_thread
from cross_web import HTTPException
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from schema import build_schema
from schema.context import Context
from schema.loaders import Loaders
from server.api import datapages, jackpots, login, observability, openapi, rest
from server.api.bodylimit import BodyLimit
from server.api.envelope import error
from server.api.graphiql import offline_graphiql_html
from server.api.observability import RequestMetrics
from server.base.auth import bearer_token
from server.base.config import Settings
from server.runs.queue import InProcessQueue
from server.runs.refresh import Clock, Schedule, SystemClock, run_timer
from server.runs.services import Services, open_services

__all__ = [
    "GraphQLApp",
    "create_app",
    "index",
    "method_not_allowed",
    "not_found",
    "server_error",
]

STATIC = Path(__file__).parent.parent / "static"
MAX_RESPONSE_BYTES = 2 * 1024 * 1024  # a GraphQL answer over this is refused
_INLINE_ITEMS = 100  # answers with fewer list items near the top are encoded on the loop

logger = logging.getLogger(__name__)


class _Encoded(dict[str, Any]):
    """A GraphQL answer already encoded (in a thread) by :meth:`GraphQLApp.process_result`."""

    raw: bytes


def _list_items(value: object, depth: int = 3) -> int:
    """List items in the first ``depth`` levels of an answer: a cheap size probe."""
    if depth == 0:
        return 0
    if isinstance(value, list):
        return len(value) + sum(_list_items(v, depth - 1) for v in value[:_INLINE_ITEMS])
    if isinstance(value, dict):
        return sum(_list_items(v, depth - 1) for v in value.values())
    return 0


def _too_large(size: int) -> bytes:
    message = (
        f"the answer is {size:,} bytes, more than the limit of {MAX_RESPONSE_BYTES:,}: ask for "
        "fewer items (a smaller limit) or fewer fields"
    )
    error = {"message": message, "extensions": {"code": "RESPONSE_TOO_LARGE"}}
    return json.dumps({"data": None, "errors": [error]}).encode()


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, offline GraphiQL, WebSocket auth, JSON
    errors for bad requests, big answers encoded in a thread and capped in size.
    Subscriptions are served over the WebSocket only (no HTTP streaming transports)."""

    stream_transport_classes_by_protocol = {}  # noqa: RUF012 - strawberry's API

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context, root_value)
        except HTTPException as exc:
            if isinstance(request, WebSocket):
                raise
            error = {"message": exc.reason, "extensions": {"code": "BAD_REQUEST"}}
            return JSONResponse({"data": None, "errors": [error]}, status_code=exc.status_code)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return json.loads(data)
        except UnicodeDecodeError:
            raise HTTPException(400, "the body is not UTF-8 text") from None
        except RecursionError:
            raise HTTPException(400, "the body's JSON is nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise HTTPException(400, f"the body is not valid JSON: {exc}") from None

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        data = await super().process_result(request, result)
        if _list_items(data.get("data")) < _INLINE_ITEMS:
            raw = self.encode_json(data)
        else:  # a big answer: encode it without holding the event loop
            raw = await anyio.to_thread.run_sync(self.encode_json, data)
        raw = raw.encode() if isinstance(raw, str) else raw
        if len(raw) > MAX_RESPONSE_BYTES:
            logger.warning("GraphQL answer of %d bytes refused", len(raw))
            raw = _too_large(len(raw))
        encoded = _Encoded(data)
        encoded.raw = raw
        return encoded

    def encode_json(self, data: object) -> str | bytes:
        if isinstance(data, _Encoded):
            return data.raw
        return json.dumps(data, separators=(",", ":"))

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        services: Services = request.app.state.services
        token = bearer_token(request.headers.get("authorization"))
        # one context per WebSocket connection lives long: no cache across operations
        cache = not isinstance(request, WebSocket)
        return Context(
            services=services,
            token=token,
            required_token=services.settings.api_token,
            loaders=Loaders(services.engine, cache=cache),
        )

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(offline_graphiql_html())

    async def on_ws_connect(self, context: Context) -> Any:
        if context.required_token is not None and not context.authenticated:
            raise ConnectionRejectionError(
                {"message": "a valid token is required in connection_init"}
            )
        return await super().on_ws_connect(context)


async def index(request: Request) -> Response:
    """The live training page (plain ES modules: nothing to build)."""
    return FileResponse(STATIC / "app" / "index.html")


async def not_found(request: Request, exc: Exception) -> Response:
    return error(404, f"no such endpoint: {request.url.path}", "NOT_FOUND")


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    return error(405, f"{request.method} is not allowed here", "METHOD_NOT_ALLOWED")


async def server_error(request: Request, exc: Exception) -> Response:
    return error(500, "unexpected error", "INTERNAL_SERVER_ERROR")


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    # Strawberry checks a WebSocket's Origin itself (cross-site WebSocket hijacking): the
    # server's own origin and FPE_ALLOWED_ORIGINS pass
    graphql = GraphQLApp(
        build_schema(settings.max_query_length),
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        allowed_origins=settings.allowed_origins,
    )

    schedule = Schedule.from_settings(settings)
    app_clock = clock or SystemClock()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await open_services(settings)
        app.state.services = services
        app.state.settings_api_token = settings.api_token
        timer = None
        if isinstance(services.queue, InProcessQueue):
            await services.queue.start_reaper()  # fails what a crash left in training
            if schedule.enabled:  # no workers: this process runs the scheduled refresh
                timer = asyncio.create_task(run_timer(services, schedule, app_clock))
        try:
            yield
        finally:
            if timer is not None:
                timer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await timer
            await services.close()
            observability.mark_process_dead()

    registry = CollectorRegistry()
    routes = [
        Route("/", index, methods=["GET"]),
        *observability.routes,
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        *rest.routes,
        *jackpots.routes,
        *login.routes,
        *datapages.routes,
        *openapi.routes,
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(RequestMetrics, registry=registry),
            # DNS rebinding: answer only the configured host names, on HTTP and WebSockets
            Middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts)),
            # the legacy page runs on its own origin and sends JSON content types: preflights
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
                max_age=600,
            ),
            # inside CORS, so that a browser can read the 413
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
        ],
        exception_handlers={404: not_found, 405: method_not_allowed, 500: server_error},
    )
    app.state.metrics_registry = registry
    return app
