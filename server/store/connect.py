"""Opening the database: an engine on an up-to-date schema, for every process."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.base.config import Settings
from server.store import migrations
from server.store.db import DatabaseError, create_engine, describe

__all__ = ["open_database"]


async def open_database(settings: Settings) -> AsyncEngine:
    """An engine on an up-to-date schema.

    The embedded SQLite file is created and migrated on first use; a PostgreSQL database
    must have been upgraded with ``fpe db upgrade`` (a deploy step, not a side effect).
    """
    engine = create_engine(settings.database_url)
    try:
        if settings.embedded:
            await migrations.upgrade(engine)
            return engine
        state = await migrations.status(engine)
    except (OSError, SQLAlchemyError) as exc:
        await engine.dispose()
        reason = getattr(exc, "orig", None) or exc
        raise DatabaseError(
            f"cannot use the database {describe(settings.database_url)}: {reason}"
        ) from exc
    except migrations.MigrationError:
        await engine.dispose()
        raise
    if state.pending:
        await engine.dispose()
        raise DatabaseError(
            f"the database schema is at version {state.current} but this code needs "
            f"{state.pending[-1].version}: run `fpe db upgrade`"
        )
    return engine
