"""The prediction path's reads, each from either database: the SQLAlchemy engine, or a
:class:`~server.store.lite.LiteReader` on the embedded file (so that ``fpe predict``
answers without importing SQLAlchemy).  Each function gives the same rows from both, its
SQLAlchemy query here beside the reader's SQL; SQLAlchemy is imported by the functions
that use it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, TypeAlias

from server.store.lite import LiteReader, TeamRow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "Database",
    "active_models",
    "active_versions",
    "latest_leagues",
    "team_names",
    "teams_and_countries",
]

Database: TypeAlias = "AsyncEngine | LiteReader"
"""Where the prediction path reads."""


async def active_models(db: Database, model_type: str) -> list[tuple[str, str, date | None]]:
    """(version, scope, data_to) of the active models of ``model_type``, best first (latest
    data, then newest)."""
    if isinstance(db, LiteReader):
        return await db.active_models(model_type)
    import sqlalchemy as sa

    from server.store.tables import Model, ModelStatus

    models = Model.__table__
    query = (
        sa.select(models.c.version, models.c.scope, models.c.data_to)
        .where(models.c.model_type == model_type, models.c.status == ModelStatus.ACTIVE)
        .order_by(
            models.c.data_to.desc().nulls_last(),
            models.c.created_at.desc(),
            models.c.id.desc(),
        )
    )
    async with db.connect() as conn:
        return [tuple(row) for row in await conn.execute(query)]


async def active_versions(db: Database) -> list[tuple[str, str, str]]:
    """(version, model type, scope) of every active model, by type and version."""
    if isinstance(db, LiteReader):
        return await db.active_versions()
    import sqlalchemy as sa

    from server.store.tables import Model, ModelStatus

    models = Model.__table__
    query = (
        sa.select(models.c.version, models.c.model_type, models.c.scope)
        .where(models.c.status == ModelStatus.ACTIVE)
        .order_by(models.c.model_type, models.c.version)
    )
    async with db.connect() as conn:
        return [(str(v), str(t), str(s)) for v, t, s in await conn.execute(query)]


async def latest_leagues(db: Database, team_ids: Sequence[int]) -> list[tuple[int, str]]:
    """(team, league code) of each team's latest match date, by team and code."""
    if isinstance(db, LiteReader):
        return await db.latest_leagues(team_ids)
    import sqlalchemy as sa

    from server.store.tables import League, Match

    m, lg = Match.__table__, League.__table__
    played = sa.union_all(
        sa.select(m.c.home_team_id.label("team"), m.c.match_date, m.c.league_id),
        sa.select(m.c.away_team_id.label("team"), m.c.match_date, m.c.league_id),
    ).subquery()
    latest = (
        sa.select(played.c.team, sa.func.max(played.c.match_date).label("last"))
        .where(played.c.team.in_(team_ids))
        .group_by(played.c.team)
        .subquery()
    )
    query = (
        sa.select(played.c.team, lg.c.code)
        .select_from(
            played.join(
                latest,
                sa.and_(latest.c.team == played.c.team, latest.c.last == played.c.match_date),
            ).join(lg, lg.c.id == played.c.league_id)
        )
        .order_by(played.c.team, lg.c.code)
    )
    async with db.connect() as conn:
        return [(int(team), code) for team, code in await conn.execute(query)]


async def team_names(db: Database) -> list[tuple[str, str, str, str]]:
    """(kind, first, country, team) of every team (name), alias (its key, its team) and
    league (code), in one statement."""
    if isinstance(db, LiteReader):
        return await db.team_names()
    import sqlalchemy as sa

    from server.store.tables import League, Team, TeamAlias

    teams, aliases, leagues = Team.__table__, TeamAlias.__table__, League.__table__

    def part(kind: str, *columns: Any) -> sa.Select:
        return sa.select(
            sa.literal(kind).label("kind"), *(c.label(f"c{i}") for i, c in enumerate(columns))
        )

    empty = sa.literal("")
    query = sa.union_all(
        part("team", teams.c.name, teams.c.country, empty),
        part("alias", aliases.c.alias_key, aliases.c.country, aliases.c.team_name),
        part("league", leagues.c.code, leagues.c.country, empty),
    )
    async with db.connect() as conn:
        return [tuple(row) for row in await conn.execute(query)]


async def teams_and_countries(
    db: Database, lowered: Iterable[str], codes: Iterable[str]
) -> tuple[list[TeamRow], dict[str, str]]:
    """The teams whose name in lower case is one of ``lowered``, and the countries of the
    leagues ``codes``."""
    if isinstance(db, LiteReader):
        return await db.teams_named(lowered), await db.league_countries(codes)
    import sqlalchemy as sa

    from server.store.tables import League, Team

    t, lg = Team.__table__, League.__table__
    named = sa.select(t.c.id, t.c.name, t.c.country).where(sa.func.lower(t.c.name).in_(lowered))
    async with db.connect() as conn:
        teams = [TeamRow(*row) for row in await conn.execute(named)]
        leagues = await conn.execute(sa.select(lg.c.code, lg.c.country).where(lg.c.code.in_(codes)))
        return teams, {code: country for code, country in leagues}
