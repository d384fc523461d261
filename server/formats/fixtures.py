"""football-data.co.uk fixtures files (``fixtures.csv``): the results files' columns
without the results.  One row per coming match: division, date, teams and the pre-match
prices of many books; closing prices (``PSCH``, ``B365C>2.5``...) are ignored, since a
forecast made before kick-off cannot have them."""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from core.odds import MAX_PRICE, MIN_PRICE, OddsRule
from core.sources import (
    FIXTURE_BOOK_PREFIXES,
    FIXTURE_MARKET_PREFIXES,
    FIXTURE_OU_BOOK_PREFIXES,
    FIXTURE_OU_MARKET_PREFIXES,
)
from server.base.config import odds_rule
from server.formats.footballdata import FootballDataError, _decode, _parse_date
from server.formats.source import SourceError, read_data_file

__all__ = ["FixtureRow", "RowCounter", "parse_fixtures", "read_fixtures"]

_1X2 = (("home", "H"), ("draw", "D"), ("away", "A"))
_OU = (("over25", ">2.5"), ("under25", "<2.5"))
# the best price across books, already a composite: no one book's margin to check
_COMPOSITES = ("Max", "BbMx")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class FixtureRow:
    line: int
    fixture: dict[str, Any]
    problem: str | None = None


class _Prices:
    """One row's prices, book by book, under the odds rule: a book whose prices break it is
    left out of this row, with a note saying which and why."""

    def __init__(self, row: dict[str, str], header: set[str], rule: OddsRule) -> None:
        self.row, self.header, self.rule = row, header, rule
        self.notes: list[str] = []
        self._checked: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, float] | None] = {}

    def book(self, prefix: str, market: tuple[tuple[str, str], ...]) -> dict[str, float] | None:
        """The prices ``prefix`` quotes for ``market`` (the cells given), or ``None`` when
        it quotes none or breaks the rule."""
        key = (prefix, market)
        if key not in self._checked:
            self._checked[key] = self._read(prefix, market)
        return self._checked[key]

    def _read(self, prefix: str, market: tuple[tuple[str, str], ...]) -> dict[str, float] | None:
        columns = [f"{prefix}{suffix}" for _, suffix in market]
        cells = {
            name: (self.row.get(col) or "").strip()
            for (name, _), col in zip(market, columns, strict=True)
            if col in self.header
        }
        cells = {k: v for k, v in cells.items() if v}
        if not cells:
            return None
        prices: dict[str, float] = {}
        problem = None
        for name, text in cells.items():
            try:
                value = float(text)
            except ValueError:
                problem = f"{text!r} is not a decimal price"
                break
            if not (math.isfinite(value) and MIN_PRICE <= value <= MAX_PRICE):
                problem = f"{text} is outside the decimal odds range [{MIN_PRICE}, {MAX_PRICE:g}]"
                break
            prices[name] = value
        if problem is None and len(prices) == len(market) and prefix not in _COMPOSITES:
            problem = self.rule.problem(list(prices.values()))
        if problem is not None:
            self.notes.append(f"{'/'.join(columns)} ignored: {problem}")
            return None
        return prices

    def first_complete(
        self, prefixes: tuple[str, ...], market: tuple[tuple[str, str], ...]
    ) -> dict[str, float] | None:
        for prefix in prefixes:
            prices = self.book(prefix, market)
            if prices is not None and len(prices) == len(market):
                return prices
        return None

    def best(
        self, prefixes: tuple[str, ...], market: tuple[tuple[str, str], ...]
    ) -> dict[str, float]:
        best: dict[str, float] = {}
        for prefix in prefixes:
            for name, value in (self.book(prefix, market) or {}).items():
                best[name] = max(best.get(name, value), value)
        return best


def _odds(
    row: dict[str, str], header: set[str], rule: OddsRule
) -> tuple[dict[str, float] | None, dict[str, float] | None, list[str]]:
    """(market odds, best odds, notes) of one row: the first complete 1X2 set of the market
    books, and per outcome the best price of any book; books whose prices break the odds
    rule are left out, each with a note."""
    prices = _Prices(row, header, rule)
    market = prices.first_complete(FIXTURE_MARKET_PREFIXES, _1X2) or {}
    totals = prices.first_complete(FIXTURE_OU_MARKET_PREFIXES, _OU)
    if totals and market:
        market.update(totals)
    best = prices.best(FIXTURE_BOOK_PREFIXES, _1X2)
    best.update(prices.best(FIXTURE_OU_BOOK_PREFIXES, _OU))
    if not {"home", "draw", "away"} <= set(best):
        best = {}
    return market or None, best or None, prices.notes


class RowCounter:
    """Counts a fixtures file's data rows (non-blank lines after the header) as its bytes
    arrive, so that an upload past the row limit is refused before it is read in full,
    let alone parsed.  A quoted cell holding a line break counts as two lines: the count
    never falls short of the parser's."""

    def __init__(self) -> None:
        self.lines = 0  # non-blank lines, the header included
        self._blank = True  # whether the current (unfinished) line is blank so far

    def feed(self, chunk: bytes) -> int:
        """Count ``chunk``; returns the data rows so far."""
        parts = chunk.split(b"\n")
        for i, part in enumerate(parts):
            if part.strip():
                self._blank = False
            if i < len(parts) - 1:  # a line ends here
                self.lines += not self._blank
                self._blank = True
        return self.rows

    @property
    def rows(self) -> int:
        return max(0, self.lines + (not self._blank) - 1)


def read_fixtures(path: str | Path) -> list[FixtureRow]:
    """Every data row of a fixtures file, with its line number; a row without both team
    names is returned with a ``problem``.  An unreadable file raises
    :class:`~server.formats.footballdata.FootballDataError`."""
    source = str(path)
    try:
        data = read_data_file(path)  # a regular file within FPE_MAX_FILE_BYTES
    except SourceError as exc:
        raise FootballDataError(str(exc)) from None
    return parse_fixtures(data, source)


def _fixture_date(text: str) -> date | None:
    """``dd/mm/yyyy`` or ``dd/mm/yy`` (football-data.co.uk's), or ISO ``YYYY-MM-DD``."""
    if _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    return _parse_date(text)


def parse_fixtures(data: bytes, source: str = "<fixtures>") -> list[FixtureRow]:
    text = _decode(data, source)
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in ("HomeTeam", "AwayTeam") if c not in header]
    if missing:
        raise FootballDataError(
            f"{source}: not a football-data.co.uk fixtures file: no {', '.join(missing)} column"
        )
    columns = set(header)
    rule = odds_rule()
    rows = []
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        row = dict(zip(header, cells, strict=False))
        home, away = (row.get("HomeTeam") or "").strip(), (row.get("AwayTeam") or "").strip()
        fixture: dict[str, Any] = {
            "home": home,
            "away": away,
            "league": (row.get("Div") or "").strip() or None,
            "date": None,
        }
        raw_date = (row.get("Date") or "").strip()
        if raw_date:
            fixture["date"] = _fixture_date(raw_date)
        market, best, notes = _odds(row, columns, rule)
        fixture["odds"], fixture["edge_odds"], fixture["notes"] = market, best, notes
        problem = None if home and away else "HomeTeam and AwayTeam are both needed"
        if raw_date and fixture["date"] is None:
            problem = f"Date {raw_date!r} is not dd/mm/yyyy, dd/mm/yy or YYYY-MM-DD"
        rows.append(FixtureRow(number, fixture, problem))
    return rows
