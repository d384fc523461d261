"""The matches a run trains on: its selection read from the database as a frame."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.lazy import lazy
from server.formats.footballdata import ODDS_COLUMNS
from server.runs.runconfig import RunConfig, selection_filter
from server.store.tables import League, Match, MatchOdds, Team

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy("pandas")  # imported on first use: predicting needs no pandas

__all__ = ["load_matches", "team_names"]


async def load_matches(engine: AsyncEngine, config: RunConfig) -> pd.DataFrame:
    """The selected matches with their odds, teams as ids (strings), in date order."""
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
            *(o.c[c] for c in ODDS_COLUMNS),
        )
        .select_from(m.join(lg, lg.c.id == m.c.league_id).outerjoin(o, o.c.match_id == m.c.id))
        .where(*selection_filter(config))
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
        *ODDS_COLUMNS,
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["date"] = pd.to_datetime(frame["date"])
    frame["home_team"] = frame["home_team"].astype(str)
    frame["away_team"] = frame["away_team"].astype(str)
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
