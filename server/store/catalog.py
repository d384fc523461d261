"""What the database holds: leagues with their seasons and match counts, teams."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import InvalidInputError
from server.store.tables import League, Match, Team

__all__ = ["list_leagues", "list_teams"]


async def list_leagues(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Every league with its match count, seasons (newest first) and freshness: the date of
    its last match and when a file of it was last ingested."""
    lg, m = League.__table__, Match.__table__
    async with engine.connect() as conn:
        leagues = (await conn.execute(sa.select(lg).order_by(lg.c.country, lg.c.code))).all()
        seasons = await conn.execute(
            sa.select(
                m.c.league_id, m.c.season, sa.func.count(), sa.func.max(m.c.match_date)
            ).group_by(m.c.league_id, m.c.season)
        )
        per: dict[int, dict[str, int]] = {}
        last: dict[int, date] = {}
        for league_id, season, n, newest in seasons:
            per.setdefault(league_id, {})[season] = n
            last[league_id] = max(newest, last.get(league_id, newest))
    return [
        {
            "id": r.id,
            "code": r.code,
            "name": r.name,
            "country": r.country,
            "match_count": sum(per.get(r.id, {}).values()),
            "seasons": sorted(per.get(r.id, {}), reverse=True),
            "last_match_date": last.get(r.id),
            "last_ingest_at": r.last_ingest_at,
        }
        for r in leagues
    ]


async def list_teams(engine: AsyncEngine, league: str | None = None) -> list[dict[str, Any]]:
    """Teams, or the teams that played in ``league``, by name."""
    t, m, lg = Team.__table__, Match.__table__, League.__table__
    query = sa.select(t.c.id, t.c.name, t.c.country).order_by(t.c.name)
    if league is not None:
        async with engine.connect() as conn:
            found = (await conn.execute(sa.select(lg.c.id).where(lg.c.code == league))).first()
        if found is None:
            raise InvalidInputError(f"unknown league {league!r}")
        played = sa.union(
            sa.select(m.c.home_team_id.label("id")).where(m.c.league_id == found[0]),
            sa.select(m.c.away_team_id.label("id")).where(m.c.league_id == found[0]),
        ).subquery()
        query = query.where(t.c.id.in_(sa.select(played.c.id)))
    async with engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(query)]
