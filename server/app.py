"""The Starlette application: GraphQL (HTTP and WebSocket) with offline GraphiQL, the
legacy REST shim and static files.  ``fpe serve`` runs it with uvicorn; without Redis it
also runs training in-process, so one command gives a working service."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from graphql import ExecutionResult, GraphQLError, OperationType, get_operation_ast, parse
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from schema import build_schema
from schema.context import Context
from schema.loaders import Loaders
from server import observability, rest
from server.config import Settings
from server.graphiql import offline_graphiql_html
from server.observability import RequestMetrics
from server.services import Services, open_services

__all__ = ["create_app"]

STATIC = Path(__file__).parent / "static"


class GraphQLApp(GraphQL):
    """Strawberry's ASGI view with our context, offline GraphiQL and WebSocket auth."""

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:
        services: Services = request.app.state.services
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip() or None
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

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        """A subscription sent as a plain HTTP request is answered with an error that
        says where subscriptions live (strawberry would run it as a query and fail)."""
        data = kwargs["request_data"]
        if data.protocol == "http" and _is_subscription(data.query, data.operation_name):
            return ExecutionResult(data=None, errors=[SUBSCRIPTION_OVER_HTTP])
        return await super().execute_single(*args, **kwargs)

    async def on_ws_connect(self, context: Context) -> Any:
        if context.required_token is not None and not context.authenticated:
            raise ConnectionRejectionError(
                {"message": "a valid token is required in connection_init"}
            )
        return await super().on_ws_connect(context)


SUBSCRIPTION_OVER_HTTP = GraphQLError(
    "subscriptions run over the graphql-transport-ws WebSocket at /graphql, not over HTTP",
    extensions={"code": "BAD_REQUEST"},
)


def _is_subscription(query: str | None, operation_name: str | None) -> bool:
    if not query or "subscription" not in query:
        return False
    try:
        document = parse(query)
    except GraphQLError:
        return False  # strawberry reports the syntax error
    operation = get_operation_ast(document, operation_name)
    return operation is not None and operation.operation == OperationType.SUBSCRIPTION


class OriginCheck:
    """Refuse browser WebSockets from other sites (cross-site WebSocket hijacking): the
    Origin must be the server's own host or in ``FPE_ALLOWED_ORIGINS``."""

    def __init__(self, app: ASGIApp, allowed: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = set(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            origin = headers.get("origin")
            if origin is not None and not self._ok(origin.rstrip("/"), headers.get("host", "")):
                await send({"type": "websocket.close", "code": 1008})
                return
        await self.app(scope, receive, send)

    def _ok(self, origin: str, host: str) -> bool:
        return origin in self.allowed or origin in (f"http://{host}", f"https://{host}")


async def index(request: Request) -> Response:
    """The live training page (plain ES modules: nothing to build)."""
    return FileResponse(STATIC / "app" / "index.html")


async def not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse(
        {"error": {"code": "NOT_FOUND", "message": f"no such endpoint: {request.url.path}"}},
        status_code=404,
    )


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    return JSONResponse(
        {
            "error": {
                "code": "METHOD_NOT_ALLOWED",
                "message": f"{request.method} is not allowed here",
            }
        },
        status_code=405,
    )


async def server_error(request: Request, exc: Exception) -> Response:
    return JSONResponse(
        {"error": {"code": "INTERNAL_SERVER_ERROR", "message": "unexpected error"}}, status_code=500
    )


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    graphql = GraphQLApp(build_schema(), subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL])

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await open_services(settings)
        app.state.services = services
        app.state.settings_api_token = settings.api_token
        try:
            yield
        finally:
            await services.close()

    registry = CollectorRegistry()
    routes = [
        Route("/", index, methods=["GET"]),
        *observability.routes,
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", OriginCheck(graphql, settings.allowed_origins)),
        *rest.routes,
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(RequestMetrics, registry=registry)],
        exception_handlers={404: not_found, 405: method_not_allowed, 500: server_error},
    )
    app.state.metrics_registry = registry
    return app
