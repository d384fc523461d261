"""fpe db upgrade: from empty, re-run as a no-op, append-only, concurrent upgrades."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from server.store import migrations
from server.store.db import create_engine


@pytest.fixture(params=["postgresql", "sqlite"])
async def empty(request, database_url):
    engine = create_engine(await database_url(request.param))
    yield engine
    await engine.dispose()


def versions(engine) -> list[int]:
    return [m.version for m in migrations.load(engine.dialect.name)]


async def test_upgrade_from_empty_then_rerun_is_a_no_op(empty):
    every = versions(empty)
    assert every[0] == 1
    before = await migrations.status(empty)
    assert before.applied == [] and [m.version for m in before.pending] == every
    applied = await migrations.upgrade(empty)
    assert [m.version for m in applied] == every
    assert await migrations.upgrade(empty) == []
    after = await migrations.status(empty)
    assert after.applied == every and after.pending == [] and after.current == every[-1]
    async with empty.connect() as conn:
        rows = (
            await conn.execute(
                sa.text("SELECT version, name FROM schema_migrations ORDER BY version")
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (m.version, m.name) for m in migrations.load(empty.dialect.name)
    ]
    assert rows[0] == (1, "initial")


async def test_concurrent_upgrades_apply_each_migration_once(empty):
    results = await asyncio.gather(*(migrations.upgrade(empty) for _ in range(4)))
    # each migration applied by exactly one of them
    assert sorted(m.version for r in results for m in r) == versions(empty)
    assert (await migrations.status(empty)).applied == versions(empty)


async def test_changed_migration_is_refused(empty):
    await migrations.upgrade(empty)
    async with empty.begin() as conn:
        await conn.execute(sa.text("UPDATE schema_migrations SET checksum = 'edited'"))
    with pytest.raises(migrations.MigrationError, match="append-only"):
        await migrations.upgrade(empty)


async def test_migration_from_a_newer_release_is_refused(empty):
    await migrations.upgrade(empty)
    async with empty.begin() as conn:
        await conn.execute(
            sa.text("INSERT INTO schema_migrations (version, name, checksum) VALUES (99, 'x', 'y')")
        )
    with pytest.raises(migrations.MigrationError, match="newer release"):
        await migrations.status(empty)


async def test_failed_migration_leaves_nothing_behind(empty, monkeypatch):
    real = migrations.load(empty.dialect.name)
    broken = migrations.Migration(
        real[-1].version + 1, "broken", "CREATE TABLE half_done (id INTEGER);\nTHIS IS NOT SQL;\n"
    )
    monkeypatch.setattr(migrations, "load", lambda dialect: [*real, broken])
    with pytest.raises(migrations.MigrationError, match="schema upgrade failed"):
        await migrations.upgrade(empty)
    async with empty.connect() as conn:
        tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
    assert "half_done" not in tables and "matches" in tables  # the good ones kept
    assert (await migrations.status(empty)).applied == [m.version for m in real]


def test_statements_are_split_at_line_ends():
    m = migrations.Migration(
        9, "x", "-- comment; not a statement\nCREATE TABLE a (x INT);\nCREATE INDEX i ON a (x);"
    )
    assert m.statements() == ["CREATE TABLE a (x INT)", "CREATE INDEX i ON a (x)"]


def test_sql_files_exist_for_both_dialects_with_the_same_versions():
    assert [m.version for m in migrations.load("postgresql")] == [
        m.version for m in migrations.load("sqlite")
    ]
    with pytest.raises(migrations.MigrationError, match="no migrations"):
        migrations.load("mysql")
