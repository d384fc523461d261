"""Saved jackpot results: the user's picks per probability set, the actual results, and the
scores the server computes from them (never the client's)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import InvalidInputError
from server.runs.jackpots import MAX_NAME, JackpotNotFoundError, jackpot_row, text_field
from server.store.db import begin_write, insert_row
from server.store.tables import Jackpot, JackpotFixture, JackpotSavedResult

__all__ = [
    "PICKS",
    "latest_saved_result",
    "list_saved_results",
    "refuse_export",
    "save_result",
    "score",
    "set_actual_results",
]

PICKS = ("1", "X", "2")
_J, _F, _S = Jackpot.__table__, JackpotFixture.__table__, JackpotSavedResult.__table__


def _picks(value: Any, fixture_ids: set[str], what: str, nulls: bool) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidInputError(f"{what} must be an object of fixture id to 1, X or 2")
    out = {}
    for key, pick in value.items():
        if key not in fixture_ids:
            raise InvalidInputError(f"{what}: {str(key)[:64]!r} is not a fixture of this jackpot")
        if pick is None and nulls:
            continue
        if pick not in PICKS:
            raise InvalidInputError(f"{what}[{key}] must be '1', 'X' or '2', not {pick!r}")
        out[key] = pick
    return out


def _selections(value: Any, fixture_ids: set[str]) -> dict[str, dict[str, str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInputError("selections must be an object of set (A-G) to picks")
    out = {}
    for key, picks in value.items():
        if key not in "ABCDEFG" or len(key) != 1:
            raise InvalidInputError(f"selections: {str(key)[:16]!r} is not a set A-G")
        out[key] = _picks(picks, fixture_ids, f"selections[{key}]", nulls=True)
    return out


def score(
    selections: dict[str, dict[str, str]], actual: dict[str, str]
) -> dict[str, dict[str, int]]:
    """Per set: ``total`` picks whose fixture has an actual result, ``correct`` of them."""
    out = {}
    for key, picks in selections.items():
        judged = [f for f in picks if f in actual]
        out[key] = {
            "correct": sum(picks[f] == actual[f] for f in judged),
            "total": len(judged),
        }
    return out


def _saved(row: Any, public_id: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "jackpot_id": public_id,
        "selections": row.selections,
        "actual_results": row.actual_results,
        "scores": row.scores,
        "model_version": row.model_version,
        "total_fixtures": row.total_fixtures,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


async def _fixture_ids(conn: Any, jackpot_id: int) -> set[str]:
    rows = await conn.execute(sa.select(_F.c.fixture_id).where(_F.c.jackpot_id == jackpot_id))
    return {r[0] for r in rows}


async def save_result(
    engine: AsyncEngine,
    public_id: str,
    name: Any,
    description: Any = None,
    selections: Any = None,
    actual_results: Any = None,
) -> dict[str, Any]:
    """Save picks per set (empty is fine) and, optionally, actual results; the scores are
    computed here, never taken from the client."""
    name = text_field(name, "name", MAX_NAME)
    if description is not None and not isinstance(description, str):
        raise InvalidInputError("description must be a string")
    now = datetime.now(UTC)
    async with begin_write(engine) as conn:
        jackpot = await jackpot_row(conn, public_id)
        ids = await _fixture_ids(conn, jackpot.id)
        picks = _selections(selections, ids)
        actual = (
            {} if actual_results is None else _picks(actual_results, ids, "actual_results", True)
        )
        new_id = await insert_row(
            conn,
            _S,
            jackpot_id=jackpot.id,
            name=name,
            description=description,
            selections=picks,
            actual_results=actual,
            scores=score(picks, actual),
            model_version=jackpot.model_version,
            total_fixtures=len(ids),
            created_at=now,
            updated_at=now,
        )
        row = (await conn.execute(sa.select(_S).where(_S.c.id == new_id))).one()
    return _saved(row, public_id)


async def set_actual_results(engine: AsyncEngine, result_id: int, actual: Any) -> dict[str, Any]:
    """Replace a saved result's actual results (nulls dropped) and rescore it.  Idempotent
    and cheap: the same map again reads one row and writes nothing."""
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(_S).where(_S.c.id == result_id))).first()
        if row is None:
            raise JackpotNotFoundError(f"no saved result has id {result_id}")
        public_id = (
            await conn.execute(sa.select(_J.c.public_id).where(_J.c.id == row.jackpot_id))
        ).scalar_one()
        ids = await _fixture_ids(conn, row.jackpot_id)
    picks = _picks(actual, ids, "actual results", nulls=True)
    if picks == row.actual_results:
        return _saved(row, public_id)
    async with begin_write(engine) as conn:
        await conn.execute(
            sa.update(_S)
            .where(_S.c.id == result_id)
            .values(
                actual_results=picks,
                scores=score(row.selections, picks),
                updated_at=datetime.now(UTC),
            )
        )
        row = (await conn.execute(sa.select(_S).where(_S.c.id == result_id))).one()
    return _saved(row, public_id)


async def list_saved_results(
    engine: AsyncEngine, public_id: str | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """Saved results, newest first: of one jackpot, or of all."""
    query = (
        sa.select(_S, _J.c.public_id)
        .join(_J, _J.c.id == _S.c.jackpot_id)
        .order_by(_S.c.created_at.desc(), _S.c.id.desc())
        .limit(limit)
    )
    async with engine.connect() as conn:
        if public_id is not None:
            jackpot = await jackpot_row(conn, public_id)
            query = query.where(_S.c.jackpot_id == jackpot.id)
        rows = (await conn.execute(query)).all()
    return [_saved(r, r.public_id) for r in rows]


async def latest_saved_result(engine: AsyncEngine) -> dict[str, Any] | None:
    rows = await list_saved_results(engine, limit=1)
    return rows[0] if rows else None


def refuse_export(validation_ids: Any) -> None:
    """ "Export to training" does not exist: the engine learns from match results (ingested
    from football-data.co.uk), never from jackpot picks.  Checks the ids' shape, then
    refuses with the reason."""
    if not isinstance(validation_ids, list) or not all(isinstance(v, str) for v in validation_ids):
        raise InvalidInputError('validation_ids must be a list of "<savedResultId>-<set>" strings')
    raise InvalidInputError(
        "nothing was exported: the engine learns from match results, not from jackpot picks. "
        "Ingest the finished matches (fpe download / fpe ingest) and train a new model; the "
        "saved results keep their scores per set here."
    )
