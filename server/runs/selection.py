"""Which matches: a :class:`Selection` (leagues, seasons, a date range), checked for shape
by :func:`parse_selection` and read from the database as a frame by :func:`load_matches`.
A training run trains on one; an evaluation scores a model on one."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import InvalidInputError
from core.last_match import SHOTS_COLUMNS
from core.lazy import pandas as pd
from core.sources import ODDS_COLUMNS
from server.base.dates import as_date
from server.store.tables import League, Match, MatchOdds, Team

__all__ = [
    "SELECTION_FIELDS",
    "Selection",
    "SelectionError",
    "load_matches",
    "parse_selection",
    "selection_filter",
    "team_names",
]

SELECTION_FIELDS = ("leagues", "seasons", "date_from", "date_to")


class SelectionError(InvalidInputError):
    """A selection that cannot be used; ``field`` names the offending input."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Selection:
    """Matches of ``leagues`` (codes), within ``seasons`` when given, between ``date_from``
    and ``date_to`` (inclusive) when given."""

    leagues: tuple[str, ...]
    seasons: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None


def _date(value: Any, name: str) -> date | None:
    try:
        return as_date(value)
    except ValueError:
        raise SelectionError(f"{name} {value!r} is not a date (YYYY-MM-DD)", name) from None


def _strings(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(x, str) for x in value)


def parse_selection(data: dict[str, Any]) -> Selection:
    """Shape checks of the selection's fields of ``data`` (other keys are ignored)."""
    leagues = data.get("leagues") or []
    if not _strings(leagues) or not leagues:
        raise SelectionError("leagues must be a non-empty list of codes such as E0", "leagues")
    seasons = data.get("seasons") or []
    if not _strings(seasons):
        raise SelectionError("seasons must be a list of codes such as 2324", "seasons")
    selection = Selection(
        leagues=tuple(sorted({x.strip().upper() for x in leagues})),
        seasons=tuple(sorted({x.strip() for x in seasons})),
        date_from=_date(data.get("date_from"), "date_from"),
        date_to=_date(data.get("date_to"), "date_to"),
    )
    if selection.date_from and selection.date_to and selection.date_from > selection.date_to:
        raise SelectionError(
            f"date_from {selection.date_from} is after date_to {selection.date_to}", "date_from"
        )
    return selection


def selection_filter(selection: Selection) -> list[sa.ColumnElement[bool]]:
    m, lg = Match.__table__, League.__table__
    where: list[sa.ColumnElement[bool]] = [lg.c.code.in_(selection.leagues)]
    if selection.seasons:
        where.append(m.c.season.in_(selection.seasons))
    if selection.date_from:
        where.append(m.c.match_date >= selection.date_from)
    if selection.date_to:
        where.append(m.c.match_date <= selection.date_to)
    return where


async def load_matches(engine: AsyncEngine, selection: Selection) -> pd.DataFrame:
    """The selected matches with their shots on target (nullable Int64: NULL in a match
    ingested before migration 0008 until its file is ingested again) and odds, teams as
    ids (strings), in date order."""
    m, lg, o = Match.__table__, League.__table__, MatchOdds.__table__
    query = (
        sa.select(
            m.c.match_date,
            lg.c.code,
            lg.c.country,
            m.c.season,
            m.c.home_team_id,
            m.c.away_team_id,
            m.c.home_goals,
            m.c.away_goals,
            m.c.result,
            *(m.c[c] for c in SHOTS_COLUMNS),
            *(o.c[c] for c in ODDS_COLUMNS),
        )
        .select_from(m.join(lg, lg.c.id == m.c.league_id).outerjoin(o, o.c.match_id == m.c.id))
        .where(*selection_filter(selection))
        .order_by(m.c.match_date, m.c.id)
    )
    async with engine.connect() as conn:
        rows = list((await conn.execute(query)).all())
    # tens of thousands of rows: building the frame is CPU work, kept off the event loop
    # (in a worker it would delay the heartbeat)
    return await asyncio.to_thread(_match_frame, rows)


def _match_frame(rows: list[Any]) -> pd.DataFrame:
    columns = [
        "date",
        "league",
        "country",
        "season",
        "home_team",
        "away_team",
        "home_goals",
        "away_goals",
        "result",
        *SHOTS_COLUMNS,
        *ODDS_COLUMNS,
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["date"] = pd.to_datetime(frame["date"])
    frame["home_team"] = frame["home_team"].astype(str)
    frame["away_team"] = frame["away_team"].astype(str)
    for c in SHOTS_COLUMNS:  # nullable integers, as the parser gives them from the files
        frame[c] = pd.to_numeric(frame[c]).astype("Int64")
    for c in ODDS_COLUMNS:
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)
    return frame


async def team_names(engine: AsyncEngine, ids: list[str]) -> dict[str, str]:
    t = Team.__table__
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(t.c.id, t.c.name).where(t.c.id.in_([int(i) for i in ids]))
        )
        return {str(i): n for i, n in rows}
