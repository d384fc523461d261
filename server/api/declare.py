"""What each REST route takes and answers, declared once next to its handler.

A declaration (:class:`Operation`, attached with :func:`operation`) both validates the
request (query parameters and JSON body, each error naming the field as the client spells
it) and describes the route in OpenAPI 3.1 (:mod:`server.api.openapi`), so the two cannot
drift.  Inputs are :class:`Field`\\ s of a few kinds (:class:`Text`, :class:`Texts`,
:class:`Whole`, :class:`Decimal`, :class:`Record`, :class:`Items`) that check a value and
emit its JSON Schema; answers are plain JSON Schema (helpers :func:`obj`, :func:`null`).

Adding a route::

    @operation(summary="...", query=(Field("limit", Whole(1, 500), "..."),),
               response=list_of(ROW), example={"response": ...})
    async def handler(request: Request, given: dict[str, Any]) -> JSONResponse: ...

A handler whose operation declares inputs is called with them (``given``, camelCase keys
as sent); ``tests/test_openapi.py`` fails on any ``/api`` route without an operation.  A
wrapper around a declared handler keeps the declaration with :func:`functools.wraps` (as
``server.api.rest._endpoint`` does, which also applies ``write``: CSRF checks and the token).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from server.base.text import NUL_MESSAGE, has_nul
from server.runs.runconfig import ValidationError

__all__ = [
    "ERROR",
    "Decimal",
    "Error",
    "Field",
    "Items",
    "Kind",
    "Operation",
    "Record",
    "Text",
    "Texts",
    "Whole",
    "closed",
    "described",
    "envelope",
    "json_type",
    "list_of",
    "null",
    "obj",
    "operation",
    "read_json",
]

JSON = dict[str, Any]

# the shim's error body (server/api/envelope.py)
ERROR: JSON = {
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "what went wrong, for a person"},
        "code": {"type": "string", "description": "a stable code (core/errors.py)"},
        "field": {"type": "string", "description": "the request field at fault, as sent"},
    },
}


def json_type(value: Any) -> str:
    """The JSON type of ``value`` in words, for error messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list" if all(isinstance(x, str) for x in value) else "a list of non-strings"
    return "an object"


class Kind:
    """A kind of value: checks one (raising :class:`ValidationError`) and emits its schema.
    ``what`` is the expected value in words ("a list of league codes such as ["E0"]")."""

    what: str = "a value"

    def schema(self) -> JSON:
        raise NotImplementedError

    def check(self, value: Any, path: str, name: str) -> Any:
        raise NotImplementedError

    def refuse(self, value: Any, path: str, name: str) -> ValidationError:
        return ValidationError(f"{path} must be {self.what}, not {json_type(value)}", name)


@dataclass(frozen=True)
class Text(Kind):
    what: str = "a string"
    format: str | None = None  # "date", "date-time": described, checked by the service

    def schema(self) -> JSON:
        return {"type": "string", **({"format": self.format} if self.format else {})}

    def check(self, value: Any, path: str, name: str) -> Any:
        if not isinstance(value, str):
            raise self.refuse(value, path, name)
        return value


@dataclass(frozen=True)
class Texts(Kind):
    what: str = "a list of strings"

    def schema(self) -> JSON:
        return {"type": "array", "items": {"type": "string"}}

    def check(self, value: Any, path: str, name: str) -> Any:
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise self.refuse(value, path, name)
        return value


@dataclass(frozen=True)
class Decimal(Kind):
    what: str = "a number"
    minimum: float | None = None

    def schema(self) -> JSON:
        return {"type": "number", **({} if self.minimum is None else {"minimum": self.minimum})}

    def check(self, value: Any, path: str, name: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.refuse(value, path, name)
        return value


@dataclass(frozen=True)
class Whole(Kind):
    """A whole number; as a query parameter, its text."""

    minimum: int
    maximum: int

    @property
    def what(self) -> str:  # type: ignore[override]
        return f"a whole number from {self.minimum} to {self.maximum}"

    def schema(self) -> JSON:
        return {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}

    def check(self, value: Any, path: str, name: str) -> Any:
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                raise ValidationError(f"{path} {value!r} is not a whole number", name) from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.refuse(value, path, name)
        if not self.minimum <= value <= self.maximum:
            raise ValidationError(f"{path} must be between {self.minimum} and {self.maximum}", name)
        return value


@dataclass(frozen=True)
class Field:
    """One named input: a body member, a query or a path parameter."""

    name: str
    kind: Kind
    description: str
    required: bool = False
    nullable: bool = True  # for body members: ``null`` is the same as absent

    def schema(self) -> JSON:
        schema = self.kind.schema()
        if self.nullable and not self.required and "type" in schema:
            schema = {**schema, "type": [schema["type"], "null"]}
        return {**schema, "description": self.description}


@dataclass(frozen=True)
class Record(Kind):
    """A JSON object with known members; any other member is refused."""

    fields: tuple[Field, ...]
    what: str = "an object"

    def schema(self) -> JSON:
        return {
            "type": "object",
            "properties": {f.name: f.schema() for f in self.fields},
            **({"required": req} if (req := [f.name for f in self.fields if f.required]) else {}),
            "additionalProperties": False,
        }

    def check(self, value: Any, path: str, name: str) -> Any:
        if not isinstance(value, dict):
            raise self.refuse(value, path, name)
        unknown = sorted(set(value) - {f.name for f in self.fields})
        if unknown:
            top = not path
            raise ValidationError(
                f"unknown field(s): {', '.join(unknown)}"
                if top
                else f"{path}: unknown field(s) {', '.join(unknown)}",
                unknown[0] if top else name,
            )
        out: dict[str, Any] = {}
        for f in self.fields:
            where = f"{path}.{f.name}" if path else f.name
            item = value.get(f.name)
            if item is None:
                if f.required:
                    raise ValidationError(f"{where} must be {f.kind.what}", name or f.name)
                out[f.name] = None
            else:
                out[f.name] = f.kind.check(item, where, name or f.name)
        return out


@dataclass(frozen=True)
class Items(Kind):
    """A JSON list of one kind."""

    item: Kind
    min_items: int = 0
    max_items: int | None = None
    what: str = "a list"

    def schema(self) -> JSON:
        schema = {"type": "array", "items": self.item.schema(), "minItems": self.min_items}
        return schema if self.max_items is None else {**schema, "maxItems": self.max_items}

    def check(self, value: Any, path: str, name: str) -> Any:
        if not isinstance(value, list):
            raise self.refuse(value, path, name)
        if len(value) < self.min_items:
            raise ValidationError(f"{path} must be {self.what}", name)
        if self.max_items is not None and len(value) > self.max_items:
            raise ValidationError(
                f"{path} has {len(value)} items, more than the limit of {self.max_items}", name
            )
        return [self.item.check(x, f"{path}[{i}]", name) for i, x in enumerate(value)]


# --- answers: plain JSON Schema ----------------------------------------------------------


def null(schema: JSON) -> JSON:
    """``schema`` or ``null``."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: Mapping[str, JSON | str], **extra: Any) -> JSON:
    """An object with every one of ``properties`` present; a bare string is a type name."""
    props = {k: {"type": v} if isinstance(v, str) else v for k, v in properties.items()}
    return {"type": "object", "properties": props, "required": list(props), **extra}


def closed(properties: Mapping[str, JSON], *required: str) -> JSON:
    """A request body: an object of ``properties``, ``required`` of them needed, and no
    other member allowed."""
    needed: JSON = {"required": list(required)} if required else {}
    return {
        "type": "object",
        "properties": dict(properties),
        **needed,
        "additionalProperties": False,
    }


def envelope(data: JSON | None) -> JSON:
    """The shim's success body ``{"success": true, "data": ...}``."""
    props: JSON = {"success": {"const": True}}
    if data is not None:
        props["data"] = data
    return {"type": "object", "properties": props, "required": list(props)}


def _ok_example(data: Any) -> JSON:
    """An example of an :func:`envelope` body carrying ``data``."""
    return {"success": True, "data": data}


def list_of(item: JSON) -> JSON:
    """The shim's list body: ``{"success": true, "data": [...], "count": n}``."""
    return {
        "type": "object",
        "properties": {
            "success": {"const": True},
            "data": {"type": "array", "items": item},
            "count": {"type": "integer", "minimum": 0},
        },
        "required": ["success", "data", "count"],
    }


# --- operations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Error:
    """An error answer the route can give: its status, code, when, and an example message."""

    status: int
    code: str
    when: str
    example: str


@dataclass(frozen=True)
class Operation:
    """One route's declaration.  ``response`` is the whole 2xx body's schema (use
    :func:`envelope` / :func:`list_of`); ``example`` has ``response`` (or ``data``, the
    :func:`envelope`'s ``data`` of a success body) and, when the route takes them,
    ``body``, ``query`` and ``path`` values."""

    summary: str
    description: str
    response: JSON
    example: Mapping[str, Any]
    status: int = 200
    body: Record | None = None
    query: tuple[Field, ...] = ()
    path: tuple[Field, ...] = ()
    errors: tuple[Error, ...] = ()
    write: bool = False  # needs the bearer token (FPE_API_TOKEN) and passes the CSRF checks
    other_bodies: Mapping[str, JSON] = field(default_factory=dict)  # media type: schema
    # the JSON body's schema where the handler (and its service) checks the body itself: the
    # legacy jackpot, data and login pages; documented and its example tested, not enforced
    documented_body: JSON | None = None

    def __post_init__(self) -> None:
        if "data" in self.example:
            data = self.example["data"]
            example = {k: v for k, v in self.example.items() if k != "data"}
            object.__setattr__(self, "example", example | {"response": _ok_example(data)})

    @property
    def takes_input(self) -> bool:
        return self.body is not None or bool(self.query)

    def parse_query(self, params: Mapping[str, str]) -> dict[str, Any]:
        given: dict[str, Any] = {}
        for f in self.query:
            text = params.get(f.name)
            if text is None:
                if f.required:
                    raise ValidationError(f"{f.name} must be {f.kind.what}", f.name)
                given[f.name] = None
            else:
                given[f.name] = f.kind.check(text, f.name, f.name)
        return given

    def parse_body(self, body: Any) -> dict[str, Any]:
        if self.body is None:
            return {}
        if not isinstance(body, dict):
            raise ValidationError("the body must be a JSON object", "body")
        parsed: dict[str, Any] = self.body.check(body, "", "")
        return parsed


Handler = Callable[..., Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


async def read_json(request: Request) -> Any:
    """The request's JSON body (none is ``{}``), NUL characters refused."""
    try:
        body = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"the body is not valid JSON: {exc}", "body") from None
    except RecursionError:
        raise ValidationError("the body's JSON is nested too deeply", "body") from None
    if isinstance(body, dict):
        for key, value in body.items():
            if has_nul(key) or has_nul(value):
                raise ValidationError(f"{key} {NUL_MESSAGE}", key)
    return body


def operation(**declaration: Any) -> Callable[[Handler], Endpoint]:
    """Attach an :class:`Operation` to a handler.  When it declares a body or query
    parameters, the handler is called as ``handler(request, given)`` with them checked;
    a body sent as another declared media type (``other_bodies``) is left to the handler
    (``given`` is then ``None``)."""
    op = Operation(**declaration)

    def attach(fn: Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            if not op.takes_input:
                return await fn(request)
            media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media in op.other_bodies:
                return await fn(request, None)
            given = op.parse_query(request.query_params)
            if op.body is not None:
                given.update(op.parse_body(await read_json(request)))
            return await fn(request, given)

        endpoint.__name__ = fn.__name__
        endpoint.__doc__ = fn.__doc__
        endpoint.operation = op  # type: ignore[attr-defined]
        return endpoint

    return attach


def described(endpoint: Any) -> Operation | None:
    """The operation declared for a route's endpoint, if any."""
    return getattr(endpoint, "operation", None)
