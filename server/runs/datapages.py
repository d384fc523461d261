"""The legacy app's data pages: batch downloads of football-data.co.uk files logged per batch
with a result per league and season (never all-or-nothing), and the team list and search of
the Data Cleaning page."""

from __future__ import annotations

import difflib
import secrets
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import FPEError, InvalidInputError
from server.formats.leagues import KNOWN_LEAGUES
from server.store import download as files
from server.store.db import begin_write
from server.store.ingest import ingest_file
from server.store.tables import DataBatch, League, Match, Team

__all__ = [
    "FIRST_SEASON",
    "MAX_FILES",
    "SOURCES",
    "batch_download",
    "list_batches",
    "list_teams",
    "search_teams",
    "seasons_for",
]

SOURCES = ("football-data.co.uk", "football-data", "footballdata")
FIRST_SEASON = 2000  # "all": 2000/01 on (football-data.co.uk has odds from then)
MAX_FILES = 60  # files one request may fetch
_B = DataBatch.__table__
_STATS = ("processed", "inserted", "updated", "skipped", "errors")


def _current_start(today: date) -> int:
    """The first year of the season under way (a season starts in July)."""
    return today.year if today.month >= 7 else today.year - 1


def seasons_for(choice: str | None, today: date | None = None) -> list[str]:
    """Season codes, newest first, for ``last7``, ``last10`` or ``all`` (None: the current
    season)."""
    start = _current_start(today or datetime.now(UTC).date())
    count = {None: 1, "last7": 7, "last10": 10, "all": start - FIRST_SEASON + 1}
    if choice not in count:
        raise InvalidInputError(f"season {choice!r} must be last7, last10 or all")
    return [
        f"{(y % 100):02d}{((y + 1) % 100):02d}" for y in range(start, start - count[choice], -1)
    ]


def _source(value: Any) -> str:
    if value is None:
        return SOURCES[0]
    if not isinstance(value, str) or value.strip().lower() not in SOURCES:
        raise InvalidInputError(
            f"source {str(value)[:60]!r} is not one we download from: use football-data.co.uk"
        )
    return SOURCES[0]


def _pairs(leagues: Any, season: Any) -> list[tuple[str, str | None, str | None]]:
    """(league code, season code, problem) for every file asked for, in order."""
    if not isinstance(leagues, list) or not leagues:
        raise InvalidInputError("leagues must be a non-empty list of {code, season?}")
    default = seasons_for(season) if season is not None else None
    out: list[tuple[str, str | None, str | None]] = []
    for i, item in enumerate(leagues):
        if not isinstance(item, dict) or not isinstance(item.get("code"), str):
            raise InvalidInputError(f"leagues[{i}] must be an object {{code, season?}}")
        code = item["code"].strip().upper()[:16]
        if code not in KNOWN_LEAGUES:
            problem = (
                f"football-data.co.uk does not publish a league {code!r}: use one of "
                f"{', '.join(sorted(KNOWN_LEAGUES))}"
            )
            out.append((code, None, problem))
            continue
        own = item.get("season")
        if own is not None:
            try:
                seasons = (
                    seasons_for(own)
                    if own in ("last7", "last10", "all")
                    else [files.season_code(str(own))]
                )
            except InvalidInputError as exc:
                out.append((code, None, str(exc)))
                continue
        else:
            seasons = default or seasons_for(None)
        out.extend((code, s, None) for s in seasons)
    if len(out) > MAX_FILES:
        raise InvalidInputError(
            f"{len(out)} files asked for, more than {MAX_FILES}: ask for fewer leagues or seasons"
        )
    return out


async def _one(
    engine: AsyncEngine, base_url: str, data_dir: Path, league: str, season: str
) -> dict[str, Any]:
    stats = dict.fromkeys(_STATS, 0)
    try:
        [path] = await files.download(base_url, data_dir, [league], [season])
    except FPEError as exc:
        stats["errors"] = 1
        return {"stats": stats, "error": str(exc)}
    report = await ingest_file(engine, path)
    if not report.ok:
        stats["errors"] = 1
        return {"stats": stats, "error": report.error}
    stats.update(
        processed=report.read,
        inserted=report.inserted,
        updated=report.updated,
        skipped=report.unchanged + report.rejected,
        errors=report.rejected,
    )
    return {"stats": stats, "error": None}


async def batch_download(
    engine: AsyncEngine,
    data_dir: Path,
    base_url: str,
    source: Any,
    leagues: Any,
    season: Any = None,
) -> dict[str, Any]:
    """Download and ingest every (league, season) file asked for, one at a time; each gets
    its own result (a failed file writes nothing and does not stop the others).  The batch
    and its results are logged in ``data_batches``."""
    source = _source(source)
    pairs = _pairs(leagues, season)
    batch_id = f"batch-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
    request = {"source": source, "leagues": leagues, "season": season}
    async with begin_write(engine) as conn:
        await conn.execute(
            sa.insert(_B).values(
                batch_id=batch_id,
                source=source,
                status="running",
                request=request,
                started_at=datetime.now(UTC),
            )
        )
    results: list[dict[str, Any]] = []
    for number, (league, season_code, problem) in enumerate(pairs, start=1):
        done: dict[str, Any]
        if problem is not None:
            done = {"stats": dict.fromkeys(_STATS, 0) | {"errors": 1}, "error": problem}
        else:
            assert season_code is not None
            done = await _one(engine, base_url, data_dir, league, season_code)
        results.append(
            {"league_code": league, "season": season_code, "batch_number": number, **done}
        )
    total = {k: sum(r["stats"][k] for r in results) for k in _STATS}
    failed = sum(r["error"] is not None for r in results)
    status = "completed" if failed == 0 else "failed" if failed == len(results) else "partial"
    completed = datetime.now(UTC)
    async with begin_write(engine) as conn:
        await conn.execute(
            sa.update(_B)
            .where(_B.c.batch_id == batch_id)
            .values(status=status, results=results, total_stats=total, completed_at=completed)
        )
    return {
        "batch_id": batch_id,
        "status": status,
        "total_stats": total,
        "results": results,
        "completed_at": completed,
    }


async def list_batches(engine: AsyncEngine, limit: int = 50) -> list[dict[str, Any]]:
    """Logged batches, newest first."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(_B).order_by(_B.c.started_at.desc(), _B.c.id.desc()).limit(limit)
            )
        ).all()
    return [dict(r._mapping) for r in rows]


async def list_teams(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Every team with the league of its latest match (None for a team without matches).
    There are no aliases yet: a team's canonical name is its name."""
    t, m, lg = Team.__table__, Match.__table__, League.__table__
    played = sa.union_all(
        sa.select(m.c.home_team_id.label("team"), m.c.league_id, m.c.match_date),
        sa.select(m.c.away_team_id.label("team"), m.c.league_id, m.c.match_date),
    ).subquery()
    latest = sa.select(
        played.c.team, played.c.league_id, sa.func.max(played.c.match_date).label("last")
    ).group_by(played.c.team, played.c.league_id)
    async with engine.connect() as conn:
        teams = (await conn.execute(sa.select(t.c.id, t.c.name).order_by(t.c.name))).all()
        leagues = {r.id: r.name for r in await conn.execute(sa.select(lg.c.id, lg.c.name))}
        best: dict[int, tuple[Any, int]] = {}
        for team, league_id, last in await conn.execute(latest):
            if team not in best or last > best[team][0]:
                best[team] = (last, league_id)
    out = []
    for team_id, name in teams:
        league_id = best[team_id][1] if team_id in best else None
        out.append(
            {
                "id": team_id,
                "name": name,
                "canonical_name": name,
                "league_id": league_id,
                "league_name": None if league_id is None else leagues.get(league_id),
            }
        )
    return out


def _similarity(query: str, name: str) -> float:
    q, n = query.lower(), name.lower()
    ratio = difflib.SequenceMatcher(None, q, n).ratio()
    if q in n:  # a part of the name: at least as similar as the share of it typed
        ratio = max(ratio, 0.5 + 0.5 * len(q) / len(n))
    return round(ratio, 4)


async def search_teams(engine: AsyncEngine, query: Any, limit: int = 10) -> list[dict[str, Any]]:
    """Teams whose name is like ``query`` (case-insensitive), most similar first, with
    ``similarity`` in [0, 1] (difflib's ratio; a name containing the query scores at least
    0.5 plus half the share of the name typed); below 0.4 is left out."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidInputError("q must be a non-empty search text")
    if len(query) > 100:
        raise InvalidInputError("q is longer than 100 characters")
    query = " ".join(query.split())
    scored = [t | {"similarity": _similarity(query, t["name"])} for t in await list_teams(engine)]
    scored = [t for t in scored if t["similarity"] >= 0.4]
    scored.sort(key=lambda t: (-t["similarity"], t["name"]))
    return scored[:limit]
