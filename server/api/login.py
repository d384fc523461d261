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
from server.api.declare import Error, envelope, obj, operation
from server.api.envelope import error, ok
from server.api.rest import _endpoint, _json_body
from server.base.auth import bearer_token, token_matches
from server.runs.runconfig import ValidationError

__all__ = ["routes"]

_NAME = "API token holder"


USER = obj({"id": "string", "email": {"type": ["string", "null"]}, "name": "string"})
USER_EXAMPLE = {"id": "token", "email": "me@example.com", "name": _NAME}
WRONG = Error(
    401, "UNAUTHENTICATED", "the password is not the API token", "wrong email or password"
)


def _user(email: str | None) -> dict[str, Any]:
    return {"id": "token", "email": email, "name": _NAME}


@operation(
    summary="Log in with the API token as the password",
    description="With FPE_API_TOKEN set, the password must be it and the answer hands it "
    "back (send it as `Authorization: Bearer`); without one, any password passes and "
    "`token` is null. Not in the shim's envelope: the legacy page reads `user` and `token`.",
    documented_body={
        "type": "object",
        "properties": {"email": {"type": "string", "minLength": 1}, "password": {"type": "string"}},
        "required": ["email", "password"],
    },
    response=obj({"user": USER, "token": {"type": ["string", "null"]}}),
    errors=(
        WRONG,
        Error(
            422,
            "BAD_USER_INPUT",
            "no email, or a password that is not a string",
            "email must be a non-empty string",
        ),
        Error(
            403,
            "FORBIDDEN",
            "sent by a page from a foreign origin",
            "a page from https://elsewhere.example may not change anything here: add its "
            "origin to FPE_CORS_ORIGINS to allow it",
        ),
    ),
    example={
        "body": {"email": "me@example.com", "password": "the-api-token"},
        "response": {"user": USER_EXAMPLE, "token": "the-api-token"},
    },
)
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


@operation(
    summary="Who is logged in",
    description="The token holder (there are no user accounts).",
    response=envelope(obj({"user": USER})),
    errors=(
        Error(
            401,
            "UNAUTHENTICATED",
            "FPE_API_TOKEN is set and the bearer token is missing or wrong",
            "a valid bearer token is required",
        ),
    ),
    example={"data": {"user": {**USER_EXAMPLE, "email": None}}},
)
async def me(request: Request) -> JSONResponse:
    required = request.app.state.settings_api_token
    given = bearer_token(request.headers.get("authorization"))
    if required is not None and not token_matches(given, required):
        return error(401, "a valid bearer token is required", "UNAUTHENTICATED")
    return ok({"user": _user(None)})


@operation(
    summary="Log out",
    description="The page forgets the token; it stays valid on the server until changed.",
    response={
        "type": "object",
        "properties": {"success": {"const": True}, "message": {"type": "string"}},
        "required": ["success", "message"],
    },
    errors=(),
    example={
        "response": {
            "success": True,
            "message": "Logged out: the page forgets the token (it stays valid on the server)",
        }
    },
)
async def logout(request: Request) -> JSONResponse:
    return ok(message="Logged out: the page forgets the token (it stays valid on the server)")


routes = [
    Route("/api/auth/login", _endpoint(login), methods=["POST"]),
    Route("/api/auth/me", _endpoint(me), methods=["GET"]),
    Route("/api/auth/logout", _endpoint(logout), methods=["POST"]),
]
