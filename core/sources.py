"""The one vocabulary of price sources: which books, which kinds, and which column of a
football-data.co.uk file holds each price.

A *source* is a book and a kind, ``"<book>_<kind>"`` (``"pinnacle_pre"``).  Its prices are
the columns ``"<source>_h"``, ``"_d"``, ``"_a"`` (1X2) and ``"_over25"``, ``"_under25"``
(over/under 2.5 goals), the canonical odds columns of the parser, the database and the
match frames.  ``pre`` prices are collected a day or two before kick-off, what a forecast
can have; ``close`` prices are the last before kick-off, the ceiling to compare against.
``max`` is the best price across books: no single book offers it.  Two maxima are two
sources: ``max`` is football-data's own (``Max*``, from 2019/20), ``bbmax`` BetBrain's
(``BbMx*``, files to 2018/19), each the maximum over a different set of books.

Every list of sources used somewhere is named here, after what it is for.
"""

from __future__ import annotations

__all__ = [
    "BENCHMARK_SOURCES",
    "BET_CLOSING_SOURCE",
    "BET_SOURCES",
    "BLEND_SOURCES",
    "BOOKS",
    "DRAW_SOURCES",
    "FILE_COLUMNS",
    "FIXTURE_BOOK_PREFIXES",
    "FIXTURE_MARKET_PREFIXES",
    "FIXTURE_OU_BOOK_PREFIXES",
    "FIXTURE_OU_MARKET_PREFIXES",
    "KINDS",
    "MARKET_FIT_SOURCES",
    "MARKET_SOURCES",
    "MAX_BOOKS",
    "ODDS_COLUMNS",
    "OUTCOME_SUFFIXES",
    "book_name",
    "columns_1x2",
]

BOOKS = ("pinnacle", "b365", "avg", "bbav", "max", "bbmax")
KINDS = ("pre", "close")
OUTCOME_SUFFIXES = ("h", "d", "a")

# book -> kind -> football-data.co.uk column prefixes tried in order (notes.txt), for 1X2 and
# for over/under 2.5.  Two averages are two books: ``avg`` is football-data's own (Avg*, from
# 2019/20), ``bbav`` BetBrain's (BbAv*, files to 2018/19, pre-match only); so are the two
# maxima, ``max`` (Max*, from 2019/20) and ``bbmax`` (BbMx*, files to 2018/19, pre-match
# only).  Never stored or reported under one name.
_PREFIXES_1X2: dict[str, dict[str, tuple[str, ...]]] = {
    "pinnacle": {"pre": ("PS",), "close": ("PSC",)},
    "b365": {"pre": ("B365",), "close": ("B365C",)},
    "avg": {"pre": ("Avg",), "close": ("AvgC",)},
    "max": {"pre": ("Max",), "close": ("MaxC",)},
}
_PREFIXES_OU: dict[str, dict[str, tuple[str, ...]]] = {
    "pinnacle": {"pre": ("P",), "close": ("PC",)},
    "b365": {"pre": ("B365",), "close": ("B365C",)},
    "avg": {"pre": ("Avg",), "close": ("AvgC",)},
    "max": {"pre": ("Max",), "close": ("MaxC",)},
}
# Books added later: their five columns come after the forty above, in the order the
# migrations add them to the table (0006 bbav, 0007 bbmax; 1X2 and over/under 2.5 have the
# same prefix).
_ADDED_PREFIXES: dict[str, dict[str, tuple[str, ...]]] = {
    "bbav": {"pre": ("BbAv",)},
    "bbmax": {"pre": ("BbMx",)},
}


def _file_columns() -> dict[str, tuple[str, ...]]:
    columns: dict[str, tuple[str, ...]] = {}
    for book, kinds in _PREFIXES_1X2.items():
        for kind, prefixes in kinds.items():
            for outcome in OUTCOME_SUFFIXES:
                columns[f"{book}_{kind}_{outcome}"] = tuple(p + outcome.upper() for p in prefixes)
    for book, kinds in _PREFIXES_OU.items():
        for kind, prefixes in kinds.items():
            columns[f"{book}_{kind}_over25"] = tuple(p + ">2.5" for p in prefixes)
            columns[f"{book}_{kind}_under25"] = tuple(p + "<2.5" for p in prefixes)
    for book, kinds in _ADDED_PREFIXES.items():
        for kind, prefixes in kinds.items():
            for outcome in OUTCOME_SUFFIXES:
                columns[f"{book}_{kind}_{outcome}"] = tuple(p + outcome.upper() for p in prefixes)
            columns[f"{book}_{kind}_over25"] = tuple(p + ">2.5" for p in prefixes)
            columns[f"{book}_{kind}_under25"] = tuple(p + "<2.5" for p in prefixes)
    return columns


FILE_COLUMNS: dict[str, tuple[str, ...]] = _file_columns()
"""Every canonical odds column and the football-data.co.uk columns tried in order."""
ODDS_COLUMNS: tuple[str, ...] = tuple(FILE_COLUMNS)
"""The canonical odds columns (fifty: four books x two kinds x five prices, and BetBrain's
pre-match average and maximum)."""


def columns_1x2(source: str) -> list[str]:
    """The canonical 1X2 columns of ``source``: ``pinnacle_pre_h``, ``_d``, ``_a``."""
    return [f"{source}_{o}" for o in OUTCOME_SUFFIXES]


def book_name(source: str) -> str:
    """The book of a source (``pinnacle_pre`` -> ``pinnacle``)."""
    return source.rsplit("_", 1)[0]


MAX_BOOKS = ("max", "bbmax")
"""The books that are a maximum over many books (football-data's and BetBrain's): prices
no single book offers."""


# --- which sources each use takes, best first ------------------------------------------------

MARKET_SOURCES = (
    "pinnacle_close",
    "avg_close",
    "b365_close",
    "pinnacle_pre",
    "avg_pre",
    "bbav_pre",
    "b365_pre",
    "max_close",
    "max_pre",
    "bbmax_pre",
)
"""The market baseline of a past match: closing prices first (the sharpest), Pinnacle before
the market average; then pre-match prices when no closing price is published; the maxima
last, football-data's before BetBrain's (each named as the source used)."""

MARKET_FIT_SOURCES = tuple(s for s in MARKET_SOURCES if book_name(s) not in MAX_BOOKS)
"""What the market-implied ratings are fitted on: any one book's (or the average's) price,
never a best-of-books maximum."""

BLEND_SOURCES = ("pinnacle_pre", "avg_pre", "bbav_pre", "b365_pre", "max_pre", "bbmax_pre")
"""Prices a forecast issued a day or two before kick-off can have: what blends train on (and
what a stored model's blend gets when it is evaluated), the best-of-books maxima last: a
match with no single book's price falls back to football-data's maximum, then to BetBrain's,
each reported under its own name."""

DRAW_SOURCES = ("pinnacle_pre", "avg_pre", "bbav_pre", "b365_pre")
"""The draw model's market draw: pre-match prices of one book or the average (never the
maximum, which no single book offers)."""

BENCHMARK_SOURCES: dict[str, tuple[str, ...]] = {
    "pre": ("pinnacle_pre", "avg_pre", "bbav_pre"),
    "close": ("pinnacle_close", "avg_close"),
}
"""One price source per evaluation: Pinnacle, else a market average (football-data's, then
BetBrain's)."""

BET_SOURCES = ("max_pre", "bbmax_pre", "avg_pre", "bbav_pre")
"""Pre-match prices the betting evaluation bets at, each reported on its own: the two best
prices across books (football-data's, BetBrain's) and the two market averages."""
BET_CLOSING_SOURCE = "pinnacle_close"
"""The closing line a bet's price is compared with (closing-line value): the sharpest."""


def _fixture_prefixes(sources: tuple[str, ...], price: str, suffix: str) -> tuple[str, ...]:
    return tuple(c[: -len(suffix)] for s in sources for c in FILE_COLUMNS[f"{s}_{price}"])


FIXTURE_MARKET_PREFIXES: tuple[str, ...] = _fixture_prefixes(DRAW_SOURCES, "h", "H")
"""A fixtures file's market 1X2 (it feeds the blend and gives the margin-free market): the
first complete set of these prefixes (``PS``, ``Avg``, ``BbAv``, ``B365``)."""
FIXTURE_OU_MARKET_PREFIXES: tuple[str, ...] = _fixture_prefixes(DRAW_SOURCES, "over25", ">2.5")
"""A fixtures file's market over/under 2.5 (``P``, ``Avg``, ``BbAv``, ``B365``)."""

FIXTURE_BOOK_PREFIXES = (
    "B365", "BF", "BFD", "BFE", "BMGM", "BV", "BS", "BW", "CL", "GB", "IW", "LB", "1XB", "PS",
    "SO", "SB", "SJ", "SY", "VC", "WH", "Max", "BbMx",
)  # fmt: skip
"""Every pre-match 1X2 book of a fixtures file (notes.txt): the best price per outcome is
the highest of these (``Max``/``BbMx`` are already the best across books).  This is the
best price a fixture can be bet at, no price source: it is never stored or reported as
``max_pre`` or ``bbmax_pre``."""
FIXTURE_OU_BOOK_PREFIXES = ("B365", "P", "BFE", "GB", "Max", "BbMx")
"""Every pre-match over/under 2.5 book of a fixtures file."""
