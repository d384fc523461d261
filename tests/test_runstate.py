"""Which database errors a retry may cure (server/runstate.py), on the real driver classes."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError, IntegrityError

from server.runstate import is_transient


def _as_sqlalchemy_raises_it(error: Exception) -> DBAPIError:
    """What SQLAlchemy's asyncpg dialect raises for ``error``: asyncpg's exception wrapped
    in the adapter's ``Error`` (which copies the SQLSTATE), wrapped in a ``DBAPIError``."""
    adapted = AsyncAdapt_asyncpg_dbapi.Error(error.args[0], error)
    adapted.__cause__ = error
    return DBAPIError.instance(None, None, adapted, AsyncAdapt_asyncpg_dbapi.Error)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        asyncpg.exceptions.CrashShutdownError("terminating connection: crash"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_server_going_away_or_restarting_is_transient(error: Exception) -> None:
    wrapped = _as_sqlalchemy_raises_it(error)
    assert type(wrapped.orig).__name__ == "Error"  # the class name alone says nothing
    assert is_transient(wrapped)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.UniqueViolationError("duplicate key value"),
        asyncpg.exceptions.UndefinedTableError('relation "models" does not exist'),
        asyncpg.exceptions.InvalidTextRepresentationError("invalid input syntax"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_in_the_statement_or_data_are_not_transient(error: Exception) -> None:
    assert not is_transient(_as_sqlalchemy_raises_it(error))


def test_plain_connection_failures_are_transient() -> None:
    assert is_transient(ConnectionRefusedError(111, "Connect call failed"))
    assert is_transient(OSError("network unreachable"))
    assert not is_transient(IntegrityError("INSERT", {}, Exception("duplicate")))
    assert not is_transient(ValueError("not a database error"))
