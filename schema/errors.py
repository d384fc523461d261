"""Turning service errors into GraphQL errors with a stable ``extensions.code``.

User errors (bad input, not found, conflicts, an unreachable queue) keep their message;
anything else is masked as "Unexpected error." (the schema's ``MaskErrors`` extension
with :func:`should_mask`).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from graphql import GraphQLError

from core.errors import FPEError, InvalidInputError, UnknownTeamError
from server.queue import QueueUnavailableError
from server.registry import ConflictError, ModelNotFoundError
from server.training import RunNotFoundError, ValidationError

__all__ = ["UserError", "code_for", "graphql_errors", "should_mask"]

P = ParamSpec("P")
T = TypeVar("T")


class UserError(GraphQLError):
    """An error meant for the person who sent the request."""


def code_for(exc: Exception) -> str:
    """The stable error code of a service exception (shared with the REST shim)."""
    if isinstance(exc, RunNotFoundError | ModelNotFoundError):
        return "NOT_FOUND"
    if isinstance(exc, UnknownTeamError | ValidationError | InvalidInputError):
        return "BAD_USER_INPUT"
    if isinstance(exc, ConflictError):
        return "CONFLICT"
    if isinstance(exc, QueueUnavailableError):
        return "SERVICE_UNAVAILABLE"
    return "INTERNAL_SERVER_ERROR"


def to_user_error(exc: FPEError) -> UserError:
    extensions: dict[str, Any] = {"code": code_for(exc)}
    if isinstance(exc, ValidationError):
        extensions["field"] = exc.field
    return UserError(str(exc), extensions=extensions)


def graphql_errors(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Resolver decorator: service errors become :class:`UserError`."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except FPEError as exc:
            raise to_user_error(exc) from exc

    return wrapper


def should_mask(error: GraphQLError) -> bool:
    """Mask errors that came from a bug, not those meant for the user (or from parsing and
    validation, which have no original error)."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)
