"""Text the database cannot store: a NUL character (``\\x00``) in any string argument or
variable is refused before execution with ``BAD_USER_INPUT``, naming where it was
(PostgreSQL rejects NUL in text, which made such a request an unexpected error)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension

from server.base.text import NUL_MESSAGE, has_nul

__all__ = ["NoNulCharacters", "nul_location"]


class _Strings(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_string_value(self, node: StringValueNode, *args: Any) -> Any:
        if "\x00" in node.value:
            self.found = True
            return self.BREAK
        return None


def nul_location(document: Any, variables: Any) -> str | None:
    """Where the first NUL character is: ``variable $name``, ``a string literal``, or None."""
    for name, value in (variables or {}).items():
        if has_nul(name) or has_nul(value):
            return f"variable ${name}"
    if document is not None:
        visitor = _Strings()
        visit(document, visitor)
        if visitor.found:
            return "a string literal of the query"
    return None


class NoNulCharacters(SchemaExtension):
    """Refuse an operation that carries a NUL character (after the validation cache)."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        where = nul_location(context.graphql_document, context.variables)
        if where is not None:
            error = GraphQLError(
                f"{where} {NUL_MESSAGE}",
                extensions={"code": "BAD_USER_INPUT"},
            )
            context.pre_execution_errors = [*(context.pre_execution_errors or []), error]
        yield
