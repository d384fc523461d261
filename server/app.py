"""The Starlette application: GraphQL (HTTP and WebSocket) with offline GraphiQL, the
legacy REST shim and static files.  ``fpe serve`` runs it with uvicorn; without Redis it
also runs training in-process, so one command gives a working service."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from schema import build_schema
from schema.context import Context
from schema.loaders import Loaders
from server import observability, rest
from server.config import Settings
from server.envelope import error
from server.graphiql import offline_graphiql_html
from server.observability import RequestMetrics
from server.queue import InProcessQueue
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


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    # Strawberry checks a WebSocket's Origin itself (cross-site WebSocket hijacking): the
    # server's own origin and FPE_ALLOWED_ORIGINS pass
    graphql = GraphQLApp(
        build_schema(),
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        allowed_origins=settings.allowed_origins,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await open_services(settings)
        app.state.services = services
        app.state.settings_api_token = settings.api_token
        if isinstance(services.queue, InProcessQueue):
            await services.queue.start_reaper()  # fails what a crash left in training
        try:
            yield
        finally:
            await services.close()
            observability.mark_process_dead()

    registry = CollectorRegistry()
    routes = [
        Route("/", index, methods=["GET"]),
        *observability.routes,
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        *rest.routes,
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(RequestMetrics, registry=registry),
            # the legacy page runs on its own origin and sends JSON content types: preflights
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
                max_age=600,
            ),
        ],
        exception_handlers={404: not_found, 405: method_not_allowed, 500: server_error},
    )
    app.state.metrics_registry = registry
    return app
