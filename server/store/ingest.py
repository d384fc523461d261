"""Idempotent ingestion of football-data.co.uk files into leagues, teams, matches and odds.

Each file is one transaction, written chunk by chunk as the parser reads it
(:class:`~server.formats.footballdata.FileChunks`), so memory does not grow with the file.
A match is identified by (league, date, home, away): a new one is inserted, a known one with
different values (a corrected file) is updated, an equal one is left alone, so ingesting the
same files twice changes nothing.  Rows the parser rejects are reported with their line
numbers and skipped; a file that cannot be read at all, or that the database refuses, writes
nothing.

A team is identified by its name within a country by
:func:`server.formats.teamnames.team_key` (case, white space, invisible and compatibility
characters do not count): the first spelling stored is the team's name, and a later variant
(``arsenal``, ``ARSENAL``) is the same team, reported in :attr:`FileReport.notes`.

Concurrent ingests: on PostgreSQL every file's transaction first takes one transaction-level
advisory lock (:data:`INGEST_LOCK`), so two ingests of the same files write one after the
other instead of failing on each other's new matches and teams; the one that waits is told
through ``on_wait``.  SQLite's ``BEGIN IMMEDIATE`` serialises writers already.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.formats.footballdata import (
    CHUNK_ROWS,
    ODDS_COLUMNS,
    RESULT_COLUMNS,
    SHOTS_COLUMNS,
    FileChunks,
    FootballDataError,
    ParsedFile,
    RowProblem,
    find_csv_files,
    open_csv,
)
from server.formats.leagues import league_info
from server.formats.teamnames import TeamNameError, team_key
from server.store.db import begin_write
from server.store.tables import League, Match, MatchOdds, Team

__all__ = [
    "INGEST_LOCK",
    "MAX_LISTED_PROBLEMS",
    "FileReport",
    "ingest_file",
    "ingest_parsed",
    "ingest_paths",
]

INGEST_LOCK = 0x66706531
"""The PostgreSQL advisory lock key every file's transaction holds ("fpe1")."""

MAX_LISTED_PROBLEMS = 1_000
"""Rejected rows listed per file; the rest are counted (a file of garbage stays readable)."""

_MATCHES = Match.__table__
_ODDS = MatchOdds.__table__
_VALUE_COLUMNS = ("season", "kickoff_time", *RESULT_COLUMNS, *SHOTS_COLUMNS)
"""The matches' columns written from the file: a known match whose values differ is
updated (so a file ingested again after migration 0008 fills in its shots on target)."""

OnWait = Callable[[str], object]


@dataclass
class FileReport:
    """What one file did to the database."""

    source: str
    league: str = ""
    season: str = ""
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> str:
        if self.error:
            return f"{self.source}: FAILED, nothing written: {self.error}"
        return (
            f"{self.source}: {self.league} {self.season}: read {self.read}, inserted "
            f"{self.inserted}, updated {self.updated}, unchanged {self.unchanged}, rejected "
            f"{self.rejected}"
        )

    def _add(self, chunk: ParsedFile) -> None:
        """Count a parsed chunk's rows and list its problems (up to the limit)."""
        self.read += chunk.rows_read
        self.rejected += len(chunk.problems)
        room = MAX_LISTED_PROBLEMS - len(self.problems)
        self.problems.extend(chunk.problems[: max(room, 0)])

    def _fail(self, error: str) -> None:
        self.error = error
        self.inserted = self.updated = self.unchanged = 0
        self.notes.clear()


async def ingest_paths(
    engine: AsyncEngine,
    paths: Iterable[str | os.PathLike[str]],
    on_file: Callable[[FileReport, int, int], object] | None = None,
    on_wait: OnWait | None = None,
) -> list[FileReport]:
    """Ingest every CSV under ``paths`` (files, or folders searched recursively).

    ``on_file(report, i, n)`` follows progress; ``on_wait(source)`` is called when a file
    waits for another ingest's transaction (PostgreSQL)."""
    files = find_csv_files(paths)
    reports = []
    for i, path in enumerate(files, start=1):
        report = await ingest_file(engine, path, on_wait=on_wait)
        reports.append(report)
        if on_file is not None:
            on_file(report, i, len(files))
    return reports


class _SeasonChanged(Exception):
    """The file's season turned out other than its first chunk's: write it again."""


async def ingest_file(
    engine: AsyncEngine,
    path: str | os.PathLike[str],
    *,
    on_wait: OnWait | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> FileReport:
    """Ingest one file in one transaction, parsing and writing ``chunk_rows`` at a time."""
    source = str(path)
    try:
        stream = await asyncio.to_thread(open_csv, path)
    except FootballDataError as exc:
        return FileReport(source=source, error=str(exc))
    with stream:
        season: str | None = None
        while True:
            file = FileChunks(stream, source, chunk_rows=chunk_rows, season=season)
            try:
                return await _ingest_chunks(engine, file, on_wait)
            except _SeasonChanged:
                season = file.season  # rare: a file not in date order across a July


async def ingest_parsed(
    engine: AsyncEngine, parsed: ParsedFile, *, on_wait: OnWait | None = None
) -> FileReport:
    """Write one parsed file in one transaction."""
    report = FileReport(source=parsed.source, league=parsed.league, season=parsed.season)
    report._add(parsed)
    if parsed.matches.empty:
        return report
    try:
        async with begin_write(engine) as conn:
            await _take_lock(conn, parsed.source, on_wait)
            await _write_chunk(conn, parsed, report)
    except SQLAlchemyError as exc:
        report._fail(f"database error: {getattr(exc, 'orig', None) or exc}")
    report.notes = list(dict.fromkeys(report.notes))
    return report


async def _next(chunks: Iterator[ParsedFile]) -> ParsedFile | None:
    return await asyncio.to_thread(next, chunks, None)  # parsing is CPU work


async def _ingest_chunks(
    engine: AsyncEngine, file: FileChunks, on_wait: OnWait | None
) -> FileReport:
    """Parse and write ``file`` chunk by chunk in one transaction.  The transaction opens
    after the first two chunks are parsed, so a one-chunk file (every real one) is parsed
    whole before anything is locked, and a file without matches opens none."""
    report = FileReport(source=file.source)
    chunks = iter(file)
    try:
        current = await _next(chunks)
        ahead = await _next(chunks)
        if ahead is not None or (current is not None and not current.matches.empty):
            async with begin_write(engine) as conn:
                await _take_lock(conn, file.source, on_wait)
                while current is not None:
                    await _write_chunk(conn, current, report)
                    current, ahead = ahead, (await _next(chunks) if ahead is not None else None)
                if file.season != file.chunk_season:
                    raise _SeasonChanged  # rolls the transaction back
        elif current is not None:
            report._add(current)
    except FootballDataError as exc:
        report._fail(str(exc))
    except SQLAlchemyError as exc:
        report._fail(f"database error: {getattr(exc, 'orig', None) or exc}")
    report.league, report.season = file.league, file.season
    if report.rejected > len(report.problems):
        report.notes.append(
            f"{report.rejected - len(report.problems)} more rejected rows are not listed "
            f"(only the first {MAX_LISTED_PROBLEMS})"
        )
    report.notes = list(dict.fromkeys(report.notes))  # a variant is noted once per chunk
    return report


async def _take_lock(conn: AsyncConnection, source: str, on_wait: OnWait | None) -> None:
    """PostgreSQL: wait for any other ingest's file transaction to end (see the module)."""
    if conn.dialect.name != "postgresql":
        return
    params = {"key": INGEST_LOCK}
    taken = await conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:key)"), params)
    if not taken.scalar_one():
        if on_wait is not None:
            on_wait(source)
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), params)


async def _write_chunk(conn: AsyncConnection, chunk: ParsedFile, report: FileReport) -> None:
    report._add(chunk)
    if chunk.matches.empty:
        return
    rows = _rows(chunk.matches, os.path.basename(chunk.source))
    inserted, updated, unchanged = await _write(conn, rows, report.notes)
    await _touch_leagues(conn, {r.league for r in rows})
    report.inserted += inserted
    report.updated += updated
    report.unchanged += unchanged


async def _touch_leagues(conn: AsyncConnection, codes: set[str]) -> None:
    """Record when the leagues were last ingested (freshness: ``fpe leagues``)."""
    table = League.__table__
    await conn.execute(
        sa.update(table).where(table.c.code.in_(codes)).values(last_ingest_at=datetime.now(UTC))
    )


@dataclass
class _Row:
    league: str
    match_date: date
    home: str
    away: str
    values: tuple[Any, ...]  # in _VALUE_COLUMNS order
    odds: tuple[float | None, ...]  # in ODDS_COLUMNS order
    source: str


def _none_if_missing(values: Sequence[Any]) -> list[Any]:
    return [
        None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v
        for v in values
    ]


def _rows(frame: pd.DataFrame, source: str) -> list[_Row]:
    kickoff = [
        None if not isinstance(t, str) else time(int(t[:2]), int(t[3:5]))
        for t in frame["time"].tolist()
    ]
    columns = {
        "season": frame["season"].astype(str).tolist(),
        "kickoff_time": kickoff,
        "home_goals": [int(v) for v in frame["home_goals"]],
        "away_goals": [int(v) for v in frame["away_goals"]],
        "result": frame["result"].astype(str).tolist(),
        "ht_home_goals": [None if pd.isna(v) else int(v) for v in frame["ht_home_goals"]],
        "ht_away_goals": [None if pd.isna(v) else int(v) for v in frame["ht_away_goals"]],
        "ht_result": _none_if_missing(frame["ht_result"].tolist()),
    }
    for c in SHOTS_COLUMNS:  # nullable integers (Int64)
        columns[c] = [None if pd.isna(v) else int(v) for v in frame[c]]
    values = list(zip(*(columns[c] for c in _VALUE_COLUMNS), strict=True))
    odds = list(zip(*(_none_if_missing(frame[c].tolist()) for c in ODDS_COLUMNS), strict=True))
    dates = [d.date() for d in frame["date"]]
    return [
        _Row(lg, d, h, a, v, o, source)
        for lg, d, h, a, v, o in zip(
            frame["league"].astype(str),
            dates,
            frame["home_team"].astype(str),
            frame["away_team"].astype(str),
            values,
            odds,
            strict=True,
        )
    ]


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


async def _league_ids(conn: AsyncConnection, codes: set[str]) -> dict[str, tuple[int, str]]:
    table = League.__table__
    infos = [league_info(c) for c in sorted(codes)]
    await conn.execute(
        _insert(conn, table).on_conflict_do_nothing(index_elements=["code"]),
        [{"code": i.code, "name": i.name, "country": i.country} for i in infos],
    )
    result = await conn.execute(
        sa.select(table.c.code, table.c.id, table.c.country).where(table.c.code.in_(codes))
    )
    return {code: (id_, country) for code, id_, country in result}


def _team_key(name: str) -> str:
    """:func:`team_key`; a stored name it refuses (stored before the rule) keeps the old
    key, white space and case only, so that it still matches its own spelling."""
    try:
        return team_key(name)
    except TeamNameError:
        return " ".join(name.split()).casefold()


def _variant_note(variant: str, name: str) -> str:
    if " ".join(variant.split()).casefold() == " ".join(name.split()).casefold():
        return f"team {variant!r} is taken as {name!r} (case or spaces differ)"
    return f"team {variant!r} is taken as {name!r} (invisible or look-alike characters differ)"


async def _team_ids(
    conn: AsyncConnection, country: str, names: Counter[str], notes: list[str]
) -> dict[str, int]:
    """The team id of every name (by :func:`_team_key`), creating the teams not yet stored;
    a new team takes the spelling most used in the file.  Every variant is noted."""
    table = Team.__table__
    in_country = sa.select(table.c.name, table.c.id).where(table.c.country == country)
    stored = {_team_key(n): (n, i) for n, i in (await conn.execute(in_country)).all()}
    spellings: dict[str, list[str]] = {}
    for name, _ in sorted(names.items(), key=lambda item: (-item[1], item[0])):
        spellings.setdefault(_team_key(name), []).append(name)
    new = [variants[0] for key, variants in spellings.items() if key not in stored]
    if new:
        await conn.execute(
            _insert(conn, table).on_conflict_do_nothing(index_elements=["country", "name"]),
            [{"name": n, "country": country} for n in new],
        )
        created = await conn.execute(in_country.where(table.c.name.in_(new)))
        stored |= {_team_key(n): (n, i) for n, i in created}
    out = {}
    for key, variants in spellings.items():
        name, id_ = stored[key]
        for variant in variants:
            out[variant] = id_
            if variant != name:
                notes.append(_variant_note(variant, name))
    return out


async def _write(conn: AsyncConnection, rows: list[_Row], notes: list[str]) -> tuple[int, int, int]:
    leagues = await _league_ids(conn, {r.league for r in rows})
    teams: dict[tuple[str, str], int] = {}
    by_country: dict[str, Counter[str]] = {}
    for r in rows:
        country = leagues[r.league][1]
        by_country.setdefault(country, Counter()).update((r.home, r.away))
    for country, names in by_country.items():
        for name, id_ in (await _team_ids(conn, country, names, notes)).items():
            teams[(country, name)] = id_

    keyed = []
    for r in rows:
        league_id, country = leagues[r.league]
        key = (league_id, r.match_date, teams[(country, r.home)], teams[(country, r.away)])
        keyed.append((key, r))
    existing = await _existing(conn, [k for k, _ in keyed])

    new, value_updates, odds_new, odds_updates = [], [], [], []
    unchanged = updated = 0
    for key, r in keyed:
        old = existing.get(key)
        if old is None:
            new.append((key, r))
            continue
        match_id, old_values, old_odds, has_odds_row = old
        if old_values == r.values and old_odds == r.odds:
            unchanged += 1
            continue
        updated += 1
        if old_values != r.values:
            value_updates.append(
                {
                    "b_id": match_id,
                    "source": r.source,
                    **dict(zip(_VALUE_COLUMNS, r.values, strict=True)),
                }
            )
        if old_odds != r.odds:
            if has_odds_row:
                odds_updates.append(_odds_params(match_id, r.odds, key="b_match_id"))
            else:
                odds_new.append(_odds_params(match_id, r.odds, key="match_id"))

    if new:
        ids = await _insert_matches(conn, new)
        odds_new.extend(
            _odds_params(i, r.odds, key="match_id")
            for i, (_, r) in zip(ids, new, strict=True)
            if any(v is not None for v in r.odds)
        )
    if value_updates:
        await conn.execute(
            sa.update(_MATCHES)
            .where(_MATCHES.c.id == sa.bindparam("b_id"))
            .values(
                {c: sa.bindparam(c) for c in (*_VALUE_COLUMNS, "source")}
                | {"updated_at": sa.func.now()}
            ),
            value_updates,
        )
    if odds_updates:
        await conn.execute(
            sa.update(_ODDS)
            .where(_ODDS.c.match_id == sa.bindparam("b_match_id"))
            .values({c: sa.bindparam(c) for c in ODDS_COLUMNS}),
            odds_updates,
        )
    if odds_new:
        if conn.dialect.name == "postgresql":
            columns = ["match_id", *ODDS_COLUMNS]
            await _unnest_insert(conn, _ODDS, columns, [[p[c] for c in columns] for p in odds_new])
        else:
            await conn.execute(sa.insert(_ODDS), odds_new)
    return len(new), updated, unchanged


_KEY_COLUMNS = ["league_id", "match_date", "home_team_id", "away_team_id"]


async def _insert_matches(conn: AsyncConnection, new: list[tuple[tuple, _Row]]) -> list[int]:
    """Insert new matches; their ids in the order given."""
    columns = [*_KEY_COLUMNS, "source", *_VALUE_COLUMNS]
    rows = [[*k, r.source, *r.values] for k, r in new]
    if conn.dialect.name == "postgresql":
        returned = await _unnest_insert(
            conn, _MATCHES, columns, rows, returning=["id", *_KEY_COLUMNS]
        )
        by_key = {tuple(row[1:]): row[0] for row in returned}
        return [by_key[k] for k, _ in new]
    result = await conn.execute(
        sa.insert(_MATCHES).returning(_MATCHES.c.id, sort_by_parameter_order=True),
        [dict(zip(columns, row, strict=True)) for row in rows],
    )
    return [row[0] for row in result]


async def _unnest_insert(
    conn: AsyncConnection,
    table: sa.Table,
    columns: list[str],
    rows: list[list[Any]],
    returning: list[str] | None = None,
) -> list[Any]:
    """PostgreSQL: one ``INSERT ... SELECT FROM unnest(array, ...)`` with a typed array per
    column.  Bulk loading this way skips building a parameter per value (what made the
    generic multi-row insert slow) and is a single round trip."""
    casts = ", ".join(
        f"CAST(:c{i} AS {table.c[c].type.compile(dialect=conn.dialect)}[])"
        for i, c in enumerate(columns)
    )
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({casts})"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    params = {f"c{i}": list(values) for i, values in enumerate(zip(*rows, strict=True))}
    result = await conn.execute(sa.text(sql), params)
    return list(result.all()) if returning else []


def _odds_params(match_id: int, odds: tuple[float | None, ...], key: str) -> dict[str, Any]:
    return {key: match_id, **dict(zip(ODDS_COLUMNS, odds, strict=True))}


async def _existing(
    conn: AsyncConnection, keys: list[tuple[int, date, int, int]]
) -> dict[tuple[int, date, int, int], tuple[int, tuple[Any, ...], tuple[Any, ...], bool]]:
    """Matches already stored in the leagues and date range of ``keys``: id, values, odds
    (all None without an odds row) and whether the odds row exists."""
    league_ids = {k[0] for k in keys}
    first, last = min(k[1] for k in keys), max(k[1] for k in keys)
    m = _MATCHES
    query = (
        sa.select(
            m.c.id,
            m.c.league_id,
            m.c.match_date,
            m.c.home_team_id,
            m.c.away_team_id,
            *(m.c[c] for c in _VALUE_COLUMNS),
            _ODDS.c.match_id,
            *(_ODDS.c[c] for c in ODDS_COLUMNS),
        )
        .select_from(m.outerjoin(_ODDS, _ODDS.c.match_id == m.c.id))
        .where(m.c.league_id.in_(league_ids), m.c.match_date.between(first, last))
    )
    out = {}
    n_values = len(_VALUE_COLUMNS)
    for row in await conn.execute(query):
        key = (row[1], row[2], row[3], row[4])
        values = tuple(row[5 : 5 + n_values])
        has_odds = row[5 + n_values] is not None
        out[key] = (row[0], values, tuple(row[6 + n_values :]), has_odds)
    return out
