"""Per-request context: the services, dataloaders made for this request, and auth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry

from schema.errors import UserError
from schema.loaders import Loaders
from server.base.auth import bearer_token, token_matches
from server.runs.services import Services

__all__ = ["UNAUTHENTICATED", "Context", "read_engine", "write_engine"]

UNAUTHENTICATED = "a valid bearer token is required (Authorization header, or connection_init)"


@dataclass
class Context:
    services: Services
    token: str | None  # the bearer token the request carried (HTTP header)
    required_token: str | None  # FPE_API_TOKEN; None: no authentication
    loaders: Loaders
    connection_params: dict[str, Any] | None = None  # set by graphql-transport-ws
    active_subscriptions: int = 0

    def presented_token(self) -> str | None:
        """The HTTP header's bearer token, else ``connection_init``'s ``authorization``."""
        if self.token:
            return self.token
        params = self.connection_params if isinstance(self.connection_params, dict) else {}
        return bearer_token(params.get("authorization") or params.get("Authorization"))

    @property
    def authenticated(self) -> bool:
        if self.required_token is None:
            return True
        return token_matches(self.presented_token(), self.required_token)


def read_engine(info: strawberry.Info) -> Any:
    """The request's database engine, for a query."""
    return info.context.services.engine


def write_engine(info: strawberry.Info) -> Any:
    """The engine, for a mutation: a valid bearer token when one is configured."""
    if not info.context.authenticated:
        raise UserError(UNAUTHENTICATED, extensions={"code": "UNAUTHENTICATED"})
    return info.context.services.engine
