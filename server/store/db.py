"""Engines and sessions for PostgreSQL (asyncpg) and the embedded SQLite file (aiosqlite)."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from core.errors import FPEError
from server.store.unicode import unicode_lower

__all__ = [
    "DATABASE_ERRORS",
    "RETRY_AFTER_SECONDS",
    "DatabaseError",
    "begin_write",
    "create_engine",
    "describe",
    "describe_error",
    "insert_row",
    "is_disk_full",
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
        unicode_lower(dbapi_connection)

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


async def insert_row(conn: AsyncConnection, table: sa.Table, **values: Any) -> int:
    """Insert one row of ``table`` (whose key is ``id``) and return its id."""
    return int(
        (await conn.execute(sa.insert(table).values(**values).returning(table.c.id))).scalar_one()
    )


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


_DISK_FULL_SQLSTATE = "53100"  # PostgreSQL's disk_full


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the driver's error it wraps (``orig``) and their causes."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        cause = todo.pop()
        if cause is None or id(cause) in seen:
            continue
        seen.add(id(cause))
        yield cause
        todo += [getattr(cause, "orig", None), cause.__cause__]


def is_disk_full(exc: BaseException) -> bool:
    """The database's disk is full: SQLite's ``SQLITE_FULL`` ("database or disk is full"),
    PostgreSQL's ``disk_full`` (53100) or ``ENOSPC``.  Not transient: retrying for a minute
    does not free space, so a run fails at once and says so."""
    for cause in _causes(exc):
        if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
            return True
        if isinstance(cause, sqlite3.Error) and (
            getattr(cause, "sqlite_errorcode", -1) & 0xFF == sqlite3.SQLITE_FULL
            or "database or disk is full" in str(cause)
        ):
            return True
        code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        if code == _DISK_FULL_SQLSTATE:
            return True
    return False


def is_transient(exc: BaseException) -> bool:
    """A database error that a retry may cure: the server is unreachable or restarting
    (a full disk is not: :func:`is_disk_full`)."""
    if is_disk_full(exc):
        return False
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
    restarting (a 503 a client may retry), or its disk is full, else ``None`` (a bug, or
    bad data)."""
    if is_disk_full(exc):
        return DatabaseError(
            f"the database's disk is full ({describe_error(exc)}): nothing can be stored "
            "until space is freed"
        )
    if not is_transient(exc):
        return None
    return DatabaseError(f"the database is unavailable ({describe_error(exc)}); retry shortly")


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)
