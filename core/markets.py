"""Score grids and the betting markets derived from them, vectorised over fixtures.

A grid ``grid[k, x, y]`` is the probability that fixture ``k`` ends ``x``-``y`` (home goals
first), for ``0 <= x, y <= max_goals``; by default the grid is as large as it takes to leave out
less than 1e-10 of the probability.  Grids are renormalised to sum to one, so every market
below is an exact function of the grid (1X2 equals the grid sums to the last bit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from core.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "TAIL",
    "MatchProbabilities",
    "Settlement",
    "feasible_rho",
    "grid_size",
    "log_factorials",
    "outcome_probabilities",
    "rho_bounds",
    "score_grid",
]


TAIL = 1e-10
"""Largest probability a score grid may leave out (the default truncation)."""


_MAX_GRID = 400


@lru_cache(maxsize=16)
def _log_factorial_table(size: int) -> np.ndarray:
    table = np.array([math.log(math.factorial(k)) for k in range(size)])
    table.flags.writeable = False
    return table


def log_factorials(size: int) -> np.ndarray:
    """``log(k!)`` for ``k = 0 .. size - 1``: what ``scipy.special.gammaln(k + 1)`` gives,
    to the last bit or one unit in it, without importing scipy (a fast ``fpe price``)."""
    return _log_factorial_table(max(64, 1 << (size - 1).bit_length()))[:size]


def grid_size(home_rate: np.ndarray, away_rate: np.ndarray, tail: float = TAIL) -> int:
    """Smallest ``max_goals`` (at least 1) that leaves out less than ``tail`` of every fixture.

    The cells left out are those with more than ``max_goals`` home or away goals; tau only
    touches scores up to 1-1, so their mass is at most ``P(X > n) + P(Y > n)``, and each term
    is kept below ``tail / 2`` (with a margin of one part in a million for rounding).
    """
    if not 0.0 < tail < 1.0:
        raise InvalidInputError(f"tail must be in (0, 1), not {tail!r}")
    rate = float(max(np.max(home_rate, initial=0.0), np.max(away_rate, initial=0.0)))
    if not math.isfinite(rate):
        raise InvalidInputError("goal rates must be finite")
    if rate <= 0.0:
        return 1
    if rate >= _MAX_GRID:  # more than half its mass beyond _MAX_GRID goals
        raise InvalidInputError(f"a goal rate of {rate:g} is beyond any football score grid")
    # P(X > n) at the largest rate, summed from the far tail up (where the terms are
    # small) so that tails of 1e-10 keep their digits; beyond rate + 12 sd + 40 goals the
    # Poisson mass is below 1e-30
    k = np.arange(int(rate + 12.0 * math.sqrt(rate) + 42.0))
    pmf = np.exp(k * math.log(rate) - rate - log_factorials(k.size))
    beyond = np.cumsum(pmf[::-1])[::-1][1:]  # beyond[n] = P(X > n)
    small = beyond <= tail / 2.0 * (1.0 - 1e-6)
    if not small.any():
        raise InvalidInputError(f"no score grid leaves out less than {tail:g} of the goals")
    n = int(np.argmax(small))
    if n > _MAX_GRID:
        raise InvalidInputError(f"a goal rate of {rate:g} is beyond any football score grid")
    return max(n, 1)


def rho_bounds(home_rate: np.ndarray, away_rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The open interval of rho that keeps all four tau factors positive for each fixture:
    ``1 - lam*mu*rho``, ``1 + lam*rho``, ``1 + mu*rho`` and ``1 - rho``."""
    lam = np.asarray(home_rate, dtype=float)
    mu = np.asarray(away_rate, dtype=float)
    return -1.0 / np.maximum(np.maximum(lam, mu), 1e-300), np.minimum(
        1.0, 1.0 / np.maximum(lam * mu, 1e-300)
    )


def feasible_rho(rho: float, home_rate: np.ndarray, away_rate: np.ndarray) -> float | np.ndarray:
    """``rho``, moved inside each fixture's :func:`rho_bounds` where it lies outside them
    (a scalar when it is valid for every fixture, else one value per fixture)."""
    if not rho:
        return rho
    lo, hi = rho_bounds(home_rate, away_rate)
    keep = 1.0 - 1e-6
    if ((rho > lo * keep) & (rho < hi * keep)).all():
        return rho
    return np.clip(rho, lo * keep, hi * keep)


def _pmfs(
    home_rate: np.ndarray, away_rate: np.ndarray, max_goals: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rates as arrays and their Poisson pmfs up to ``max_goals`` (None: the exact
    :func:`grid_size`), shared by :func:`score_grid` and :func:`outcome_probabilities`."""
    lam = np.atleast_1d(np.asarray(home_rate, dtype=float))
    mu = np.atleast_1d(np.asarray(away_rate, dtype=float))
    if not ((lam > 0).all() and (mu > 0).all()):
        raise InvalidInputError("goal rates must be positive")
    if max_goals is None:
        max_goals = grid_size(lam, mu)
    elif max_goals < 1:
        raise InvalidInputError(f"max_goals must be at least 1, got {max_goals}")
    k = np.arange(max_goals + 1)
    log_fact = log_factorials(k.size)
    home = np.exp(k * np.log(lam)[:, None] - lam[:, None] - log_fact)
    away = np.exp(k * np.log(mu)[:, None] - mu[:, None] - log_fact)
    return lam, mu, home, away


def score_grid(
    home_rate: np.ndarray,
    away_rate: np.ndarray,
    rho: float | np.ndarray = 0.0,
    max_goals: int | None = None,
) -> np.ndarray:
    """Dixon-Coles score grid for Poisson rates ``home_rate`` and ``away_rate``.

    ``max_goals=None`` (default) sizes the grid so that less than :data:`TAIL` (1e-10) of
    every fixture's probability lies outside it (:func:`grid_size`); the grid is then
    renormalised, so its markets are the exact model's to within 1e-10.  ``rho`` is one
    value or one per fixture; a rho outside a fixture's :func:`rho_bounds` is an error, since
    it would make a cell negative.
    """
    lam, mu, home, away = _pmfs(home_rate, away_rate, max_goals)
    grid = home[:, :, None] * away[:, None, :]
    rho_arr = np.asarray(rho, dtype=float)
    if rho_arr.any():
        lo, hi = rho_bounds(lam, mu)
        inside = (rho_arr > lo) & (rho_arr < hi)
        if not inside.all():
            bad = int(np.flatnonzero(~inside)[0])
            raise InvalidInputError(
                f"rho {float(np.broadcast_to(rho_arr, lam.shape)[bad]):g} makes a score "
                f"probability negative for rates {lam[bad]:g} and {mu[bad]:g}"
            )
        grid[:, 0, 0] *= 1.0 - lam * mu * rho_arr
        grid[:, 0, 1] *= 1.0 + lam * rho_arr
        grid[:, 1, 0] *= 1.0 + mu * rho_arr
        grid[:, 1, 1] *= 1.0 - rho_arr
    grid /= grid.sum(axis=(1, 2))[:, None, None]
    return grid


def outcome_probabilities(
    home_rate: np.ndarray,
    away_rate: np.ndarray,
    rho: float | np.ndarray = 0.0,
    max_goals: int | None = None,
) -> np.ndarray:
    """(n, 3) home win, draw, away win of :func:`score_grid` (same truncation, same
    renormalisation) without building the grid: O(goals) per fixture, not O(goals^2)."""
    lam, mu, px, py = _pmfs(home_rate, away_rate, max_goals)
    below = np.cumsum(py, axis=1)  # below[:, x - 1] = P(Y < x)
    home = (px[:, 1:] * below[:, :-1]).sum(axis=1)
    draw = (px * py).sum(axis=1)
    total = px.sum(axis=1) * below[:, -1]
    r = np.asarray(rho, dtype=float)
    if r.any():
        lo, hi = rho_bounds(lam, mu)
        if not ((r > lo) & (r < hi)).all():
            raise InvalidInputError("rho makes a score probability negative for these rates")
        c00 = -lam * mu * r * px[:, 0] * py[:, 0]
        c01 = lam * r * px[:, 0] * py[:, 1]
        c10 = mu * r * px[:, 1] * py[:, 0]
        c11 = -r * px[:, 1] * py[:, 1]
        home = home + c10
        draw = draw + c00 + c11
        total = total + c00 + c01 + c10 + c11
    home, draw = home / total, draw / total
    return np.column_stack([home, draw, 1.0 - home - draw])


@lru_cache(maxsize=16)
def _projections(size: int) -> tuple[np.ndarray, np.ndarray]:
    """For a flattened grid: 0/1 columns home win, draw, away win, both score, then home and
    away goals (6 columns); and the maps to total goals and to goal difference (4k - 2
    columns).  One matrix product each: BLAS beats any slicing of the grid."""
    x, y = np.divmod(np.arange(size * size), size)
    basic = np.stack([x > y, x == y, x < y, (x > 0) & (y > 0), x, y], axis=1).astype(float)
    sums = np.zeros((size * size, 4 * size - 2))
    sums[np.arange(size * size), x + y] = 1.0
    sums[np.arange(size * size), 2 * size - 1 + x - y + size - 1] = 1.0
    return basic, sums


@dataclass(frozen=True)
class Settlement:
    """Stake-weighted outcome probabilities of a handicap or totals bet.

    For a quarter line the stake is split over the two neighbouring lines, so ``win`` and
    ``lose`` count half wins and half losses at half weight; ``win + push + lose == 1``.
    """

    win: np.ndarray
    push: np.ndarray
    lose: np.ndarray


def _settle(values: np.ndarray, dist: np.ndarray, threshold: float) -> Settlement:
    """Bet wins when the integer outcome ``values`` is above ``threshold``."""
    quarters = threshold * 4.0
    if not np.isfinite(quarters) or abs(quarters - round(quarters)) > 1e-9:
        raise InvalidInputError(f"line {threshold} is not a multiple of 0.25")
    quarters = round(quarters)
    if quarters % 2:  # quarter line: half the stake on each neighbour
        lower = _settle(values, dist, (quarters - 1) / 4.0)
        upper = _settle(values, dist, (quarters + 1) / 4.0)
        return Settlement(
            (lower.win + upper.win) / 2,
            (lower.push + upper.push) / 2,
            (lower.lose + upper.lose) / 2,
        )
    c = quarters / 4.0
    win = dist[:, values > c].sum(axis=1)
    push = dist[:, values == c].sum(axis=1)
    return Settlement(win, push, 1.0 - win - push)


class MatchProbabilities:
    """Predicted score grids for a batch of fixtures and every market derived from them."""

    def __init__(
        self,
        home_team: np.ndarray,
        away_team: np.ndarray,
        home_rate: np.ndarray,
        away_rate: np.ndarray,
        grid: np.ndarray,
        rho: float | np.ndarray = 0.0,
    ) -> None:
        self.home_team = home_team
        self.away_team = away_team
        self.home_rate = home_rate
        self.away_rate = away_rate
        self.rho = rho  # the grid's dependence parameter (one value or one per fixture)
        self.grid = grid
        size = grid.shape[1]
        self._total_values = np.arange(2 * size - 1)
        self._diff_values = np.arange(-(size - 1), size)
        self._flat = grid.reshape(grid.shape[0], -1)
        self._basic: np.ndarray | None = None
        self._total: np.ndarray | None = None
        self._diff: np.ndarray | None = None

    def __len__(self) -> int:
        return self.grid.shape[0]

    def _sums(self) -> np.ndarray:
        if self._basic is None:
            self._basic = self._flat @ _projections(self.grid.shape[1])[0]
        return self._basic

    # 1X2 -------------------------------------------------------------------------------
    @property
    def home_win(self) -> np.ndarray:
        return self._sums()[:, 0]

    @property
    def draw(self) -> np.ndarray:
        return self._sums()[:, 1]

    @property
    def away_win(self) -> np.ndarray:
        return self._sums()[:, 2]

    @property
    def outcomes(self) -> np.ndarray:
        """(n, 3) array: home win, draw, away win."""
        return self._sums()[:, :3].copy()

    # goals -----------------------------------------------------------------------------
    @property
    def expected_goals(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean home and away goals under the grid (tau-corrected, truncated)."""
        sums = self._sums()
        return sums[:, 4].copy(), sums[:, 5].copy()

    def _project(self) -> tuple[np.ndarray, np.ndarray]:
        if self._total is None or self._diff is None:
            size = self.grid.shape[1]
            both = self._flat @ _projections(size)[1]
            self._total, self._diff = both[:, : 2 * size - 1], both[:, 2 * size - 1 :]
        return self._total, self._diff

    @property
    def total_goals(self) -> np.ndarray:
        """(n, 2 * max_goals + 1): probability of each total number of goals."""
        return self._project()[0]

    @property
    def goal_difference(self) -> np.ndarray:
        """(n, 2 * max_goals + 1): column j is P(home goals - away goals = j - max_goals)."""
        return self._project()[1]

    def totals(self, line: float = 2.5) -> Settlement:
        """Over/under ``line`` (any multiple of 0.25): ``win`` is the over side."""
        return _settle(self._total_values, self.total_goals, line)

    def over(self, line: float = 2.5) -> np.ndarray:
        return self.totals(line).win

    def under(self, line: float = 2.5) -> np.ndarray:
        return self.totals(line).lose

    def asian_handicap(self, line: float, side: str = "home") -> Settlement:
        """Asian handicap ``line`` applied to ``side`` ('home' or 'away'), quarter lines
        included: the home bet at -0.5 wins when the home side wins."""
        if side == "home":
            return _settle(self._diff_values, self.goal_difference, -line)
        if side == "away":
            return _settle(-self._diff_values, self.goal_difference, -line)
        raise InvalidInputError(f"side must be 'home' or 'away', got {side!r}")

    @property
    def btts(self) -> np.ndarray:
        """Both teams to score: P(home >= 1 and away >= 1)."""
        return self._sums()[:, 3].copy()

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd  # only here: pricing from odds needs no pandas

        home_xg, away_xg = self.expected_goals
        over = self.totals(2.5)
        return pd.DataFrame(
            {
                "home_team": self.home_team,
                "away_team": self.away_team,
                "home_win": self.home_win,
                "draw": self.draw,
                "away_win": self.away_win,
                "home_goals_expected": home_xg,
                "away_goals_expected": away_xg,
                "over_2_5": over.win,
                "under_2_5": over.lose,
                "btts": self.btts,
            }
        )
