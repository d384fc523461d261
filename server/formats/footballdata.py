"""The one parser for football-data.co.uk match CSV files.

The parser is pure: :func:`parse_bytes` takes the raw bytes of one file and returns a
:class:`ParsedFile` holding a tidy :class:`pandas.DataFrame` of the good matches, plus every
rejected row (:attr:`ParsedFile.problems`) and every kept row that lost a value
(:attr:`ParsedFile.warnings`). Nothing is dropped silently except rows that are empty in every
column, and those are counted. :func:`read_file`, :func:`open_csv` and
:func:`find_csv_files` are the only functions that touch the file system; they open regular
files of at most ``FPE_MAX_FILE_BYTES`` only (:mod:`server.formats.source`).
:class:`FileChunks` parses a file of any length in chunks of :data:`CHUNK_ROWS` rows.

Rules in short:

* bytes are decoded as UTF-8 (with or without a BOM), else cp1252, else latin-1;
* the header is matched by name, never by position; unknown columns are ignored;
* ``Div``, ``Date``, ``HomeTeam``, ``AwayTeam``, ``FTHG`` and ``FTAG`` are required;
* one physical line is one row: a line whose quotes do not close (a stray ``"``) is
  rejected on its own, never joined to the lines after it; a header that cannot be split,
  or more than half of the rows, refuses the whole file;
* team names go through :func:`server.formats.teamnames.canonical_team_name` (stripped,
  inner white space one space, NFKC, invisible characters removed); a name it refuses
  (letters of look-alike alphabets mixed) rejects the row;
* dates are strictly day-first (``dd/mm/yy`` or ``dd/mm/yyyy``);
* goal counts are whole numbers from 0 to 99;
* the result is computed from the score, and a contradicting ``FTR`` rejects the row;
* odds must be greater than 1.0; anything else becomes NaN (with a warning unless blank).
"""

from __future__ import annotations

import csv
import io
import os
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from core.errors import InvalidInputError
from core.last_match import SHOTS_COLUMNS
from core.lazy import pandas as pd
from core.sources import FILE_COLUMNS, ODDS_COLUMNS
from server.formats.source import (
    SourceError,
    decode_bytes,
    iter_lines,
    open_data_file,
    sniff_encoding,
)
from server.formats.teamnames import TeamNameError, canonical_team_name

__all__ = [
    "CHUNK_ROWS",
    "OUTPUT_COLUMNS",
    "REQUIRED_COLUMNS",
    "RESULT_COLUMNS",
    "SHOTS_COLUMNS",
    "FileChunks",
    "FootballDataError",
    "ParsedFile",
    "RowProblem",
    "find_csv_files",
    "open_csv",
    "parse_bytes",
    "read_file",
]


class FootballDataError(InvalidInputError):
    """A file that cannot be read at all (nothing from it may be used)."""


@dataclass(frozen=True)
class RowProblem:
    """One rejected row, or one value dropped from a kept row.

    ``line`` is the 1-based physical line number in the file (the header is line 1).
    """

    line: int
    reason: str


@dataclass
class ParsedFile:
    """The result of parsing one football-data.co.uk CSV file."""

    source: str
    matches: pd.DataFrame
    problems: list[RowProblem]
    warnings: list[RowProblem]
    blank_lines: int
    rows_read: int
    season: str
    league: str


# --------------------------------------------------------------------------------------------
# Column definitions
# --------------------------------------------------------------------------------------------

_REQUIRED = dict(div="Div", date="Date", home="HomeTeam", away="AwayTeam", fthg="FTHG", ftag="FTAG")
_OPTIONAL = dict(time="Time", hthg="HTHG", htag="HTAG", htr="HTR", hst="HST", ast="AST")
"""A :class:`_Layout` field -> its column (the optional ones are ``None`` when absent)."""
REQUIRED_COLUMNS: tuple[str, ...] = tuple(_REQUIRED.values())
_RESULT_SOURCES: tuple[str, ...] = ("FTR", "Res")
_RESULTS: frozenset[str] = frozenset({"H", "D", "A"})

"""Canonical output odds column -> source column names tried in order (first one in the header
wins for the whole file)."""

RESULT_COLUMNS: tuple[str, ...] = (
    "home_goals",
    "away_goals",
    "result",
    "ht_home_goals",
    "ht_away_goals",
    "ht_result",
)
"""A match's result, full time and half time (the matches table names them alike)."""

# SHOTS_COLUMNS (core.last_match): each side's shots on target (HST, AST; missing in older
# files), nullable integers; the matches table names them alike (migration 0008).

OUTPUT_COLUMNS: tuple[str, ...] = (
    "league",
    "season",
    "date",
    "time",
    "home_team",
    "away_team",
    *RESULT_COLUMNS,
    *SHOTS_COLUMNS,
    *ODDS_COLUMNS,
    "line",
)
"""The columns of :attr:`ParsedFile.matches`, in order."""


@dataclass(frozen=True)
class _Layout:
    """Where each column of interest sits in a file's header (``None`` when absent)."""

    width: int
    div: int
    date: int
    home: int
    away: int
    fthg: int
    ftag: int
    ftr: int | None
    ftr_name: str
    time: int | None
    hthg: int | None
    htag: int | None
    htr: int | None
    hst: int | None
    ast: int | None
    odds: dict[str, tuple[int, str]]  # canonical -> (index, source name); absent ones omitted
    odds_positions: tuple[int, ...]  # the indexes of ``odds``, in its order


@dataclass
class _Rows:
    """Column-wise accumulator for the kept rows of one file."""

    league: list[str] = field(default_factory=list)
    date: list[date] = field(default_factory=list)
    time: list[str | None] = field(default_factory=list)
    home: list[str] = field(default_factory=list)
    away: list[str] = field(default_factory=list)
    home_goals: list[int] = field(default_factory=list)
    away_goals: list[int] = field(default_factory=list)
    result: list[str] = field(default_factory=list)
    ht_home: list[int | None] = field(default_factory=list)
    ht_away: list[int | None] = field(default_factory=list)
    ht_result: list[str | None] = field(default_factory=list)
    home_sot: list[int | None] = field(default_factory=list)
    away_sot: list[int | None] = field(default_factory=list)
    line: list[int] = field(default_factory=list)
    odds: list[list[str]] = field(default_factory=list)  # cells of layout.odds, in its order


@dataclass(frozen=True)
class _Match:
    """The validated core fields of one row."""

    league: str
    date: date
    home: str
    away: str
    home_goals: int
    away_goals: int
    result: str


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------


def _decode(data: bytes, source: str) -> str:
    """Decode ``data`` as UTF-8 (BOM optional), else cp1252, else latin-1; reject binary data."""
    try:
        return decode_bytes(data, source)
    except SourceError as exc:
        raise FootballDataError(str(exc)) from None


# --------------------------------------------------------------------------------------------
# Header
# --------------------------------------------------------------------------------------------


def _header_index(header: Sequence[str]) -> dict[str, int]:
    """Map each stripped, non-empty header name to its first position."""
    index: dict[str, int] = {}
    for position, raw in enumerate(header):
        name = raw.replace("\ufeff", "").strip()
        if name and name not in index:
            index[name] = position
    return index


def _missing_columns_message(source: str, missing: list[str], header: Sequence[str]) -> str:
    """Explain which required columns are missing, with a delimiter hint when it fits."""
    message = f"{source}: missing required column(s): {', '.join(missing)}"
    fields = [f for f in header if f.strip()]
    if len(fields) == 1 and (";" in fields[0] or "\t" in fields[0]):
        found = "';'" if ";" in fields[0] else "a tab"
        message += (
            f" (the header is a single field containing {found}: the delimiter looks wrong,"
            " expected ',')"
        )
    return message


def _first_present(index: dict[str, int], names: Iterable[str]) -> tuple[int, str] | None:
    """Return ``(position, name)`` of the first of ``names`` in the header, else ``None``."""
    for name in names:
        if name in index:
            return index[name], name
    return None


def _layout(header: Sequence[str], source: str) -> _Layout:
    """Locate the columns of interest in ``header``; raise if a required one is missing."""
    index = _header_index(header)
    missing = [name for name in REQUIRED_COLUMNS if name not in index]
    if missing:
        raise FootballDataError(_missing_columns_message(source, missing, header))
    ftr = _first_present(index, _RESULT_SOURCES)
    odds = {}
    for canonical, sources in FILE_COLUMNS.items():
        found = _first_present(index, sources)
        if found is not None:
            odds[canonical] = found
    positions: dict[str, Any] = {field: index[column] for field, column in _REQUIRED.items()}
    positions |= {field: index.get(column) for field, column in _OPTIONAL.items()}
    return _Layout(
        width=len(header),
        **positions,
        ftr=None if ftr is None else ftr[0],
        ftr_name="FTR" if ftr is None else ftr[1],
        odds=odds,
        odds_positions=tuple(index for index, _ in odds.values()),
    )


# --------------------------------------------------------------------------------------------
# Cell parsers
# --------------------------------------------------------------------------------------------

_DATE_RE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})")
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")
_GOALS_RE = re.compile(r"([+-]?)(\d+)(?:\.(\d*))?")
_MAX_GOALS = 99


def _parse_date(text: str) -> date | None:
    """Parse a strictly day-first ``dd/mm/yy`` or ``dd/mm/yyyy`` date; ``None`` if invalid."""
    match = _DATE_RE.fullmatch(text)
    if match is None:
        return None
    day, month, year = (int(g) for g in match.groups())
    if len(match.group(3)) == 2:
        year += 2000
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _parse_time(text: str) -> str | None:
    """Normalise ``H:MM``/``HH:MM`` to ``HH:MM``; ``None`` if not a valid clock time."""
    match = _TIME_RE.fullmatch(text)
    if match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        return None
    return f"{hour:02d}:{minute:02d}"


def _parse_goals(text: str, column: str) -> tuple[int | None, str | None]:
    """Parse a goal count: ``(value, None)`` or ``(None, reason)``; blank gives a reason too."""
    if not text:
        return None, f"missing {column}"
    if text.isascii() and text.isdigit():
        sign, whole, fraction = "", text, None
    else:
        match = _GOALS_RE.fullmatch(text)
        if match is None:
            return None, f"non-numeric goals: {column}={_shorten(text)!r}"
        sign, whole, fraction = match.groups()
    if fraction and fraction.strip("0"):
        return None, f"fractional goals: {column}={_shorten(text)}"
    whole = whole.lstrip("0") or "0"
    if sign == "-" and whole != "0":
        return None, f"negative goals: {column}={_shorten(text)}"
    if len(whole) > len(str(_MAX_GOALS)) or int(whole) > _MAX_GOALS:
        return None, f"implausible goals: {column}={_shorten(text)} (more than {_MAX_GOALS})"
    return int(whole), None


def _shorten(text: str, limit: int = 30) -> str:
    """``text`` cut to ``limit`` characters for a message."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class _NameCache(dict[str, tuple[str, str]]):
    """Memoised :func:`canonical_team_name` of a cell: ``(name, "")`` or ``("", reason)``
    (a season has a few dozen names; each is one shared string)."""

    def __missing__(self, key: str) -> tuple[str, str]:
        try:
            value = (sys.intern(canonical_team_name(key)), "")
        except TeamNameError as exc:
            value = ("", str(exc))
        self[key] = value
        return value


def _result(home_goals: int, away_goals: int) -> str:
    """Return 'H', 'D' or 'A' for a score."""
    if home_goals > away_goals:
        return "H"
    return "D" if home_goals == away_goals else "A"


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


class _DateCache(dict[str, "date | None"]):
    """Memoised :func:`_parse_date` (a season has only a few hundred distinct dates)."""

    def __missing__(self, key: str) -> date | None:
        value = _parse_date(key)
        self[key] = value
        return value


def _core_fields(
    row: list[str], layout: _Layout, dates: _DateCache, names: _NameCache
) -> tuple[_Match | None, list[str]]:
    """Validate the required fields of one row: ``(match, [])`` or ``(None, reasons)``."""
    reasons: list[str] = []
    league = row[layout.div].strip()
    if not league:
        reasons.append("missing Div")
    date_text = row[layout.date].strip()
    match_date = dates[date_text] if date_text else None
    if not date_text:
        reasons.append("missing Date")
    elif match_date is None:
        reasons.append(f"bad date {date_text!r}")
    (home, bad_home), (away, bad_away) = names[row[layout.home]], names[row[layout.away]]
    for name, bad, column in ((home, bad_home, "HomeTeam"), (away, bad_away, "AwayTeam")):
        if bad:
            reasons.append(bad)
        elif not name:
            reasons.append(f"missing {column}")
    if home and home.casefold() == away.casefold():
        reasons.append(f"home and away team are both {home!r}")
    home_goals, reason_h = _parse_goals(row[layout.fthg].strip(), "FTHG")
    away_goals, reason_a = _parse_goals(row[layout.ftag].strip(), "FTAG")
    reasons.extend(r for r in (reason_h, reason_a) if r is not None)
    if reasons or home_goals is None or away_goals is None or match_date is None:
        return None, reasons
    result = _result(home_goals, away_goals)
    if layout.ftr is not None:
        given = row[layout.ftr].strip()
        if given and given != result:
            reasons.append(
                f"{layout.ftr_name} is {given!r} but the score is {home_goals}-{away_goals}"
            )
            return None, reasons
    return _Match(league, match_date, home, away, home_goals, away_goals, result), reasons


def _optional_count(row: list[str], index: int | None, column: str) -> tuple[int | None, str]:
    """Parse a shots-on-target cell: ``(value or None, warning or '')``; blank is silent."""
    if index is None or not row[index].strip():
        return None, ""
    value, reason = _parse_goals(row[index].strip(), column)
    if reason is not None:
        return None, f"bad {column} ({reason}), set to NA"
    return value, ""


def _optional_goals(row: list[str], index: int | None, column: str) -> tuple[int | None, str]:
    """Parse a half-time goal cell: ``(value or None, warning or '')``; blank is silent."""
    if index is None:
        return None, ""
    text = row[index].strip()
    if not text:
        return None, ""
    value, reason = _parse_goals(text, column)
    if reason is not None:
        return None, f"bad half-time goals ({reason}), set to NA"
    return value, ""


def _half_time(
    row: list[str], layout: _Layout
) -> tuple[int | None, int | None, str | None, list[str]]:
    """Half-time goals and result of one row, with warnings for dropped values.

    When both half-time goals are known the result is derived from them (a contradicting
    ``HTR`` gives a warning); otherwise a valid ``HTR`` cell is kept as given.
    """
    notes: list[str] = []
    ht_home, note_h = _optional_goals(row, layout.hthg, "HTHG")
    ht_away, note_a = _optional_goals(row, layout.htag, "HTAG")
    notes.extend(n for n in (note_h, note_a) if n)
    given = row[layout.htr].strip() if layout.htr is not None else ""
    if given and given not in _RESULTS:
        notes.append(f"bad HTR {given!r}, ignored")
        given = ""
    if ht_home is None or ht_away is None:
        return ht_home, ht_away, given or None, notes
    derived = _result(ht_home, ht_away)
    if given and given != derived:
        notes.append(
            f"HTR is {given!r} but the half-time score is {ht_home}-{ht_away}; used {derived!r}"
        )
    return ht_home, ht_away, derived, notes


def _kick_off(row: list[str], layout: _Layout) -> tuple[str | None, list[str]]:
    """The kick-off time of one row as ``HH:MM`` (or ``None``), with a warning if invalid."""
    if layout.time is None:
        return None, []
    text = row[layout.time].strip()
    if not text:
        return None, []
    value = _parse_time(text)
    if value is None:
        return None, [f"bad time {text!r}, set to None"]
    return value, []


def _split(line: str) -> tuple[list[str] | None, str]:
    """The cells of one physical line, or ``(None, reason)`` when it cannot be split.

    football-data.co.uk never breaks a line inside a field, so each line is parsed on its
    own: a stray quote spoils its own line only instead of swallowing the rest of the file.
    """
    if '"' not in line:
        return line.split(","), ""
    try:
        return next(csv.reader([line], strict=True), []), ""
    except csv.Error as exc:
        return None, f"cannot split the row into cells, a stray quote? ({exc})"


@dataclass
class _State:
    """Everything collected while walking the data rows of one file: the kept rows, problems
    and warnings of the current chunk, and what must be known across chunks (duplicates,
    counts, the earliest date and the divisions)."""

    rows: _Rows = field(default_factory=_Rows)
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)
    # every kept row's (league, date, home, away), names casefolded, strings shared: about
    # 150 bytes a row, the only memory that grows with the file
    seen: dict[tuple[str, date, str, str], int] = field(default_factory=dict)
    divs_seen: Counter[str] = field(default_factory=Counter)
    divs_kept: Counter[str] = field(default_factory=Counter)
    first_date: date | None = None
    blank_lines: int = 0
    rows_read: int = 0
    unsplit: int = 0
    first_unsplit: int = 0
    dates: _DateCache = field(default_factory=_DateCache)
    names: _NameCache = field(default_factory=_NameCache)


def _take_row(state: _State, line: int, row: list[str], layout: _Layout) -> None:
    """Validate one data row and add it to ``state`` as a match, a problem or a blank line."""
    if not any(cell.strip() for cell in row):
        state.blank_lines += 1
        return
    state.rows_read += 1
    if len(row) < layout.width:
        row.extend([""] * (layout.width - len(row)))
    elif len(row) > layout.width and any(cell.strip() for cell in row[layout.width :]):
        extra = sum(1 for cell in row[layout.width :] if cell.strip())
        state.warnings.append(
            RowProblem(line, f"{extra} non-empty cell(s) beyond the header ignored")
        )
    state.divs_seen[row[layout.div].strip()] += 1
    match, reasons = _core_fields(row, layout, state.dates, state.names)
    if match is None:
        state.problems.append(RowProblem(line, "; ".join(reasons)))
        return
    fold = sys.intern
    key = (fold(match.league), match.date, fold(match.home.casefold()), fold(match.away.casefold()))
    if key in state.seen:
        reason = f"duplicate of line {state.seen[key]} (same league, date, home and away)"
        state.problems.append(RowProblem(line, reason))
        return
    state.seen[key] = line
    _keep(state, line, row, layout, match)


def _keep(state: _State, line: int, row: list[str], layout: _Layout, match: _Match) -> None:
    """Append a validated match (and its optional fields) to the accumulator."""
    time, time_notes = _kick_off(row, layout)
    ht_home, ht_away, ht_result, ht_notes = _half_time(row, layout)
    home_sot, note_hs = _optional_count(row, layout.hst, "HST")
    away_sot, note_as = _optional_count(row, layout.ast, "AST")
    notes = (*time_notes, *ht_notes, note_hs, note_as)
    state.warnings.extend(RowProblem(line, note) for note in notes if note)
    rows = state.rows
    rows.league.append(match.league)
    rows.date.append(match.date)
    rows.time.append(time)
    rows.home.append(match.home)
    rows.away.append(match.away)
    rows.home_goals.append(match.home_goals)
    rows.away_goals.append(match.away_goals)
    rows.result.append(match.result)
    rows.ht_home.append(ht_home)
    rows.ht_away.append(ht_away)
    rows.ht_result.append(ht_result)
    rows.home_sot.append(home_sot)
    rows.away_sot.append(away_sot)
    rows.line.append(line)
    rows.odds.append([row[index] for index in layout.odds_positions])


# --------------------------------------------------------------------------------------------
# Odds and the frame
# --------------------------------------------------------------------------------------------


def _to_float(text: str) -> float:
    """``float(text)``, or NaN when it is not a number."""
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _odds_values(
    cells: list[str], source_name: str, lines: list[int], warnings: list[RowProblem]
) -> np.ndarray:
    """Convert one odds column: a cell that is not a number > 1.0 is NaN (warned unless blank)."""
    blank = np.fromiter((not cell for cell in cells), dtype=bool, count=len(cells))
    filled = [cell or "nan" for cell in cells]
    try:
        values = np.array(filled, dtype=np.float64)
    except ValueError:
        values = np.array([_to_float(cell) for cell in filled], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~blank & ~(np.isfinite(values) & (values > 1.0))
    for i in np.flatnonzero(bad):
        reason = f"bad odds {source_name}={cells[i]!r} (must be a number > 1.0), set to NaN"
        warnings.append(RowProblem(lines[i], reason))
    values[bad] = np.nan
    return values


def _odds_frame_columns(state: _State, layout: _Layout) -> dict[str, np.ndarray]:
    """Every canonical odds column as a float64 array (all-NaN when the file lacks it)."""
    count = len(state.rows.line)
    by_column = dict(zip(layout.odds, zip(*state.rows.odds, strict=True), strict=False))
    columns: dict[str, np.ndarray] = {}
    for canonical in ODDS_COLUMNS:
        found = layout.odds.get(canonical)
        if found is None or count == 0:
            columns[canonical] = np.full(count, np.nan)
            continue
        name = found[1]
        cells = [cell.strip() for cell in by_column[canonical]]
        columns[canonical] = _odds_values(cells, name, state.rows.line, state.warnings)
    return columns


def _frame(state: _State, layout: _Layout, season: str) -> pd.DataFrame:
    """Build the output DataFrame (columns in :data:`OUTPUT_COLUMNS` order, fixed dtypes).

    Text columns without gaps get pandas' default string dtype (``str``); ``time`` and
    ``ht_result`` stay ``object`` so that a missing value is ``None``.
    """
    rows = state.rows
    data: dict[str, object] = {
        "league": pd.Series(rows.league, dtype=str),
        "season": pd.Series([season] * len(rows.line), dtype=str),
        "date": np.array(rows.date, dtype="datetime64[D]").astype("datetime64[ns]"),
        "time": pd.Series(rows.time, dtype=object),
        "home_team": pd.Series(rows.home, dtype=str),
        "away_team": pd.Series(rows.away, dtype=str),
        "home_goals": np.array(rows.home_goals, dtype=np.int64),
        "away_goals": np.array(rows.away_goals, dtype=np.int64),
        "result": pd.Series(rows.result, dtype=str),
        "ht_home_goals": pd.array(rows.ht_home, dtype="Int64"),
        "ht_away_goals": pd.array(rows.ht_away, dtype="Int64"),
        "ht_result": pd.Series(rows.ht_result, dtype=object),
        "home_shots_on_target": pd.array(rows.home_sot, dtype="Int64"),
        "away_shots_on_target": pd.array(rows.away_sot, dtype="Int64"),
        **_odds_frame_columns(state, layout),
        "line": np.array(rows.line, dtype=np.int64),
    }
    return pd.DataFrame(data, columns=list(OUTPUT_COLUMNS))


def _season_code(first_match: date) -> str:
    """Season code such as ``'1920'`` for a season starting in July of the first match's year."""
    start = first_match.year if first_match.month >= 7 else first_match.year - 1
    return f"{start % 100:02d}{(start + 1) % 100:02d}"


def _most_common_div(kept: Counter[str], seen: Counter[str]) -> str:
    """The most common ``Div`` of the kept rows (else of all rows read; '' if none)."""
    counts = kept or Counter({div: n for div, n in seen.items() if div})
    return counts.most_common(1)[0][0] if counts else ""


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


CHUNK_ROWS = 5_000
"""Rows parsed (and written by ingest) at a time: every real file is one chunk (a season
is at most about 600 rows), and a chunk takes a few MB, whatever the file's size."""


class FileChunks:
    """One file parsed chunk by chunk: iterating gives a :class:`ParsedFile` for each run of
    ``chunk_rows`` rows (kept or rejected; the last chunk has fewer, possibly none), with the
    matches, problems, warnings and counts of its own lines.  Memory is bounded by the chunk,
    plus about 150 bytes per kept row for finding duplicates across the whole file.

    Raises :class:`FootballDataError` when the file cannot be used at all: before the first
    chunk for an empty, binary or header-less file, and before the last chunk when more
    than half of the rows cannot be split; a consumer that writes chunk by chunk must then
    undo what it wrote.

    A chunk's ``season`` is ``season`` when given, else the season of the earliest match of
    the first chunk that has one.  The file's season, from its earliest match, is known once
    the last chunk is out: :attr:`season`; when it differs from the chunks' (a file not in
    date order across a July), read the file again with ``season=file.season``.
    """

    def __init__(
        self,
        stream: BinaryIO,
        source: str,
        *,
        chunk_rows: int = CHUNK_ROWS,
        season: str | None = None,
    ) -> None:
        self.source = source
        self.chunk_rows = chunk_rows
        self.chunk_season = season or ""
        self.season = ""
        self.league = ""
        self.rows_read = 0
        self.blank_lines = 0
        self._stream = stream
        self._given = season is not None

    def __iter__(self) -> Iterator[ParsedFile]:
        try:
            yield from self._chunks()
        except SourceError as exc:
            raise FootballDataError(str(exc)) from None

    def _chunks(self) -> Iterator[ParsedFile]:
        self._stream.seek(0)
        encoding = sniff_encoding(self._stream, self.source)
        lines = iter_lines(self._stream, encoding, self.source)
        header_text = next(lines, None)
        if header_text is None or (
            not header_text.strip() and not any(line.strip() for line in lines)
        ):
            raise FootballDataError(f"{self.source} is empty")
        header, reason = _split(header_text)
        if header is None:
            raise FootballDataError(f"{self.source}: line 1 (the header): {reason}")
        layout = _layout(header, self.source)
        state = _State()
        done = (0, 0)  # rows read and blank lines in the chunks already given
        for number, line in enumerate(lines, start=2):
            row, reason = _split(line)
            if row is None:
                state.unsplit += 1
                state.first_unsplit = state.first_unsplit or number
                state.rows_read += 1
                state.problems.append(RowProblem(number, reason))
            else:
                _take_row(state, number, row, layout)
            if state.rows_read - done[0] >= self.chunk_rows:
                yield self._chunk(state, layout, done)
                done = (state.rows_read, state.blank_lines)
        if state.unsplit > state.rows_read / 2:
            raise FootballDataError(
                f"{self.source}: {state.unsplit} of {state.rows_read} rows cannot be split into "
                f"cells (unbalanced quotes, first at line {state.first_unsplit}): the file is "
                "not clean CSV"
            )
        last = self._chunk(state, layout, done)
        self.season = _season_code(state.first_date) if state.first_date else ""
        self.league = _most_common_div(state.divs_kept, state.divs_seen)
        self.rows_read, self.blank_lines = state.rows_read, state.blank_lines
        yield last

    def _chunk(self, state: _State, layout: _Layout, done: tuple[int, int]) -> ParsedFile:
        """The kept rows, problems and warnings collected since the last chunk, as one."""
        rows = state.rows
        if rows.date:
            first = min(rows.date)
            state.first_date = first if state.first_date is None else min(first, state.first_date)
            if not self._given and not self.chunk_season:
                self.chunk_season = _season_code(first)
        kept = Counter(rows.league)
        state.divs_kept.update(kept)
        matches = _frame(state, layout, self.chunk_season)  # adds the odds' warnings
        state.warnings.sort(key=lambda w: w.line)
        chunk = ParsedFile(
            source=self.source,
            matches=matches,
            problems=state.problems,
            warnings=state.warnings,
            blank_lines=state.blank_lines - done[1],
            rows_read=state.rows_read - done[0],
            season=self.chunk_season,
            league=_most_common_div(kept, Counter()),
        )
        state.rows, state.problems, state.warnings = _Rows(), [], []
        return chunk


def _collect(file: FileChunks) -> ParsedFile:
    """Every chunk of ``file`` in one :class:`ParsedFile`."""
    chunks = list(file)
    matches = pd.concat([c.matches for c in chunks], ignore_index=True)
    if len(chunks) > 1 or chunks[0].season != file.season:
        matches["season"] = pd.Series([file.season] * len(matches), dtype=str)
    return ParsedFile(
        source=file.source,
        matches=matches,
        problems=[p for c in chunks for p in c.problems],
        warnings=[w for c in chunks for w in c.warnings],
        blank_lines=file.blank_lines,
        rows_read=file.rows_read,
        season=file.season,
        league=file.league,
    )


def parse_bytes(data: bytes, source: str = "<bytes>") -> ParsedFile:
    """Parse the bytes of one football-data.co.uk CSV file.

    Raises :class:`FootballDataError` when the file cannot be used at all (empty, binary,
    missing required columns). Bad rows are skipped and listed in ``problems``; values dropped
    from kept rows are listed in ``warnings``. A header-only file gives an empty frame.
    """
    return _collect(FileChunks(io.BytesIO(data), source))


def open_csv(path: str | os.PathLike[str]) -> BinaryIO:
    """Open one file for :class:`FileChunks`: a regular file of at most
    ``FPE_MAX_FILE_BYTES`` bytes, else :class:`FootballDataError` saying why."""
    try:
        return open_data_file(path)
    except SourceError as exc:
        raise FootballDataError(str(exc)) from None


def read_file(path: str | os.PathLike[str]) -> ParsedFile:
    """Read and parse one file (chunk by chunk, see :class:`FileChunks`); a path that is not
    a regular file, too large or unreadable raises :class:`FootballDataError`."""
    with open_csv(path) as stream:
        return _collect(FileChunks(stream, str(path)))


def find_csv_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand ``paths`` into a sorted list of CSV files.

    Files are taken as given; folders are searched recursively for ``*.csv`` (any case). A path
    that does not exist, or finding no CSV file at all, raises :class:`FootballDataError`.
    """
    found: set[Path] = set()
    missing: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.update(p for p in path.rglob("*") if p.suffix.lower() == ".csv" and p.is_file())
        elif path.exists():
            found.add(path)
        else:
            missing.append(str(raw))
    if missing:
        raise FootballDataError(f"path(s) not found: {', '.join(missing)}")
    if not found:
        raise FootballDataError("no CSV files found")
    return sorted(found)
