"""Embedded SQLite under a writer: reads never wait, writes queue instead of failing; and
which database errors a retry may cure (on the real driver classes)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError, IntegrityError

from server.runs.runner import ResultNotStoredError, RunContext, _retry
from server.store.db import begin_write, create_engine, is_disk_full, is_transient, outage
from server.store.tables import League, TrainingRun


async def _statements(engine) -> list[str]:
    """Every BEGIN the engine sends, recorded by a cursor event."""
    seen: list[str] = []

    @sa.event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _record(conn, cursor, statement, *args) -> None:
        if statement.startswith("BEGIN"):
            seen.append(statement)

    return seen


async def test_reads_begin_deferred_and_writes_begin_immediate(database_url):
    engine = create_engine(await database_url("sqlite"))
    seen = await _statements(engine)
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        async with begin_write(engine) as conn:
            await conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        assert seen == ["BEGIN", "BEGIN IMMEDIATE"]
        async with engine.connect() as conn:
            mode = (await conn.execute(sa.text("PRAGMA journal_mode"))).scalar_one()
            timeout = (await conn.execute(sa.text("PRAGMA busy_timeout"))).scalar_one()
        assert mode == "wal" and timeout > 0
    finally:
        await engine.dispose()


async def test_the_api_answers_and_a_run_starts_while_a_writer_holds_the_lock(make_api):
    """The finding: during an ingest, reads waited for the write lock until they failed,
    and a run started meanwhile failed with "database is locked"."""
    app, client = await make_api("sqlite")
    url = app.state.services.settings.database_url
    writer = create_engine(url)  # another process's ingest, holding its transaction open
    try:
        async with begin_write(writer) as conn:
            await conn.execute(sa.update(League).values(name=League.name + " (writing)"))
            # reads answer now, with the last committed state, while the lock is held
            leagues = await client.get("/api/model/leagues")
            assert leagues.status_code == 200
            assert all("(writing)" not in x["name"] for x in leagues.json()["data"])
            query = await client.post("/graphql", json={"query": "{ leagues { code name } }"})
            assert "errors" not in query.json() and query.json()["data"]["leagues"]
            assert (await client.get("/api/model/training-history")).status_code == 200
            assert (await client.get("/readyz")).status_code == 200
            # a run started now waits for the writer instead of failing
            start = asyncio.create_task(
                client.post(
                    "/api/model/train",
                    json={"modelType": "poisson", "leagues": ["E0"], "seasons": ["2223", "2324"]},
                )
            )
            await asyncio.sleep(0.5)
            assert not start.done(), start.result().text  # no row while the lock is held
        started = await start
        assert started.status_code == 202, started.text
        task_id = started.json()["data"]["taskId"]
        for _ in range(600):
            task = (await client.get(f"/api/tasks/{task_id}")).json()["data"]
            if task["status"] in {"completed", "failed", "cancelled"}:
                break
            await asyncio.sleep(0.1)
        assert task["status"] == "completed", task
        assert "locked" not in str(task["error"])
    finally:
        await writer.dispose()


async def test_concurrent_read_then_write_transactions_all_commit(database_url):
    """Each writer reads before it writes; with deferred transactions the second one would
    fail at once with "database is locked" (its snapshot went stale), with BEGIN
    IMMEDIATE it waits its turn."""
    from server.store import migrations

    url = await database_url("sqlite")
    engines = [create_engine(url) for _ in range(4)]
    await migrations.upgrade(engines[0])
    runs = TrainingRun.__table__

    async def bump(engine, i: int) -> None:
        for j in range(5):
            async with begin_write(engine) as conn:
                n = (await conn.execute(sa.select(sa.func.count()).select_from(runs))).scalar()
                await conn.execute(
                    sa.insert(runs).values(
                        task_id=f"t{i}-{j}-{n}",
                        run_type="poisson",
                        status="queued",
                        match_count=0,
                        config={},
                        logs=[],
                    )
                )

    try:
        await asyncio.gather(*(bump(e, i) for i, e in enumerate(engines)))
        async with engines[0].connect() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(runs))).scalar()
        assert total == 20
    finally:
        for engine in engines:
            await engine.dispose()


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


def test_an_outage_is_a_503_that_names_the_cause() -> None:
    error = outage(_as_sqlalchemy_raises_it(
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down")
    ))  # fmt: skip
    assert error is not None and error.http_status == 503 and error.code == "SERVICE_UNAVAILABLE"
    assert "the database system is shutting down" in str(error)
    assert outage(ValueError("a bug")) is None


def test_plain_connection_failures_are_transient() -> None:
    assert is_transient(ConnectionRefusedError(111, "Connect call failed"))
    assert is_transient(OSError("network unreachable"))
    assert not is_transient(IntegrityError("INSERT", {}, Exception("duplicate")))
    assert not is_transient(ValueError("not a database error"))


# --- a full disk: not an outage to wait out --------------------------------------------------


async def _sqlite_disk_full(tmp_path) -> DBAPIError:
    """The error SQLite really raises when the file cannot grow ("database or disk is full",
    SQLITE_FULL), through SQLAlchemy and aiosqlite: the page count is capped at its size."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'full.sqlite3'}")
    try:
        async with begin_write(engine) as conn:
            await conn.exec_driver_sql("CREATE TABLE t (x BLOB)")
        with pytest.raises(DBAPIError) as raised:
            async with begin_write(engine) as conn:
                await conn.exec_driver_sql("PRAGMA max_page_count = 1")  # no room to grow
                await conn.exec_driver_sql("INSERT INTO t VALUES (zeroblob(1000000))")
        return raised.value
    finally:
        await engine.dispose()


async def test_sqlite_disk_full_is_not_transient_and_says_disk_full(tmp_path) -> None:
    error = await _sqlite_disk_full(tmp_path)
    assert "database or disk is full" in str(error)
    assert is_disk_full(error) and not is_transient(error)
    answer = outage(error)
    assert answer is not None and answer.http_status == 503
    assert "disk is full" in str(answer) and "unavailable" not in str(answer)


def test_postgresql_disk_full_is_not_transient() -> None:
    error = _as_sqlalchemy_raises_it(
        asyncpg.exceptions.DiskFullError("could not extend file: No space left on device")
    )
    assert is_disk_full(error) and not is_transient(error)
    assert is_disk_full(OSError(28, "No space left on device"))  # ENOSPC
    assert not is_transient(OSError(28, "No space left on device"))
    assert not is_disk_full(_as_sqlalchemy_raises_it(
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down")
    ))  # fmt: skip


async def test_a_full_disk_fails_storing_a_result_at_once_and_says_so(tmp_path) -> None:
    """The run that showed "running 97 %" for 110 s, then "the database was unreachable
    for 60 s": with a full disk the result is tried once and the run says "disk is full"."""
    error = await _sqlite_disk_full(tmp_path)
    attempts = []

    async def store() -> None:
        attempts.append(1)
        raise error

    ctx = RunContext(engine=None, events=None, write_budget=60.0)  # type: ignore[arg-type]
    with pytest.raises(ResultNotStoredError) as failed:
        await _retry(ctx, store, "storing the model")
    assert attempts == [1]
    assert "disk is full" in str(failed.value) and "unreachable" not in str(failed.value)
