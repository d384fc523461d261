"""Per-request context: the services, dataloaders made for this request, and auth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schema.loaders import Loaders
from server.services import Services

__all__ = ["Context"]


@dataclass
class Context:
    services: Services
    token: str | None  # the bearer token the request carried (HTTP header)
    required_token: str | None  # FPE_API_TOKEN; None: no authentication
    loaders: Loaders
    connection_params: dict[str, Any] | None = None  # set by graphql-transport-ws
    active_subscriptions: int = 0

    def presented_token(self) -> str | None:
        if self.token:
            return self.token
        params = self.connection_params or {}
        value = params.get("authorization") or params.get("Authorization") or params.get("token")
        if isinstance(value, str):
            return value.removeprefix("Bearer ").strip()
        return None

    @property
    def authenticated(self) -> bool:
        if self.required_token is None:
            return True
        import hmac

        presented = self.presented_token()
        return presented is not None and hmac.compare_digest(presented, self.required_token)
