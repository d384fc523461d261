"""Turning service errors into GraphQL errors with a stable ``extensions.code``.

User errors (bad input, not found, conflicts, an unreachable queue or database) keep their
message; anything else is masked as "Unexpected error." (the schema's ``MaskErrors`` extension
with :func:`should_mask`). A training configuration's error names its field as GraphQL
spells it, in ``extensions.field`` and in the message: ``dateTo``, not ``date_to``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from graphql import GraphQLError
from strawberry.utils.str_converters import to_camel_case

from core.errors import FPEError, error_code
from server.runs.runconfig import FIELDS, HYPERPARAMETERS, ValidationError
from server.store.db import DATABASE_ERRORS, outage

__all__ = ["UserError", "graphql_errors", "should_mask", "to_user_error"]

P = ParamSpec("P")
T = TypeVar("T")


# the configuration's names that GraphQL spells otherwise (camelCase), as whole words
_SNAKE_NAMES = re.compile(
    r"\b(" + "|".join(name for name in (*FIELDS, *HYPERPARAMETERS) if "_" in name) + r")\b"
)


class UserError(GraphQLError):
    """An error meant for the person who sent the request."""


def to_user_error(exc: FPEError) -> UserError:
    """The exception's message with its class's code (and ``field`` when it names one),
    input names spelt as in GraphQL."""
    extensions: dict[str, Any] = {"code": error_code(exc)[0]}
    message = str(exc)
    field = getattr(exc, "field", None)
    if field is not None:
        extensions["field"] = to_camel_case(field)
    if isinstance(exc, ValidationError):
        message = _SNAKE_NAMES.sub(lambda match: to_camel_case(match[0]), message)
    return UserError(message, extensions=extensions)


def graphql_errors(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Resolver decorator: service errors become :class:`UserError`."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except FPEError as exc:
            raise to_user_error(exc) from exc
        except DATABASE_ERRORS as exc:
            failure = outage(exc)  # the database is down or restarting: SERVICE_UNAVAILABLE
            if failure is None:
                raise
            raise to_user_error(failure) from exc

    return wrapper


def should_mask(error: GraphQLError) -> bool:
    """Mask errors that came from a bug, not those meant for the user (or from parsing and
    validation, which have no original error)."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)
