"""The one parser for football-data.co.uk match CSV files.

The parser is pure: :func:`parse_bytes` takes the raw bytes of one file and returns a
:class:`ParsedFile` holding a tidy :class:`pandas.DataFrame` of the good matches, plus every
rejected row (:attr:`ParsedFile.problems`) and every kept row that lost a value
(:attr:`ParsedFile.warnings`). Nothing is dropped silently except rows that are empty in every
column, and those are counted. :func:`read_file` and :func:`find_csv_files` are the only
functions that touch the file system.

Rules in short:

* bytes are decoded as UTF-8 (with or without a BOM), else cp1252, else latin-1;
* the header is matched by name, never by position; unknown columns are ignored;
* ``Div``, ``Date``, ``HomeTeam``, ``AwayTeam``, ``FTHG`` and ``FTAG`` are required;
* one physical line is one row: a line whose quotes do not close (a stray ``"``) is
  rejected on its own, never joined to the lines after it; a header that cannot be split,
  or more than half of the rows, refuses the whole file;
* team names are stripped and inner runs of white space become one space;
* dates are strictly day-first (``dd/mm/yy`` or ``dd/mm/yyyy``);
* goal counts are whole numbers from 0 to 99;
* the result is computed from the score, and a contradicting ``FTR`` rejects the row;
* odds must be greater than 1.0; anything else becomes NaN (with a warning unless blank).
"""

from __future__ import annotations

import csv
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import InvalidInputError

__all__ = [
    "ODDS_COLUMNS",
    "OUTPUT_COLUMNS",
    "REQUIRED_COLUMNS",
    "FootballDataError",
    "ParsedFile",
    "RowProblem",
    "find_csv_files",
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

REQUIRED_COLUMNS: tuple[str, ...] = ("Div", "Date", "HomeTeam", "AwayTeam", "FTHG", "FTAG")
_RESULT_SOURCES: tuple[str, ...] = ("FTR", "Res")
_RESULTS: frozenset[str] = frozenset({"H", "D", "A"})

# book -> kind -> source prefixes tried in order, for 1X2 and for over/under 2.5.
_BOOKS_1X2: dict[str, dict[str, tuple[str, ...]]] = {
    "pinnacle": {"pre": ("PS",), "close": ("PSC",)},
    "b365": {"pre": ("B365",), "close": ("B365C",)},
    "avg": {"pre": ("Avg", "BbAv"), "close": ("AvgC",)},
    "max": {"pre": ("Max", "BbMx"), "close": ("MaxC",)},
}
_BOOKS_OU: dict[str, dict[str, tuple[str, ...]]] = {
    "pinnacle": {"pre": ("P",), "close": ("PC",)},
    "b365": {"pre": ("B365",), "close": ("B365C",)},
    "avg": {"pre": ("Avg", "BbAv"), "close": ("AvgC",)},
    "max": {"pre": ("Max", "BbMx"), "close": ("MaxC",)},
}


def _build_odds_columns() -> dict[str, tuple[str, ...]]:
    """Map every canonical odds column to the source columns tried in order."""
    columns: dict[str, tuple[str, ...]] = {}
    for book, kinds in _BOOKS_1X2.items():
        for kind, prefixes in kinds.items():
            for outcome in ("h", "d", "a"):
                suffix = outcome.upper()
                columns[f"{book}_{kind}_{outcome}"] = tuple(p + suffix for p in prefixes)
    for book, kinds in _BOOKS_OU.items():
        for kind, prefixes in kinds.items():
            columns[f"{book}_{kind}_over25"] = tuple(p + ">2.5" for p in prefixes)
            columns[f"{book}_{kind}_under25"] = tuple(p + "<2.5" for p in prefixes)
    return columns


ODDS_COLUMNS: dict[str, tuple[str, ...]] = _build_odds_columns()
"""Canonical output odds column -> source column names tried in order (first one in the header
wins for the whole file)."""

OUTPUT_COLUMNS: tuple[str, ...] = (
    "league",
    "season",
    "date",
    "time",
    "home_team",
    "away_team",
    "home_goals",
    "away_goals",
    "result",
    "ht_home_goals",
    "ht_away_goals",
    "ht_result",
    "home_shots_on_target",
    "away_shots_on_target",
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
    raw: list[list[str]] = field(default_factory=list)


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

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")
_TEXT_SAMPLE = 65536
_MAX_CONTROL_SHARE = 0.01


def _decode(data: bytes, source: str) -> str:
    """Decode ``data`` as UTF-8 (BOM optional), else cp1252, else latin-1; reject binary data."""
    if b"\x00" in data:
        raise FootballDataError(f"{source} is not a CSV text file (it contains NUL bytes)")
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    sample = text[:_TEXT_SAMPLE]
    if len(_CONTROL_RE.findall(sample)) > _MAX_CONTROL_SHARE * len(sample):
        raise FootballDataError(f"{source} is not a CSV text file (mostly non-text bytes)")
    return text


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
    for canonical, sources in ODDS_COLUMNS.items():
        found = _first_present(index, sources)
        if found is not None:
            odds[canonical] = found
    return _Layout(
        width=len(header),
        div=index["Div"],
        date=index["Date"],
        home=index["HomeTeam"],
        away=index["AwayTeam"],
        fthg=index["FTHG"],
        ftag=index["FTAG"],
        ftr=None if ftr is None else ftr[0],
        ftr_name="FTR" if ftr is None else ftr[1],
        time=index.get("Time"),
        hthg=index.get("HTHG"),
        htag=index.get("HTAG"),
        htr=index.get("HTR"),
        hst=index.get("HST"),
        ast=index.get("AST"),
        odds=odds,
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


def _team_name(text: str) -> str:
    """A team name with its white space normalised (``' Man  City '`` is ``'Man City'``)."""
    return " ".join(text.split())


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
    row: list[str], layout: _Layout, dates: _DateCache
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
    home, away = _team_name(row[layout.home]), _team_name(row[layout.away])
    if not home:
        reasons.append("missing HomeTeam")
    if not away:
        reasons.append("missing AwayTeam")
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


_LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")


def _iter_rows(text: str) -> Iterator[tuple[int, list[str] | None, str]]:
    """Yield ``(line number, cells, "")`` for every physical line of ``text``, or
    ``(line number, None, reason)`` for a line that cannot be split into cells.

    football-data.co.uk never breaks a line inside a field, so each line is parsed on its
    own: a stray quote spoils its own line only instead of swallowing the rest of the file.
    """
    lines = _LINE_BREAK_RE.split(text)
    if lines and not lines[-1]:
        lines.pop()  # the line break that ends the last line
    for number, line in enumerate(lines, start=1):
        if '"' not in line:
            yield number, line.split(","), ""
            continue
        try:
            yield number, next(csv.reader([line], strict=True), []), ""
        except csv.Error as exc:
            yield number, None, f"cannot split the row into cells, a stray quote? ({exc})"


@dataclass
class _State:
    """Everything collected while walking the data rows of one file."""

    rows: _Rows = field(default_factory=_Rows)
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)
    seen: dict[tuple[str, date, str, str], int] = field(default_factory=dict)  # names casefolded
    divs_seen: Counter[str] = field(default_factory=Counter)
    blank_lines: int = 0
    rows_read: int = 0
    dates: _DateCache = field(default_factory=_DateCache)


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
    match, reasons = _core_fields(row, layout, state.dates)
    if match is None:
        state.problems.append(RowProblem(line, "; ".join(reasons)))
        return
    key = (match.league, match.date, match.home.casefold(), match.away.casefold())
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
    rows.raw.append(row)


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
    by_position = list(zip(*state.rows.raw, strict=False))  # rows are padded to the header
    columns: dict[str, np.ndarray] = {}
    for canonical in ODDS_COLUMNS:
        found = layout.odds.get(canonical)
        if found is None or count == 0:
            columns[canonical] = np.full(count, np.nan)
            continue
        index, name = found
        cells = [cell.strip() for cell in by_position[index]]
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


def _file_league(state: _State) -> str:
    """The most common ``Div`` of the kept rows (else of all rows read; '' if none)."""
    counts = Counter(state.rows.league) or Counter(
        {div: n for div, n in state.divs_seen.items() if div}
    )
    return counts.most_common(1)[0][0] if counts else ""


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def parse_bytes(data: bytes, source: str = "<bytes>") -> ParsedFile:
    """Parse the bytes of one football-data.co.uk CSV file.

    Raises :class:`FootballDataError` when the file cannot be used at all (empty, binary,
    missing required columns). Bad rows are skipped and listed in ``problems``; values dropped
    from kept rows are listed in ``warnings``. A header-only file gives an empty frame.
    """
    text = _decode(data, source)
    if not text.strip():
        raise FootballDataError(f"{source} is empty")
    records = _iter_rows(text)
    _, header, reason = next(records)
    if header is None:
        raise FootballDataError(f"{source}: line 1 (the header): {reason}")
    layout = _layout(header, source)
    state = _State()
    unsplit: list[int] = []
    for line, row, reason in records:
        if row is None:
            unsplit.append(line)
            state.rows_read += 1
            state.problems.append(RowProblem(line, reason))
        else:
            _take_row(state, line, row, layout)
    if len(unsplit) > state.rows_read / 2:
        raise FootballDataError(
            f"{source}: {len(unsplit)} of {state.rows_read} rows cannot be split into cells "
            f"(unbalanced quotes, first at line {unsplit[0]}): the file is not clean CSV"
        )
    season = _season_code(min(state.rows.date)) if state.rows.date else ""
    matches = _frame(state, layout, season)
    state.warnings.sort(key=lambda w: w.line)
    return ParsedFile(
        source=source,
        matches=matches,
        problems=state.problems,
        warnings=state.warnings,
        blank_lines=state.blank_lines,
        rows_read=state.rows_read,
        season=season,
        league=_file_league(state),
    )


def read_file(path: str | os.PathLike[str]) -> ParsedFile:
    """Read and parse one file; an unreadable path raises :class:`FootballDataError`."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise FootballDataError(f"cannot read {os.fspath(path)}: {exc.strerror or exc}") from exc
    return parse_bytes(data, source=str(path))


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
