"""The model registry's state changes: which model version of a type is active.

At most one model per ``model_type`` is active.  The database enforces it with a partial
unique index; this module keeps it true under concurrency by serialising promotions of the
same type (a PostgreSQL advisory lock per type; SQLite transactions already serialise).
"""

from __future__ import annotations

import zlib

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.errors import FPEError, InvalidInputError
from server import cache
from server.tables import Model, ModelStatus

__all__ = [
    "ConflictError",
    "ModelNotFoundError",
    "activate_model",
    "archive_model",
    "lock_model_type",
]

_MODELS = Model.__table__
_ACTIVATABLE = {ModelStatus.ACTIVE, ModelStatus.ARCHIVED, ModelStatus.COMPLETED}


class ModelNotFoundError(InvalidInputError):
    """No model has that version."""

    code = "NOT_FOUND"
    http_status = 404


class ConflictError(FPEError):
    """The change lost a race with another one; retrying is safe."""

    code = "CONFLICT"
    http_status = 409


async def lock_model_type(conn: AsyncConnection, model_type: str) -> None:
    """Serialise changes to the active model of one type until the transaction ends."""
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"fpe-model-type:{model_type}".encode())
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


async def _find(conn: AsyncConnection, version: str) -> sa.Row:
    row = (
        await conn.execute(
            sa.select(_MODELS.c.id, _MODELS.c.model_type, _MODELS.c.status).where(
                _MODELS.c.version == version
            )
        )
    ).first()
    if row is None:
        raise ModelNotFoundError(f"no model has version {version!r}")
    return row


async def activate_model(engine: AsyncEngine, version: str) -> None:
    """Make ``version`` the active model of its type and archive the one it replaces, in one
    transaction.  Only a completed, archived or already active model can be activated."""
    model_type = "?"
    try:
        async with engine.begin() as conn:
            model = await _find(conn, version)
            model_type = model.model_type
            await lock_model_type(conn, model.model_type)
            status = (
                await conn.execute(sa.select(_MODELS.c.status).where(_MODELS.c.id == model.id))
            ).scalar_one()
            if status not in _ACTIVATABLE:
                raise InvalidInputError(
                    f"model {version!r} is {status.value}; only a completed or archived model "
                    "can be activated"
                )
            await conn.execute(
                sa.update(_MODELS)
                .where(
                    _MODELS.c.model_type == model.model_type,
                    _MODELS.c.status == ModelStatus.ACTIVE,
                    _MODELS.c.id != model.id,
                )
                .values(status=ModelStatus.ARCHIVED)
            )
            await conn.execute(
                sa.update(_MODELS).where(_MODELS.c.id == model.id).values(status=ModelStatus.ACTIVE)
            )
        cache.invalidate(engine)
    except IntegrityError as exc:
        cache.invalidate(engine)
        raise ConflictError(
            f"another {model_type!r} model was promoted at the same time; try again"
        ) from exc


async def archive_model(engine: AsyncEngine, version: str) -> None:
    """Archive ``version`` (an active model leaves its type with no active model)."""
    async with engine.begin() as conn:
        model = await _find(conn, version)
        await lock_model_type(conn, model.model_type)
        await conn.execute(
            sa.update(_MODELS).where(_MODELS.c.id == model.id).values(status=ModelStatus.ARCHIVED)
        )
    cache.invalidate(engine)
