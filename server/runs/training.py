"""Training runs: create one (queued), find it by task id or idempotency key, list them.
The configuration is :mod:`server.runs.runconfig`, the matches :mod:`server.runs.selection`, state
changes :mod:`server.runs.runstate`, models :mod:`server.runs.registry`.  GraphQL, REST, the CLI and
the worker all call these functions.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import InvalidInputError, NotFoundError
from server.runs.registry import parse_status
from server.runs.runconfig import RunConfig, ValidationError
from server.store.db import begin_write
from server.store.tables import Model, ModelStatus, TrainingRun

__all__ = [
    "IdempotencyConflictError",
    "RunNotFoundError",
    "create_run",
    "delete_queued_run",
    "get_run",
    "list_runs",
    "list_runs_by_id",
    "new_task_id",
    "new_version",
    "run_for_key",
]

_RUNS = TrainingRun.__table__
_MODELS = Model.__table__
WAITING = "waiting for a worker"  # a queued run's message
MAX_IDEMPOTENCY_KEY = 255


class RunNotFoundError(NotFoundError):
    """No training run has that task id."""


class IdempotencyConflictError(ValidationError):
    """An idempotency key reused for a different training configuration."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "idempotency_key")


def new_task_id() -> str:
    return uuid.uuid4().hex


def new_version(model_type: str, task_id: str, now: datetime | None = None) -> str:
    """Readable and unique: type, UTC timestamp and a short id."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{model_type}-{stamp}-{task_id[:6]}"


async def create_run(
    engine: AsyncEngine,
    config: RunConfig,
    match_count: int,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Create a queued run.  An ``idempotency_key`` that another run holds already is an
    :class:`IntegrityError` (see :func:`run_for_key`)."""
    task_id = new_task_id()
    async with begin_write(engine) as conn:
        await conn.execute(
            sa.insert(_RUNS).values(
                task_id=task_id,
                run_type=config.model_type,
                status=ModelStatus.QUEUED,
                date_from=config.date_from,
                date_to=config.date_to,
                match_count=match_count,
                config=config.to_json(),
                phase="queued",
                message=WAITING,
                logs=[],
                idempotency_key=idempotency_key,
            )
        )
    return await get_run(engine, task_id)


async def run_for_key(engine: AsyncEngine, key: str, config: RunConfig) -> dict[str, Any] | None:
    """The run created with idempotency ``key``, if any; the same key with another
    configuration is an :class:`IdempotencyConflictError`."""
    async with engine.connect() as conn:
        task_id = (
            await conn.execute(sa.select(_RUNS.c.task_id).where(_RUNS.c.idempotency_key == key))
        ).scalar()
    if task_id is None:
        return None
    run = await get_run(engine, task_id)
    if run["config"] != config.to_json():
        raise IdempotencyConflictError(
            f"idempotency key {key!r} was used for run {task_id} with another configuration",
        )
    return run


async def delete_queued_run(engine: AsyncEngine, task_id: str) -> None:
    """Undo :func:`create_run` when the job could not be queued (no orphan rows)."""
    async with begin_write(engine) as conn:
        await conn.execute(
            sa.delete(_RUNS).where(_RUNS.c.task_id == task_id, _RUNS.c.status == "queued")
        )


def _run_dict(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["status"] = ModelStatus(data["status"]).value
    return data


async def get_run(engine: AsyncEngine, task_id: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(_RUNS, _MODELS.c.version.label("model_version"))
                .select_from(_RUNS.outerjoin(_MODELS, _MODELS.c.id == _RUNS.c.model_id))
                .where(_RUNS.c.task_id == task_id)
            )
        ).first()
    if row is None:
        raise RunNotFoundError(f"no training run has task id {task_id!r}")
    return _run_dict(row)


async def list_runs(
    engine: AsyncEngine, status: str | None = None, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    if not 1 <= limit <= 500 or offset < 0:
        raise InvalidInputError("limit must be 1..500 and offset >= 0")
    query = (
        sa.select(
            _RUNS,
            _MODELS.c.version.label("model_version"),
            _MODELS.c.status.label("model_status"),
        )
        .select_from(_RUNS.outerjoin(_MODELS, _MODELS.c.id == _RUNS.c.model_id))
        .order_by(_RUNS.c.created_at.desc(), _RUNS.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if status is not None:
        query = query.where(_RUNS.c.status == parse_status(status))
    async with engine.connect() as conn:
        return [_run_dict(r) for r in await conn.execute(query)]


async def list_runs_by_id(engine: AsyncEngine, ids: list[int]) -> list[dict[str, Any]]:
    query = (
        sa.select(_RUNS, _MODELS.c.version.label("model_version"))
        .select_from(_RUNS.outerjoin(_MODELS, _MODELS.c.id == _RUNS.c.model_id))
        .where(_RUNS.c.id.in_(ids))
    )
    async with engine.connect() as conn:
        return [_run_dict(r) for r in await conn.execute(query)]
