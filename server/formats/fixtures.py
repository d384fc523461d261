"""football-data.co.uk fixtures files (``fixtures.csv``): the results files' columns
without the results.  One row per coming match: division, date, teams and the pre-match
prices of many books; closing prices (``PSCH``, ``B365C>2.5``...) are ignored, since a
forecast made before kick-off cannot have them."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.formats.footballdata import FootballDataError, _decode, _parse_date
from server.formats.source import SourceError, read_data_file

__all__ = ["FixtureRow", "parse_fixtures", "read_fixtures"]

# pre-match 1X2 bookmaker prefixes of football-data.co.uk (notes.txt); "Max"/"BbMx" are
# the best price across books, "Avg"/"BbAv" the average
BOOKS = (
    "B365", "BF", "BFD", "BFE", "BMGM", "BV", "BS", "BW", "CL", "GB", "IW", "LB", "1XB", "PS",
    "SO", "SB", "SJ", "SY", "VC", "WH", "Max", "BbMx",
)  # fmt: skip
OU_BOOKS = ("B365", "P", "BFE", "GB", "Max", "BbMx")
# the prices that feed the blend and the margin-free market: the sharpest book available
MARKET_PREFIXES = ("PS", "Avg", "BbAv", "B365")
MARKET_OU_PREFIXES = ("P", "Avg", "BbAv", "B365")


@dataclass
class FixtureRow:
    line: int
    fixture: dict[str, Any]
    problem: str | None = None


def _price(row: dict[str, str], column: str) -> float | None:
    text = (row.get(column) or "").strip()
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value > 1.0 else None


def _set(row: dict[str, str], names: list[str]) -> list[float] | None:
    prices = [_price(row, n) for n in names]
    return None if any(p is None for p in prices) else prices  # type: ignore[return-value]


def _odds(
    row: dict[str, str], header: set[str]
) -> tuple[dict[str, float] | None, dict[str, float] | None]:
    """(market odds, best odds) of one row: the first complete 1X2 set of the market
    books, and per outcome the best price of any book."""
    market: dict[str, float] = {}
    for prefix in MARKET_PREFIXES:
        prices = _set(row, [f"{prefix}H", f"{prefix}D", f"{prefix}A"])
        if prices:
            market = dict(zip(("home", "draw", "away"), prices, strict=True))
            break
    for prefix in MARKET_OU_PREFIXES:
        prices = _set(row, [f"{prefix}>2.5", f"{prefix}<2.5"])
        if prices and market:
            market.update(over25=prices[0], under25=prices[1])
            break
    best: dict[str, float] = {}
    for key, suffix in (("home", "H"), ("draw", "D"), ("away", "A")):
        values = [_price(row, f"{b}{suffix}") for b in BOOKS if f"{b}{suffix}" in header]
        values = [v for v in values if v is not None]
        if values:
            best[key] = max(values)
    for key, suffix in (("over25", ">2.5"), ("under25", "<2.5")):
        values = [_price(row, f"{b}{suffix}") for b in OU_BOOKS if f"{b}{suffix}" in header]
        values = [v for v in values if v is not None]
        if values:
            best[key] = max(values)
    if not {"home", "draw", "away"} <= set(best):
        best = {}
    return market or None, best or None


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
            fixture["date"] = _parse_date(raw_date)
        market, best = _odds(row, columns)
        fixture["odds"], fixture["edge_odds"] = market, best
        problem = None if home and away else "HomeTeam and AwayTeam are both needed"
        if raw_date and fixture["date"] is None:
            problem = f"Date {raw_date!r} is not dd/mm/yy or dd/mm/yyyy"
        rows.append(FixtureRow(number, fixture, problem))
    return rows
