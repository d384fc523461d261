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


async def test_0008_adds_shots_on_target_to_a_database_at_0007(empty, monkeypatch):
    """A database at 0007 with a match in it: 0008 adds the two nullable columns, the match
    keeps its row with NULL shots (until its file is ingested again) and new ones store them."""
    every = migrations.load(empty.dialect.name)
    assert [(m.version, m.name) for m in every if m.version in (7, 8)] == [
        (7, "bbmax_pre_odds"),
        (8, "shots_on_target"),
    ]
    monkeypatch.setattr(migrations, "load", lambda dialect: [m for m in every if m.version <= 7])
    await migrations.upgrade(empty)
    async with empty.begin() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO leagues (id, code, name, country) "
                "VALUES (1, 'E0', 'Premier League', 'England')"
            )
        )
        await conn.execute(
            sa.text(
                "INSERT INTO teams (id, name, country) "
                "VALUES (1, 'A', 'England'), (2, 'B', 'England')"
            )
        )
        await conn.execute(
            sa.text(
                "INSERT INTO matches (id, league_id, season, match_date, home_team_id, "
                "away_team_id, home_goals, away_goals, result) "
                "VALUES (1, 1, '2324', '2023-08-12', 1, 2, 2, 1, 'H')"
            )
        )
        columns = await conn.run_sync(lambda c: sa.inspect(c).get_columns("matches"))
    assert "home_shots_on_target" not in {c["name"] for c in columns}
    monkeypatch.setattr(migrations, "load", lambda dialect: every)
    applied = await migrations.upgrade(empty)
    assert [m.version for m in applied] == [m.version for m in every if m.version > 7]
    async with empty.begin() as conn:
        columns = await conn.run_sync(lambda c: sa.inspect(c).get_columns("matches"))
        shots = {c["name"]: c for c in columns if c["name"].endswith("_shots_on_target")}
        assert list(shots) == ["home_shots_on_target", "away_shots_on_target"]
        assert all(c["nullable"] and isinstance(c["type"], sa.Integer) for c in shots.values())
        old = (
            await conn.execute(
                sa.text("SELECT home_shots_on_target, away_shots_on_target FROM matches")
            )
        ).one()
        assert tuple(old) == (None, None)
        await conn.execute(
            sa.text(
                "INSERT INTO matches (id, league_id, season, match_date, home_team_id, "
                "away_team_id, home_goals, away_goals, result, home_shots_on_target, "
                "away_shots_on_target) VALUES (2, 1, '2324', '2023-08-19', 2, 1, 0, 0, 'D', 5, 3)"
            )
        )
        new = (
            await conn.execute(
                sa.text(
                    "SELECT home_shots_on_target, away_shots_on_target FROM matches WHERE id = 2"
                )
            )
        ).one()
    assert tuple(new) == (5, 3)
    assert (await migrations.status(empty)).current == every[-1].version
