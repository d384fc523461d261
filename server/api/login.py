"""The legacy app's login, ``me`` and logout over the one bearer token (``FPE_API_TOKEN``).

There are no user accounts: with a token configured, logging in means presenting it as the
password, and the answer hands it back for the page to send as ``Authorization: Bearer``.
Without one, nothing needs a login (demo mode) and any password is accepted, with no token
handed back.  Logout forgets nothing on the server: the token stays valid until it is changed.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.api.csrf import cross_site_refusal
from server.api.envelope import error, ok
from server.api.rest import _endpoint, _json_body
from server.base.auth import bearer_token, token_matches
from server.runs.runconfig import ValidationError

__all__ = ["routes"]

_NAME = "API token holder"


def _user(email: str | None) -> dict[str, Any]:
    return {"id": "token", "email": email, "name": _NAME}


async def login(request: Request) -> JSONResponse:
    refusal = cross_site_refusal(request, request.app.state.services.settings.cors_origins)
    if refusal is not None:
        return refusal
    body = await _json_body(request)
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not email.strip():
        raise ValidationError("email must be a non-empty string", "email")
    if not isinstance(password, str):
        raise ValidationError("password must be a string", "password")
    required = request.app.state.settings_api_token
    if required is None:
        return JSONResponse({"user": _user(email.strip()), "token": None})
    if not token_matches(password, required):
        return error(401, "wrong email or password", "UNAUTHENTICATED")
    return JSONResponse({"user": _user(email.strip()), "token": required})


async def me(request: Request) -> JSONResponse:
    required = request.app.state.settings_api_token
    given = bearer_token(request.headers.get("authorization"))
    if required is not None and not token_matches(given, required):
        return error(401, "a valid bearer token is required", "UNAUTHENTICATED")
    return ok({"user": _user(None)})


async def logout(request: Request) -> JSONResponse:
    return ok(message="Logged out: the page forgets the token (it stays valid on the server)")


routes = [
    Route("/api/auth/login", _endpoint(login), methods=["POST"]),
    Route("/api/auth/me", _endpoint(me), methods=["GET"]),
    Route("/api/auth/logout", _endpoint(logout), methods=["POST"]),
]
