"""The REST API's OpenAPI 3.1 description, built from the routes' own declarations
(:mod:`server.api.declare`, the same objects that validate the requests), at
``GET /openapi.json``; ``GET /docs`` browses it with the vendored Swagger UI (offline).

Every route under ``/api`` must carry a declaration: :func:`undescribed` lists those that
do not, and the tests fail on any.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from server.api.declare import ERROR, Error, Field, Operation, described

__all__ = ["API_PREFIX", "describe", "docs", "openapi_json", "routes", "undescribed"]

API_PREFIX = "/api"
STATIC_PREFIX = "/static/swagger-ui/"

INTRO = """The REST API of the Football Probability Engine: the legacy ML Training page's
contract (`/api/model/...`, `/api/tasks/...`) and batch predictions.

**Envelope.** Every 2xx answer is `{"success": true, "data": ...}`; lists add `"count"`.
Errors are `{"detail": message, "code": CODE, "field"?: name}` with their HTTP status; `field`
names the input as the request spells it (`dateTo`). Codes: `BAD_USER_INPUT` (422),
`NOT_FOUND` (404), `CONFLICT` (409), `UNAUTHENTICATED` (401), `FORBIDDEN` (403),
`UNSUPPORTED_MEDIA_TYPE` (415), `PAYLOAD_TOO_LARGE` (413), `METHOD_NOT_ALLOWED` (405),
`SERVICE_UNAVAILABLE` (503, with `Retry-After`).

**Units.** Accuracies are in percent (0-100), probabilities and edges are fractions (0-1), a
run's `duration` is in minutes. Writes need `Authorization: Bearer <token>` when the server
has `FPE_API_TOKEN`. GraphQL, with its own documentation, is at `/graphql`."""


def _api_routes(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[str, Route]]:
    for route in routes:
        if isinstance(route, Mount):
            yield from _api_routes(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            path = prefix + route.path_format
            if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
                yield path, route


def _methods(route: Route) -> list[str]:
    return sorted(m.lower() for m in (route.methods or ()) if m != "HEAD")


def undescribed(routes: Sequence[BaseRoute]) -> list[str]:
    """``METHOD /path`` of every ``/api`` route without a declaration."""
    return [
        f"{method.upper()} {path}"
        for path, route in _api_routes(routes)
        for method in _methods(route)
        if described(route.endpoint) is None
    ]


def _parameter(where: str, field: Field, examples: dict[str, Any]) -> dict[str, Any]:
    schema = field.kind.schema()
    parameter = {
        "name": field.name,
        "in": where,
        "required": where == "path" or field.required,
        "description": field.description,
        "schema": schema,
    }
    if field.name in examples:
        value = examples[field.name]
        parameter["example"] = int(value) if schema.get("type") == "integer" else value
    return parameter


def _errors(errors: Sequence[Error]) -> dict[str, Any]:
    by_status: dict[int, list[Error]] = {}
    for e in errors:
        by_status.setdefault(e.status, []).append(e)
    out = {}
    for status, group in sorted(by_status.items()):
        examples = {
            f"{e.code}-{i}" if len(group) > 1 else e.code: {
                "summary": e.when,
                "value": {"detail": e.example, "code": e.code},
            }
            for i, e in enumerate(group)
        }
        out[str(status)] = {
            "description": "; ".join(f"`{e.code}`: {e.when}" for e in group),
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"},
                    "examples": examples,
                }
            },
        }
    return out


def _operation(method: str, path: str, name: str, op: Operation) -> dict[str, Any]:
    example = op.example
    parts = path.removeprefix(API_PREFIX + "/").split("/")
    item: dict[str, Any] = {
        "operationId": name,
        "summary": op.summary,
        "description": op.description,
        "tags": [parts[0]],
    }
    parameters = [_parameter("path", f, example.get("path", {})) for f in op.path]
    parameters += [_parameter("query", f, example.get("query", {})) for f in op.query]
    if parameters:
        item["parameters"] = parameters
    body = op.body.schema() if op.body is not None else op.documented_body
    if body is not None:
        content: dict[str, Any] = {"application/json": {"schema": body}}
        if "body" in example:
            content["application/json"]["example"] = example["body"]
        content.update({media: {"schema": s} for media, s in op.other_bodies.items()})
        item["requestBody"] = {"required": True, "content": content}
    item["responses"] = {
        str(op.status): {
            "description": op.summary,
            "content": {
                "application/json": {"schema": op.response, "example": example["response"]}
            },
        },
        **_errors(op.errors),
    }
    if op.write:
        item["security"] = [{"bearer": []}, {}]  # the token only when FPE_API_TOKEN is set
    return {method: item}


def _version() -> str:
    try:
        return version("football-probability-engine")
    except PackageNotFoundError:  # a source tree
        return "0.1.0"


def describe(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every described ``/api`` route in ``routes``."""
    paths: dict[str, Any] = {}
    for path, route in _api_routes(routes):
        op = described(route.endpoint)
        if op is None:
            continue
        for method in _methods(route):
            name = getattr(route.endpoint, "__name__", route.name)
            paths.setdefault(path, {}).update(_operation(method, path, name, op))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Football Probability Engine REST API",
            "version": _version(),
            "description": INTRO,
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR},
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "FPE_API_TOKEN, when the server sets it",
                }
            },
        },
    }


async def openapi_json(request: Request) -> JSONResponse:
    state = request.app.state
    if getattr(state, "openapi", None) is None:  # the routes never change once mounted
        state.openapi = describe(request.app.routes)
    return JSONResponse(state.openapi)


@cache
def _docs_html() -> str:
    config = json.dumps(
        {
            "url": "/openapi.json",
            "dom_id": "#swagger-ui",
            "deepLinking": True,
            "validatorUrl": None,  # the default sends the description to swagger.io
            "displayRequestDuration": True,
            "defaultModelsExpandDepth": 0,
        }
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>REST API · Football Probability Engine</title>
<link rel="icon" href="/static/app/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="{STATIC_PREFIX}swagger-ui.css">
</head>
<body>
<div id="swagger-ui">Loading the API description…</div>
<script src="{STATIC_PREFIX}swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({config});</script>
</body>
</html>
"""


async def docs(request: Request) -> HTMLResponse:
    """The browsable description, with the vendored Swagger UI."""
    return HTMLResponse(_docs_html())


routes = [
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/docs", docs, methods=["GET"]),
]
