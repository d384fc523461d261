"""The prediction path's reads from the embedded SQLite file with the standard library's
``sqlite3``: a handful of plain SELECTs, so that ``fpe predict`` answers without importing
SQLAlchemy, its ORM and the async engine (most of its start-up; docs/performance.md).

A :class:`LiteReader` only reads, and only a database that is already there and up to
date: :meth:`LiteReader.open` gives ``None`` otherwise (a PostgreSQL URL, no file yet, a
migration to apply), and the caller takes the usual path, which creates and upgrades.
The look-ups themselves (which team a name means, which model serves a fixture) stay in
:mod:`server.runs`; they read through :mod:`server.store.reads`, where each query of this
reader stands beside the SQLAlchemy one it mirrors.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

from core.errors import FPEError
from server.store import migrations
from server.store.unicode import unicode_lower

__all__ = ["LiteReader", "TeamRow"]

_BUSY_TIMEOUT_S = 30.0


class TeamRow(NamedTuple):
    id: int
    name: str
    country: str


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


class LiteReader:
    """Read-only use of the embedded database file at ``path`` (see the module doc)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S)
        unicode_lower(self._conn)

    @classmethod
    def open(cls, database_url: str) -> LiteReader | None:
        """A reader on the embedded file of ``database_url`` when it exists with every
        migration applied, else ``None``."""
        prefix = "sqlite+aiosqlite:///"
        if not database_url.startswith(prefix) or database_url == prefix + ":memory:":
            return None
        path = Path(database_url.removeprefix(prefix))  # as SQLAlchemy reads it: no ~
        if not path.is_file():
            return None
        reader = cls(path)
        try:
            recorded = dict(reader._rows("SELECT version, checksum FROM schema_migrations"))
            if migrations.unapplied(recorded, migrations.load("sqlite")):
                raise migrations.MigrationError("a migration to apply")
        except (FPEError, sqlite3.Error):  # not ours to fix: the usual path says why
            reader.close()
            return None
        return reader

    def close(self) -> None:
        self._conn.close()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise FPEError(f"database {self.path}: {exc}") from exc

    # --- the rows of server.runs' look-ups, one method per query ------------------------

    async def active_models(self, model_type: str) -> list[tuple[str, str, date | None]]:
        """(version, scope, data_to) of the active models of ``model_type``, best first."""
        rows = self._rows(
            "SELECT version, scope, data_to FROM models WHERE model_type = ? AND status = ? "
            "ORDER BY data_to IS NULL, data_to DESC, created_at DESC, id DESC",
            (model_type, "active"),
        )
        return [(v, s, None if d is None else date.fromisoformat(d)) for v, s, d in rows]

    async def active_versions(self) -> list[tuple[str, str, str]]:
        """(version, model type, scope) of every active model, by type and version."""
        rows = self._rows(
            "SELECT version, model_type, scope FROM models WHERE status = ? "
            "ORDER BY model_type, version",
            ("active",),
        )
        return [(str(v), str(t), str(s)) for v, t, s in rows]

    async def team_names(self) -> list[tuple[str, str, str, str]]:
        """(kind, first, country, team) of every team, alias and league."""
        return self._rows(
            "SELECT 'team', name, country, '' FROM teams "
            "UNION ALL SELECT 'alias', alias_key, country, team_name FROM team_aliases "
            "UNION ALL SELECT 'league', code, country, '' FROM leagues"
        )

    async def teams_named(self, lowered: Iterable[str]) -> list[TeamRow]:
        """The teams whose name in lower case is one of ``lowered``."""
        keys = sorted(lowered)
        sql = f"SELECT id, name, country FROM teams WHERE lower(name) IN ({_marks(keys)})"
        return [TeamRow(*row) for row in self._rows(sql, keys)]

    async def league_countries(self, codes: Iterable[str]) -> dict[str, str]:
        wanted = sorted(codes)
        sql = f"SELECT code, country FROM leagues WHERE code IN ({_marks(wanted)})"
        return dict(self._rows(sql, wanted))

    async def latest_leagues(self, team_ids: Sequence[int]) -> list[tuple[int, str]]:
        """(team, league code) of each team's latest match date, by team and code."""
        played = (
            "SELECT home_team_id AS team, match_date, league_id FROM matches "
            "UNION ALL SELECT away_team_id, match_date, league_id FROM matches"
        )
        sql = (
            f"WITH played AS ({played}), latest AS (SELECT team, max(match_date) AS last "
            f"FROM played WHERE team IN ({_marks(team_ids)}) GROUP BY team) "
            "SELECT played.team, leagues.code FROM played "
            "JOIN latest ON latest.team = played.team AND latest.last = played.match_date "
            "JOIN leagues ON leagues.id = played.league_id ORDER BY played.team, leagues.code"
        )
        return self._rows(sql, team_ids)

    async def model(self, version: str, with_weights: bool) -> dict[str, Any] | None:
        """The version, type (and weights) of model ``version``; ``None`` when none has it."""
        weights = ", model_weights" if with_weights else ""
        rows = self._rows(
            f"SELECT version, model_type{weights} FROM models WHERE version = ?", (version,)
        )
        if not rows:
            return None
        row = dict(zip(("version", "model_type", "model_weights"), rows[0], strict=False))
        if with_weights and row["model_weights"] is not None:
            row["model_weights"] = json.loads(row["model_weights"])
        return row
