"""The ORM in server/tables.py matches the SQL in sql/, proved by reflection on both dialects."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa

from server.store import migrations
from server.store.db import create_engine
from server.store.tables import Base, ModelStatus


def _norm_default(text: Any) -> str | None:
    if text is None:
        return None
    value = str(text).strip()
    while value.startswith("(") and value.endswith(")"):
        value = value[1:-1].strip()
    value = re.sub(r"::[a-z_ ]+(\[\])?", "", value)  # PostgreSQL casts
    return value.lower()


def _orm_default(column: sa.Column, dialect: sa.Dialect) -> str | None:
    default = column.server_default
    if default is None:
        return None
    arg = default.arg
    text = arg if isinstance(arg, str) else str(arg.compile(dialect=dialect))
    if isinstance(arg, str):
        text = f"'{arg}'"
    return _norm_default(text)


def _norm_where(text: Any) -> str | None:
    if text is None:
        return None
    value = re.sub(r"::[a-z_]+", "", str(text)).replace("(", "").replace(")", "")
    return " ".join(value.lower().split())


def _reflect(sync_conn: sa.Connection) -> dict[str, Any]:
    inspector = sa.inspect(sync_conn)
    out: dict[str, Any] = {"tables": {}}
    for table in inspector.get_table_names():
        out["tables"][table] = {
            "columns": inspector.get_columns(table),
            "pk": inspector.get_pk_constraint(table)["constrained_columns"],
            "fks": inspector.get_foreign_keys(table),
            "uniques": inspector.get_unique_constraints(table),
            "indexes": inspector.get_indexes(table),
            "checks": inspector.get_check_constraints(table),
        }
    if sync_conn.dialect.name == "postgresql":
        out["enums"] = {e["name"]: e["labels"] for e in inspector.get_enums()}
    return out


@pytest.fixture(params=["postgresql", "sqlite"])
async def reflected(request, database_url):
    engine = create_engine(await database_url(request.param))
    await migrations.upgrade(engine)
    async with engine.connect() as conn:
        data = await conn.run_sync(_reflect)
    yield engine.dialect, data
    await engine.dispose()


def test_same_tables(reflected):
    _, db = reflected
    assert set(db["tables"]) == set(Base.metadata.tables)


def test_columns_types_nullability_and_defaults(reflected):
    dialect, db = reflected
    for name, table in Base.metadata.tables.items():
        columns = db["tables"][name]["columns"]
        assert [c["name"] for c in columns] == [c.name for c in table.columns], name
        for col, reflected_col in zip(table.columns, columns, strict=True):
            where = f"{name}.{col.name}"
            orm_type = col.type.compile(dialect=dialect)
            db_type = reflected_col["type"].compile(dialect=dialect)
            assert orm_type == db_type, f"{where}: ORM {orm_type} but database {db_type}"
            assert col.nullable == reflected_col["nullable"], f"{where}: nullability"
            db_default = _norm_default(reflected_col.get("default"))
            if db_default and db_default.startswith("nextval"):
                db_default = None  # SERIAL: the ORM's autoincrement primary key
            assert _orm_default(col, dialect) == db_default, f"{where}: server default"


def test_keys_and_foreign_keys(reflected):
    _, db = reflected
    for name, table in Base.metadata.tables.items():
        info = db["tables"][name]
        assert info["pk"] == [c.name for c in table.primary_key.columns], name
        orm_fks = {
            (
                tuple(fk.parent.name for fk in c.elements),
                c.referred_table.name,
                tuple(fk.column.name for fk in c.elements),
                (c.ondelete or "").upper() or None,
            )
            for c in table.foreign_key_constraints
        }
        db_fks = {
            (
                tuple(fk["constrained_columns"]),
                fk["referred_table"],
                tuple(fk["referred_columns"]),
                (fk.get("options", {}).get("ondelete") or "").upper() or None,
            )
            for fk in info["fks"]
        }
        assert orm_fks == db_fks, name


def test_unique_and_check_constraints(reflected):
    dialect, db = reflected
    for name, table in Base.metadata.tables.items():
        info = db["tables"][name]
        orm_uniques = {
            (c.name, tuple(col.name for col in c.columns))
            for c in table.constraints
            if isinstance(c, sa.UniqueConstraint) and not isinstance(c, sa.PrimaryKeyConstraint)
        }
        db_uniques = {(u["name"], tuple(u["column_names"])) for u in info["uniques"]}
        assert orm_uniques == db_uniques, name
        orm_checks = {
            c.name
            for c in table.constraints
            if isinstance(c, sa.CheckConstraint)
            and (not c.name.startswith("model_status") or dialect.name == "sqlite")
        }
        orm_checks |= _enum_checks(table, dialect)
        db_checks = {c["name"] for c in info["checks"]}
        assert orm_checks == db_checks, name


def _enum_checks(table: sa.Table, dialect: sa.Dialect) -> set[str]:
    """Non-native enums become named CHECK constraints (SQLite)."""
    if dialect.name != "sqlite":
        return set()
    return {c.type.name for c in table.columns if isinstance(c.type, sa.Enum)}


def test_indexes_including_partial_ones(reflected):
    dialect, db = reflected
    for name, table in Base.metadata.tables.items():
        orm = {
            (
                ix.name,
                tuple(c.name for c in ix.columns),
                bool(ix.unique),
                _norm_where(ix.dialect_options[dialect.name].get("where")),
            )
            for ix in table.indexes
        }
        reflected_indexes = [
            ix for ix in db["tables"][name]["indexes"] if not ix.get("duplicates_constraint")
        ]
        found = {
            (
                ix["name"],
                tuple(ix["column_names"]),
                bool(ix["unique"]),
                _norm_where(ix.get("dialect_options", {}).get(f"{dialect.name}_where")),
            )
            for ix in reflected_indexes
        }
        assert orm == found, name


async def test_postgres_enum_values(database_url):
    # SQLite has no enum types: its CHECK constraint is compared with the others above
    engine = create_engine(await database_url("postgresql"))
    await migrations.upgrade(engine)
    async with engine.connect() as conn:
        db = await conn.run_sync(_reflect)
    await engine.dispose()
    assert db["enums"] == {"model_status": [s.value for s in ModelStatus]}
