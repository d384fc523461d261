"""Jackpot templates: saved lists of fixtures with their odds ("Save List" on the Jackpot
Input page), checked by the same rules as a jackpot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import InvalidInputError
from server.runs.jackpots import (
    MAX_NAME,
    FixtureIn,
    JackpotNotFoundError,
    parse_fixtures,
    text_field,
)
from server.store.db import begin_write, insert_row
from server.store.tables import JackpotTemplate

__all__ = [
    "create_template",
    "delete_template",
    "get_template",
    "list_templates",
    "template_fixtures",
]

_T = JackpotTemplate.__table__


def _template(row: Any, with_fixtures: bool) -> dict[str, Any]:
    out = {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "fixture_count": len(row.fixtures),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
    if with_fixtures:
        out["fixtures"] = row.fixtures
    return out


async def create_template(
    engine: AsyncEngine, name: Any, description: Any, fixtures: list[FixtureIn]
) -> dict[str, Any]:
    name = text_field(name, "name", MAX_NAME)
    if description is not None and not isinstance(description, str):
        raise InvalidInputError("description must be a string")
    now = datetime.now(UTC)
    async with begin_write(engine) as conn:
        new_id = await insert_row(
            conn,
            _T,
            fixtures=[f.to_json() for f in fixtures],
            name=name,
            description=description,
            created_at=now,
            updated_at=now,
        )
        row = (await conn.execute(sa.select(_T).where(_T.c.id == new_id))).one()
    return _template(row, with_fixtures=True)


async def list_templates(engine: AsyncEngine, limit: int = 50) -> tuple[list[dict[str, Any]], int]:
    """(newest ``limit`` templates without their fixtures, how many there are)."""
    async with engine.connect() as conn:
        total = (await conn.execute(sa.select(sa.func.count()).select_from(_T))).scalar_one()
        rows = (
            await conn.execute(
                sa.select(_T).order_by(_T.c.created_at.desc(), _T.c.id.desc()).limit(limit)
            )
        ).all()
    return [_template(r, with_fixtures=False) for r in rows], int(total)


async def get_template(engine: AsyncEngine, template_id: int) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(_T).where(_T.c.id == template_id))).first()
    if row is None:
        raise JackpotNotFoundError(f"no template has id {template_id}")
    return _template(row, with_fixtures=True)


async def delete_template(engine: AsyncEngine, template_id: int) -> None:
    async with begin_write(engine) as conn:
        gone = await conn.execute(sa.delete(_T).where(_T.c.id == template_id))
    if gone.rowcount == 0:
        raise JackpotNotFoundError(f"no template has id {template_id}")


def template_fixtures(template: dict[str, Any]) -> list[FixtureIn]:
    """A template's stored fixtures as :class:`FixtureIn` (checked again: the rules hold)."""
    return parse_fixtures(
        [
            {
                "id": f["id"],
                "homeTeam": f["home"],
                "awayTeam": f["away"],
                "odds": dict(zip(("home", "draw", "away"), f["odds"], strict=True)),
                "matchDate": f.get("match_date"),
                "league": f.get("league"),
            }
            for f in template["fixtures"]
        ]
    )
