"""Implied probabilities from decimal odds, with the bookmaker's margin removed.

``odds`` is an (n, k) array of decimal odds for k mutually exclusive outcomes (k = 3 for
1X2).  A row with a missing (NaN) or invalid (<= 1) price gives a row of NaN.

Methods:

- ``multiplicative``: ``p_i = (1/o_i) / sum_j (1/o_j)``.
- ``power``: ``p_i = (1/o_i)^k`` with k chosen so that the row sums to one (shades
  longshots more than favourites).
- ``shin``: Shin's (1993) model of insider trading; ``z`` is the insider share, solved per
  row, ``p_i = (sqrt(z^2 + 4 (1 - z) q_i^2 / S) - z) / (2 (1 - z))`` with ``q_i = 1/o_i``
  and ``S = sum q``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import InvalidInputError
from core.sources import MARKET_SOURCES

__all__ = [
    "MAX_PRICE",
    "METHODS",
    "MIN_PRICE",
    "OddsRule",
    "implied_probabilities",
    "market_probabilities",
    "overround",
]

METHODS = ("multiplicative", "power", "shin")

MIN_PRICE = 1.01
MAX_PRICE = 1000.0


@dataclass(frozen=True)
class OddsRule:
    """The one rule for prices a user gives (CLI, REST, GraphQL, fixtures files): decimal
    odds in [:data:`MIN_PRICE`, :data:`MAX_PRICE`], and one book's set of prices for one
    market (1X2, or over/under) with a book sum (sum of 1/odds, 1 + the margin) within
    [``min_book``, ``max_book``].  A sum far above one is a typo or not one book's prices
    (``1.2 1.5 1.9`` sums to 2.03); far below one is no book at all."""

    min_book: float = 0.95
    max_book: float = 1.30

    def problem(self, prices: Sequence[Any]) -> str | None:
        """What is wrong with one book's prices for one market, or ``None``."""
        values = []
        for price in prices:
            try:
                value = float(price)
            except (TypeError, ValueError):
                return f"{price!r} is not a decimal price"
            if not (math.isfinite(value) and MIN_PRICE <= value <= MAX_PRICE):
                return f"{price!r} is outside the decimal odds range [{MIN_PRICE}, {MAX_PRICE:g}]"
            values.append(value)
        book = sum(1.0 / v for v in values)
        if not self.min_book <= book <= self.max_book:
            shown = " ".join(f"{v:g}" for v in values)
            return (
                f"the prices {shown} add up to a {100 * book:.1f} % book, outside "
                f"{100 * self.min_book:g}-{100 * self.max_book:g} % (not one book's prices?)"
            )
        return None

    def check(self, prices: Sequence[Any], what: str) -> None:
        """Raise :class:`InvalidInputError` naming ``what`` (the fixture and the book) when
        ``prices`` break the rule."""
        problem = self.problem(prices)
        if problem is not None:
            raise InvalidInputError(f"{what}: {problem}")


def _inverse(odds: Any) -> tuple[np.ndarray, np.ndarray]:
    o = np.asarray(odds, dtype=float)
    if o.ndim == 1:
        o = o[None, :]
    if o.ndim != 2 or o.shape[1] < 2:
        raise InvalidInputError(f"odds must have shape (n, k) with k >= 2, got {o.shape}")
    valid = np.isfinite(o).all(axis=1) & (o > 1.0).all(axis=1)
    q = np.full(o.shape, np.nan)
    q[valid] = 1.0 / o[valid]
    return q, valid


def overround(odds: Any) -> np.ndarray:
    """Book sum minus one (the margin) per row; NaN for invalid rows."""
    q, _ = _inverse(odds)
    return q.sum(axis=1) - 1.0


def implied_probabilities(odds: Any, method: str = "multiplicative") -> np.ndarray:
    """(n, k) probabilities summing to one per valid row."""
    q, valid = _inverse(odds)
    out = np.full(q.shape, np.nan)
    if not valid.any():
        if method not in METHODS:
            raise InvalidInputError(f"unknown method {method!r}; use one of {METHODS}")
        return out
    qv = q[valid]
    if method == "multiplicative":
        out[valid] = qv / qv.sum(axis=1, keepdims=True)
    elif method == "power":
        out[valid] = _power(qv)
    elif method == "shin":
        out[valid] = _shin(qv)
    else:
        raise InvalidInputError(f"unknown method {method!r}; use one of {METHODS}")
    return out


def _power(q: np.ndarray) -> np.ndarray:
    """Newton on k for sum(q^k) = 1 (monotone and convex in k, starting at k = 1).  Each
    row stops once its own residual has converged, so a row's result never depends on the
    other rows of the call."""
    logq = np.log(q)
    k = np.ones((q.shape[0], 1))
    todo = np.arange(q.shape[0])
    for _ in range(50):
        lq = logq[todo]
        qk = np.exp(k[todo] * lq)
        f = qk.sum(axis=1, keepdims=True) - 1.0
        going = np.abs(f[:, 0]) >= 1e-14
        if not going.any():
            break
        todo, f, qk, lq = todo[going], f[going], qk[going], lq[going]
        k[todo] -= f / (qk * lq).sum(axis=1, keepdims=True)
    p = np.exp(k * logq)
    return p / p.sum(axis=1, keepdims=True)


def _shin(q: np.ndarray) -> np.ndarray:
    """Bisection on z in [0, 1): sum of Shin probabilities decreases in z."""
    s = q.sum(axis=1, keepdims=True)

    def probs(z: np.ndarray) -> np.ndarray:
        return (np.sqrt(z**2 + 4.0 * (1.0 - z) * q**2 / s) - z) / (2.0 * (1.0 - z))

    lo = np.zeros((q.shape[0], 1))
    hi = np.full((q.shape[0], 1), 0.999)
    over = s[:, 0] > 1.0  # a book below 100% has no margin to remove: z = 0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        too_big = probs(mid).sum(axis=1, keepdims=True) > 1.0
        lo = np.where(too_big, mid, lo)
        hi = np.where(too_big, hi, mid)
    z = np.where(over[:, None], 0.5 * (lo + hi), 0.0)
    p = probs(z)
    return p / p.sum(axis=1, keepdims=True)


def market_probabilities(
    frame: Any, method: str = "power", sources: tuple[str, ...] = MARKET_SOURCES
) -> tuple[np.ndarray, np.ndarray]:
    """Margin-free 1X2 probabilities per match from the first source with a complete,
    valid set of prices, and the name of that source ('' when none had one).

    ``frame`` has columns ``{source}_h``, ``{source}_d``, ``{source}_a`` (the football-data
    parser's canonical names); missing columns count as missing prices.
    """
    n = len(frame)
    probs = np.full((n, 3), np.nan)
    used = np.full(n, "", dtype=object)
    for source in sources:
        cols = [f"{source}_{o}" for o in "hda"]
        if not all(c in frame.columns for c in cols):
            continue
        todo = np.isnan(probs[:, 0])
        if not todo.any():
            break
        p = implied_probabilities(np.asarray(frame[cols], dtype=float)[todo], method)
        ok = ~np.isnan(p[:, 0])
        idx = np.flatnonzero(todo)[ok]
        probs[idx] = p[ok]
        used[idx] = source
    return probs, used
