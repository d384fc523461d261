"""The legacy REST envelope and error mapping, in one place.

Success: ``{"success": true, "data": ...}`` (lists add ``"count"``).  Errors: FastAPI's shape,
``{"detail": message, "code": CODE[, "field": camelCaseName]}`` (the message, too, names
the field as the request spells it: ``dateTo``, not ``date_to``) with the HTTP status that
the exception's class carries (``core.errors``).  The legacy page reads ``success``, then
``detail``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from starlette.responses import JSONResponse

from core.errors import FPEError, error_code
from server.runs.runconfig import FIELDS, HYPERPARAMETERS, ValidationError

__all__ = ["camel", "error", "error_for", "ok", "ok_list"]

# the training configuration's names that the shim spells in camelCase, as whole words
_SNAKE_NAMES = re.compile(
    r"\b(" + "|".join(name for name in (*FIELDS, *HYPERPARAMETERS) if "_" in name) + r")\b"
)


def ok(data: Any = None, status: int = 200, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"success": True}
    if data is not None:
        body["data"] = data
    return JSONResponse({**body, **extra}, status_code=status)


def ok_list(items: Sequence[Any]) -> JSONResponse:
    return JSONResponse({"success": True, "data": list(items), "count": len(items)})


def error(
    status: int, detail: str, code: str | None = None, field: str | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail}
    if code is not None:
        body["code"] = code
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status)


def camel(name: str) -> str:
    """``date_from`` -> ``dateFrom``: fields are named as the request spells them."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def error_for(exc: FPEError) -> JSONResponse:
    """The answer to a service exception: the code and HTTP status its class carries
    (:func:`core.errors.error_code`)."""
    code, status = error_code(exc)
    if not isinstance(exc, ValidationError):
        return error(status, str(exc), code)
    message = _SNAKE_NAMES.sub(lambda match: camel(match[0]), str(exc))
    return error(status, message, code, camel(exc.field))
