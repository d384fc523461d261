"""The Strawberry GraphQL schema: queries, mutations and subscriptions over the service
layer, with length, shape, depth, token, alias, cost and prediction limits and masking of
unexpected errors."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from schema.cost import MAX_COST, QueryCost
from schema.document import MAX_QUERY_LENGTH, CachedDocuments, DocumentCache
from schema.errors import should_mask
from schema.fixtures import MAX_PREDICTIONS, PredictionLimit
from schema.guard import MAX_FRAGMENT_NESTING, MAX_REPEATED_PAIRS, MAX_SELECTIONS
from schema.resolvers import Mutation, Query, Subscription
from schema.text import NoNulCharacters

__all__ = ["LIMITS", "Limits", "Schema", "build_schema"]

LIMITS = {
    "max_length": MAX_QUERY_LENGTH,
    "max_selections": MAX_SELECTIONS,
    "max_repeated_pairs": MAX_REPEATED_PAIRS,
    "max_fragment_nesting": MAX_FRAGMENT_NESTING,
    "max_depth": 10,
    "max_tokens": 2000,
    "max_aliases": 20,
    "max_cost": MAX_COST,
    "max_predictions": MAX_PREDICTIONS,
}


# The depth and alias rules are made once: a rule class made per request would defeat the
# validation cache, whose key includes the rules (measured: 4 ms of every request).
_RULES = (
    *QueryDepthLimiter(max_depth=LIMITS["max_depth"]).validation_rules,
    *MaxAliasesLimiter(max_alias_count=LIMITS["max_aliases"]).validation_rules,
)


class Limits(AddValidationRules):
    def __init__(self) -> None:
        super().__init__(list(_RULES))


class Schema(strawberry.Schema):
    documents: DocumentCache  # parsed and validated query texts (build_schema makes one)

    async def execute(self, query: str | None, *args: Any, **kwargs: Any) -> Any:
        """Queries and mutations; a subscription (which only a WebSocket can carry) sent
        here, over HTTP, is answered with a clear error."""
        allowed = set(kwargs.get("allowed_operation_types") or DEFAULT_ALLOWED_OPERATION_TYPES)
        kwargs["allowed_operation_types"] = allowed - {OperationType.SUBSCRIPTION}
        try:
            return await super().execute(query, *args, **kwargs)
        except InvalidOperationTypeError as exc:
            if exc.operation_type is not OperationType.SUBSCRIPTION:
                raise
            message = (
                "subscriptions are served over the WebSocket at /graphql "
                "(graphql-transport-ws protocol), not over HTTP"
            )
            return ExecutionResult(
                data=None,
                errors=[GraphQLError(message, extensions={"code": "WEBSOCKET_REQUIRED"})],
            )

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Log only bugs: a user's bad input is answered, not logged with a traceback."""
        super().process_errors([e for e in errors if should_mask(e)], execution_context)


def build_schema(max_query_length: int = MAX_QUERY_LENGTH) -> Schema:
    """The schema, with its own document cache; a query text over ``max_query_length``
    characters is refused (``FPE_MAX_QUERY_LENGTH``)."""
    documents = DocumentCache()
    schema = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[  # factories: a fresh extension for every request
            Limits,
            lambda: MaxTokensLimiter(max_token_count=LIMITS["max_tokens"]),
            lambda: MaskErrors(should_mask_error=should_mask),
            # repeated queries skip parsing and validation; refuses long texts and shapes
            # that would make validation slow, before any rule runs
            lambda: CachedDocuments(documents, max_query_length),
            # after the document cache (which sets the validation errors), before execution
            QueryCost,
            PredictionLimit,
            NoNulCharacters,
        ],
    )
    schema.documents = documents
    return schema
