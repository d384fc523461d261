"""Engines and sessions for PostgreSQL (asyncpg) and the embedded SQLite file (aiosqlite)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from core.errors import FPEError

__all__ = [
    "DATABASE_ERRORS",
    "RETRY_AFTER_SECONDS",
    "DatabaseError",
    "begin_write",
    "create_engine",
    "describe",
    "describe_error",
    "is_transient",
    "outage",
    "session_factory",
]

BUSY_TIMEOUT_MS = 30_000
"""How long an SQLite writer waits for another writer before "database is locked"."""


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; for SQLite, the data directory is created and every connection gets
    foreign keys, WAL, a busy timeout and real transactions: deferred ``BEGIN`` for reads
    (in WAL mode a reader never waits for a writer) and ``BEGIN IMMEDIATE`` for the
    transactions opened with :func:`begin_write`."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return _create_async_engine(url, pool_pre_ping=True, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = _create_async_engine(url, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy, not sqlite3, starts transactions
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get("fpe_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def begin_write(engine: AsyncEngine) -> AbstractAsyncContextManager[AsyncConnection]:
    """A write transaction: ``async with begin_write(engine) as conn``.

    On SQLite it starts with ``BEGIN IMMEDIATE``, taking the write lock up front (waiting
    up to the busy timeout for another writer), so a transaction that reads before it
    writes cannot fail half-way with "database is locked". Anything else is a deferred
    read transaction. On PostgreSQL it is ``engine.begin()``.
    """
    return engine.execution_options(fpe_write=True).begin()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class DatabaseError(FPEError):
    """The database cannot be used; the message says which and why."""

    code = "SERVICE_UNAVAILABLE"
    http_status = 503


# SQLSTATEs a retry may cure besides class 08 (connection exceptions): the server shutting
# down or restarting (admin_shutdown, crash_shutdown, cannot_connect_now) and too many
# connections
_TRANSIENT_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def is_transient(exc: BaseException) -> bool:
    """A database error that a retry may cure: the server is unreachable or restarting."""
    if isinstance(exc, OperationalError | InterfaceError | OSError | ConnectionError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        # the driver's error, and what it wraps (SQLAlchemy's asyncpg adapter wraps
        # asyncpg's own exception and copies its SQLSTATE)
        cause: BaseException | None = exc.orig
        while cause is not None:
            code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None) or ""
            if code.startswith("08") or code in _TRANSIENT_SQLSTATES:
                return True
            name = type(cause).__name__
            if "Connect" in name or "CannotConnectNow" in name or "AdminShutdown" in name:
                return True
            cause = cause.__cause__
    return False


def describe_error(exc: BaseException) -> str:
    """A one-line cause for users: the driver's error, without SQL or traceback."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
    return f"{type(orig).__name__}: {text}" if text else type(orig).__name__


RETRY_AFTER_SECONDS = 5
"""The ``Retry-After`` given with a 503 for a database outage."""

# What a database call may raise when the server is away: SQLAlchemy's errors, and the
# OSError itself for a refused or timed-out connect (asyncpg raises those unwrapped).
# :func:`outage` tells an outage from a bug among them.
DATABASE_ERRORS = (SQLAlchemyError, ConnectionError, TimeoutError)


def outage(exc: BaseException) -> DatabaseError | None:
    """The answer to give for ``exc`` when it means the database is unreachable or
    restarting (a 503 a client may retry), else ``None`` (a bug, or bad data)."""
    if not is_transient(exc):
        return None
    return DatabaseError(f"the database is unavailable ({describe_error(exc)}); retry shortly")


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)
