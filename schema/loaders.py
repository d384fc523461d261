"""Dataloaders: relations resolve in one query per level, never one per row (N+1)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.dataloader import DataLoader

from server.store.tables import Match, Model, Team, TrainingRun

__all__ = ["Loaders"]


class Loaders:
    """Made per HTTP request (cache=True) or per WebSocket connection (no cache: the
    connection lives long and the registry changes under it)."""

    def __init__(self, engine: AsyncEngine, cache: bool = True) -> None:
        self.engine = engine
        self.model_by_id = DataLoader(self._models, cache=cache)
        self.team_by_id = DataLoader(self._teams, cache=cache)
        self.teams_by_league = DataLoader(self._teams_by_league, cache=cache)
        self.runs_by_model = DataLoader(self._runs_by_model, cache=cache)
        self.weights_by_model = DataLoader(self._weights, cache=cache)

    async def _fetch(self, query: Any) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).all())

    async def _models(self, ids: Sequence[int]) -> list[dict[str, Any] | None]:
        columns = [c for c in Model.__table__.c if c.name != "model_weights"]
        rows = await self._fetch(sa.select(*columns).where(Model.id.in_(ids)))
        found = {r.id: dict(r._mapping) for r in rows}
        return [found.get(i) for i in ids]

    async def _teams(self, ids: Sequence[int]) -> list[dict[str, Any] | None]:
        rows = await self._fetch(sa.select(Team.__table__).where(Team.id.in_(ids)))
        found = {r.id: dict(r._mapping) for r in rows}
        return [found.get(i) for i in ids]

    async def _teams_by_league(self, ids: Sequence[int]) -> list[list[dict[str, Any]]]:
        """The teams that played in each league (by league id), by name."""
        m, t = Match.__table__, Team.__table__
        played = sa.union(
            sa.select(m.c.league_id, m.c.home_team_id.label("team_id")),
            sa.select(m.c.league_id, m.c.away_team_id.label("team_id")),
        ).subquery()
        rows = await self._fetch(
            sa.select(played.c.league_id, t.c.id, t.c.name, t.c.country)
            .join(t, t.c.id == played.c.team_id)
            .where(played.c.league_id.in_(ids))
            .order_by(t.c.name)
        )
        grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            grouped[r.league_id].append({"id": r.id, "name": r.name, "country": r.country})
        return [grouped.get(i, []) for i in ids]

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
