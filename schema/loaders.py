"""Dataloaders: relations resolve in one query per level, never one per row (N+1)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.dataloader import DataLoader

from server.tables import Model, Team, TrainingRun

__all__ = ["Loaders"]


class Loaders:
    """Made per request (cache=True) or per WebSocket operation (no cache)."""

    def __init__(self, engine: AsyncEngine, cache: bool = True) -> None:
        self.engine = engine
        self.queries = 0  # for the N+1 tests
        self.model_by_id = DataLoader(self._models, cache=cache)
        self.team_by_id = DataLoader(self._teams, cache=cache)
        self.runs_by_model = DataLoader(self._runs_by_model, cache=cache)
        self.weights_by_model = DataLoader(self._weights, cache=cache)

    async def _fetch(self, query: Any) -> list[Any]:
        self.queries += 1
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).all()

    async def _models(self, ids: Sequence[int]) -> list[dict[str, Any] | None]:
        columns = [c for c in Model.__table__.c if c.name != "model_weights"]
        rows = await self._fetch(sa.select(*columns).where(Model.id.in_(ids)))
        found = {r.id: dict(r._mapping) for r in rows}
        return [found.get(i) for i in ids]

    async def _teams(self, ids: Sequence[int]) -> list[dict[str, Any] | None]:
        rows = await self._fetch(sa.select(Team.__table__).where(Team.id.in_(ids)))
        found = {r.id: dict(r._mapping) for r in rows}
        return [found.get(i) for i in ids]

    async def _weights(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        rows = await self._fetch(sa.select(Model.id, Model.model_weights).where(Model.id.in_(ids)))
        found = {r.id: r.model_weights or {} for r in rows}
        return [found.get(i, {}) for i in ids]

    async def _runs_by_model(self, ids: Sequence[int]) -> list[list[dict[str, Any]]]:
        rows = await self._fetch(
            sa.select(TrainingRun.__table__)
            .where(TrainingRun.model_id.in_(ids))
            .order_by(TrainingRun.id)
        )
        grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            grouped[r.model_id].append(dict(r._mapping))
        return [grouped.get(i, []) for i in ids]
