"""Apply the versioned SQL in ``sql/<dialect>/NNNN_name.sql`` in order, once each.

Each migration runs in its own transaction together with its row in ``schema_migrations``
(version, name, SHA-256 of the file), so a failed migration leaves nothing behind.
PostgreSQL upgrades hold an advisory lock; SQLite ones an immediate write lock; two
processes upgrading at once apply each migration exactly once.  A recorded migration whose
file has since changed is an error: migrations are append-only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING

from core.errors import FPEError

if TYPE_CHECKING:  # SQLAlchemy is imported by the functions that use it: reading the
    # migration files (server.store.lite) needs none of it
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["Migration", "MigrationError", "SchemaStatus", "load", "status", "unapplied", "upgrade"]

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x46504501  # "FPE" + 1: the advisory lock of schema upgrades


class MigrationError(FPEError):
    """The database schema cannot be brought up to date; the message says why."""

    code = "SERVICE_UNAVAILABLE"
    http_status = 503


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str = field(repr=False)

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        """The file split on ';' at line ends (our SQL never puts ';' inside a literal)."""
        lines = self.sql.splitlines()
        body = "\n".join(line for line in lines if not line.strip().startswith("--"))
        return [s.strip() for s in re.split(r";\s*(?:\n|$)", body) if s.strip()]


@dataclass(frozen=True)
class SchemaStatus:
    applied: list[int]
    pending: list[Migration]

    @property
    def current(self) -> int:
        return max(self.applied, default=0)


def _dialect_dir(dialect: str) -> resources.abc.Traversable:
    if dialect not in ("postgresql", "sqlite"):
        raise MigrationError(f"no migrations for the {dialect!r} database")
    return resources.files("sql") / dialect


def load(dialect: str) -> list[Migration]:
    """Every migration for ``dialect``, in version order."""
    found = []
    for entry in _dialect_dir(dialect).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two {dialect} migrations share a version number: {versions}")
    return found


def _bootstrap(dialect: str) -> Migration:
    sql = (_dialect_dir(dialect) / "bootstrap.sql").read_text(encoding="utf-8")
    return Migration(0, "bootstrap", sql)


async def _recorded(conn: AsyncConnection) -> dict[int, str]:
    from sqlalchemy import text

    rows = await conn.execute(text("SELECT version, checksum FROM schema_migrations"))
    return {int(v): c for v, c in rows}


def unapplied(recorded: dict[int, str], migrations: list[Migration]) -> list[Migration]:
    """The ``migrations`` not among the ``recorded`` ``{version: checksum}``; a
    :class:`MigrationError` when a recorded one is unknown or has changed."""
    known = {m.version: m for m in migrations}
    for version, checksum in sorted(recorded.items()):
        if version not in known:
            raise MigrationError(
                f"the database has migration {version:04d}, which this version of the code "
                "does not know: it was made by a newer release"
            )
        if known[version].checksum != checksum:
            raise MigrationError(
                f"migration {version:04d}_{known[version].name} changed after it was applied; "
                "migrations are append-only: add a new one instead"
            )
    return [m for m in migrations if m.version not in recorded]


async def _run(conn: AsyncConnection, migration: Migration) -> None:
    for statement in migration.statements():
        await conn.exec_driver_sql(statement)


async def upgrade(engine: AsyncEngine) -> list[Migration]:
    """Apply every pending migration; returns those applied (empty when up to date)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError, OperationalError

    from server.store.db import begin_write

    dialect = engine.dialect.name
    migrations = load(dialect)
    applied: list[Migration] = []
    try:
        async with begin_write(engine) as conn:
            await _lock(conn, dialect)
            await _run(conn, _bootstrap(dialect))
        for migration in migrations:
            async with begin_write(engine) as conn:
                await _lock(conn, dialect)
                pending = unapplied(await _recorded(conn), migrations)
                if migration not in pending:
                    continue  # applied meanwhile by another process
                await _run(conn, migration)
                await conn.execute(
                    text(
                        "INSERT INTO schema_migrations (version, name, checksum) "
                        "VALUES (:v, :n, :c)"
                    ),
                    {"v": migration.version, "n": migration.name, "c": migration.checksum},
                )
            applied.append(migration)
    except (OperationalError, DBAPIError) as exc:
        raise MigrationError(f"schema upgrade failed: {exc.orig}") from exc
    return applied


async def status(engine: AsyncEngine) -> SchemaStatus:
    """Which migrations are applied and which are pending."""
    migrations = load(engine.dialect.name)
    async with engine.connect() as conn:
        has_ledger = await conn.run_sync(
            lambda sync: sync.dialect.has_table(sync, "schema_migrations")
        )
        recorded = await _recorded(conn) if has_ledger else {}
    pending = unapplied(recorded, migrations)
    return SchemaStatus(sorted(recorded), pending)


async def _lock(conn: AsyncConnection, dialect: str) -> None:
    if dialect == "postgresql":
        from sqlalchemy import text

        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    # SQLite: begin_write began with BEGIN IMMEDIATE, which already holds the write lock
