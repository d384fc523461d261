"""SQLite's ``lower()`` as Python's: SQLite's own folds ASCII letters only, so a team
stored as 'ÇAYKUR' kept its capitals and could not be found by name; PostgreSQL's folds
every letter.  Both the SQLAlchemy engine and the sqlite3 reader install it."""

from __future__ import annotations

from typing import Any

__all__ = ["unicode_lower"]


def unicode_lower(connection: Any) -> None:
    """Replace ``lower()`` on a SQLite DB-API ``connection``."""
    connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value
