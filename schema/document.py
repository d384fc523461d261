"""Parsing and validation with a cache bounded in entries and in size, refusing long query
texts and over-complex shapes before any validation rule runs, and doing the work of a long
query in a thread.

It replaces Strawberry's ``ParserCache`` and ``ValidationCache``: their caches count
entries only (512 texts of 10 MB each would be kept, with their syntax trees), and the
validation cache runs every rule, however exponential, on any document. Here:

- a text over ``max_length`` characters (:data:`MAX_QUERY_LENGTH` by default,
  ``FPE_MAX_QUERY_LENGTH``) is refused with ``QUERY_TOO_LARGE`` before it is parsed;
- the cache keeps at most :data:`CACHE_ENTRIES` documents and :data:`CACHE_CHARS`
  characters of query text (a syntax tree takes about 100 bytes per character: about
  50 MB in all); a text over a tenth of that is parsed but not kept;
- :func:`schema.guard.shape_errors` refuses, before validation, a query that expands to too
  many selections or repeats a field too often; its errors are cached like validation's;
- a text over :data:`INLINE_CHARS` characters is parsed and validated in a worker thread,
  one at a time (the work holds the GIL: more threads would only take turns with the event
  loop), so the loop goes on serving other requests meanwhile.

A refused or unparsable text is answered as a parse error is: with a placeholder document
(its operation named as the request names it) and the error in ``pre_execution_errors``,
which Strawberry returns before validation and execution, over HTTP and WebSocket alike.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types.execution import ExecutionContext

from schema.guard import shape_errors
from server.base.config import DEFAULT_MAX_QUERY_LENGTH

__all__ = [
    "CACHE_CHARS",
    "CACHE_ENTRIES",
    "INLINE_CHARS",
    "MAX_QUERY_LENGTH",
    "CachedDocuments",
    "DocumentCache",
    "Entry",
]

MAX_QUERY_LENGTH = DEFAULT_MAX_QUERY_LENGTH  # characters; the page's longest: 322
CACHE_ENTRIES = 512
CACHE_CHARS = 500_000
INLINE_CHARS = 2_000  # a longer text is parsed and validated in a thread

T = TypeVar("T")


@dataclass
class Entry:
    """A parsed document and, once known, its errors under ``rules``."""

    document: DocumentNode
    rules: tuple[Any, ...] | None = None
    errors: list[GraphQLError] | None = None


class DocumentCache:
    """Least recently used documents by query text, bounded by entries and characters."""

    def __init__(self, max_entries: int = CACHE_ENTRIES, max_chars: int = CACHE_CHARS) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self.chars = 0
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._limiter: anyio.CapacityLimiter | None = None

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        """One thread at a time for the long texts (made on first use, in the event loop)."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(1)
        return self._limiter

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, query: str) -> Entry | None:
        entry = self._entries.get(query)
        if entry is not None:
            self._entries.move_to_end(query)
        return entry

    def put(self, query: str, entry: Entry) -> None:
        if len(query) * 10 > self.max_chars or query in self._entries:
            return
        self._entries[query] = entry
        self.chars += len(query)
        while len(self._entries) > self.max_entries or self.chars > self.max_chars:
            old, _ = self._entries.popitem(last=False)
            self.chars -= len(old)


def _placeholder(context: ExecutionContext) -> DocumentNode:
    """A document whose only operation is named as the request names it, of a type the
    request allows: Strawberry looks it up before returning the errors it carries."""
    allowed = {t.value for t in context.allowed_operations}
    operation = next((t for t in OperationType if t.value in allowed), OperationType.QUERY)
    name = context.operation_name
    typename = FieldNode(name=NameNode(value="__typename"), arguments=(), directives=())
    return DocumentNode(
        definitions=(
            OperationDefinitionNode(
                operation=operation,
                name=NameNode(value=name) if name is not None else None,
                variable_definitions=(),
                directives=(),
                selection_set=SelectionSetNode(selections=(typename,)),
            ),
        )
    )


def _too_large(length: int, limit: int) -> GraphQLError:
    return GraphQLError(
        f"the query is {length:,} characters long, more than the limit of {limit:,}: send "
        "a shorter query (pass long values as variables)",
        extensions={"code": "QUERY_TOO_LARGE", "length": length, "maxLength": limit},
    )


class CachedDocuments(SchemaExtension):
    """Parse and validate through a :class:`DocumentCache` (one per schema), refusing long
    texts and over-complex shapes first; long texts are worked on in a thread."""

    def __init__(self, cache: DocumentCache, max_length: int = MAX_QUERY_LENGTH) -> None:
        super().__init__()
        self.cache = cache
        self.max_length = max_length
        self.entry: Entry | None = None

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        query = self.execution_context.query or ""
        if len(query) <= INLINE_CHARS:
            return fn(*args, **kwargs)
        work = functools.partial(fn, *args, **kwargs)
        return await anyio.to_thread.run_sync(work, limiter=self.cache.limiter)

    def _refuse(self, error: GraphQLError) -> None:
        context = self.execution_context
        context.graphql_document = _placeholder(context)
        context.pre_execution_errors = [error]

    async def on_parse(self) -> AsyncIterator[None]:
        context = self.execution_context
        query = context.query or ""
        entry = None if len(query) > self.max_length else self.cache.get(query)
        if len(query) > self.max_length:  # refused before even hashing it
            self._refuse(_too_large(len(query), self.max_length))
        elif entry is None:
            try:
                document = await self._run(parse, query, **context.parse_options)
            except GraphQLError as exc:  # a syntax error, or over the token limit
                self._refuse(exc)
            else:
                entry = Entry(document)
                self.cache.put(query, entry)
        if entry is not None:
            context.graphql_document = entry.document
            self.entry = entry
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        context, entry = self.execution_context, self.entry
        if entry is not None and context.pre_execution_errors is None:
            rules = tuple(context.validation_rules)
            if entry.errors is None or entry.rules != rules:
                errors = shape_errors(entry.document)
                if not errors:
                    errors = await self._run(
                        validate_document, context.schema._schema, entry.document, rules
                    )
                entry.rules, entry.errors = rules, errors
            context.pre_execution_errors = list(entry.errors)
        yield
