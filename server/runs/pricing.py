"""Markets from a score grid, and a fair grid from bookmaker odds alone: the part of the
prediction service that needs no database and no fitted model, so that ``fpe price``
imports only numpy and the grid code (:mod:`server.runs.predictions` builds on it)."""

from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import InvalidInputError
from core.markets import MatchProbabilities
from core.pricing import fit_grid
from core.pricing import price as price_grid

__all__ = [
    "HANDICAP_LINES",
    "TOTAL_LINES",
    "consistent_markets",
    "market_rows",
    "markets",
    "price",
]

TOTAL_LINES = (0.5, 1.5, 2.5, 3.5, 4.5)
HANDICAP_LINES = (-1.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 1.5)


def _check_prices(odds: Any, over_under: Any) -> None:
    if odds is not None and (len(odds) != 3 or not all(o > 1.0 for o in odds)):
        raise InvalidInputError("odds must be three decimal prices above 1.0 (home draw away)")
    if over_under is not None and (len(over_under) != 2 or not all(o > 1.0 for o in over_under)):
        raise InvalidInputError("over/under odds must be two decimal prices above 1.0")


def _check_line(line: float) -> None:
    if not (line >= 0 and (line * 2) % 2 == 1):
        raise InvalidInputError(f"the totals line must be a half-goal line (2.5), got {line}")


def market_rows(grid: MatchProbabilities) -> list[dict[str, Any]]:
    """Every market of every fixture of ``grid``: 1X2, expected goals, the score grid,
    totals, both teams to score and Asian handicaps, all from the same grid (each market
    computed once for all fixtures)."""
    home_xg, away_xg = grid.expected_goals
    totals = {line: grid.totals(line) for line in TOTAL_LINES}
    handicaps = {line: grid.asian_handicap(line) for line in HANDICAP_LINES}
    rho = np.broadcast_to(grid.rho, (len(grid),))
    btts = grid.btts
    return [
        {
            "home_win": float(grid.home_win[i]),
            "draw": float(grid.draw[i]),
            "away_win": float(grid.away_win[i]),
            "expected_goals": {"home": float(home_xg[i]), "away": float(away_xg[i])},
            "rho": float(rho[i]),
            "score_grid": grid.grid[i].tolist(),
            "totals": {
                str(line): {"over": float(t.win[i]), "under": float(t.lose[i])}
                for line, t in totals.items()
            },
            "btts": {"yes": float(btts[i]), "no": float(1.0 - btts[i])},
            "asian_handicap": {
                f"{line:+g}": {
                    "win": float(h.win[i]),
                    "push": float(h.push[i]),
                    "lose": float(h.lose[i]),
                }
                for line, h in handicaps.items()
            },
        }
        for i in range(len(grid))
    ]


def markets(grid: MatchProbabilities, i: int = 0) -> dict[str, Any]:
    """Every market of fixture ``i`` of ``grid`` (see :func:`market_rows`)."""
    return market_rows(_rows(grid, np.array([i])))[0]


def _rows(grid: MatchProbabilities, idx: np.ndarray) -> MatchProbabilities:
    """The fixtures ``idx`` of ``grid``."""
    rho = np.broadcast_to(grid.rho, (len(grid),))[idx]
    return MatchProbabilities(
        [grid.home_team[i] for i in idx],
        [grid.away_team[i] for i in idx],
        np.asarray(grid.home_rate)[idx],
        np.asarray(grid.away_rate)[idx],
        grid.grid[idx],
        rho,
    )


def consistent_markets(
    probs: np.ndarray, goal: MatchProbabilities, over: np.ndarray, line: float = 2.5
) -> list[dict[str, Any]]:
    """The markets of each fixture from a grid that reproduces its final 1X2 ``probs``
    (and its over ``line`` probability where ``over`` is not NaN): the goal model's grid
    where it already does, else the fixture's rates (and rho) refitted.  A fixture whose
    prices no Dixon-Coles grid can reproduce with its totals keeps the 1X2 fit alone."""
    rows = market_rows(goal)
    has_over = ~np.isnan(over)
    refit = (np.abs(probs - goal.outcomes).max(axis=1) > 1e-12) | has_over
    rho = np.broadcast_to(goal.rho, (len(goal),))
    rates = np.asarray(goal.home_rate), np.asarray(goal.away_rate)

    def fit(idx: np.ndarray, with_over: bool) -> MatchProbabilities:
        return fit_grid(
            probs[idx],
            home_rate=rates[0][idx],
            away_rate=rates[1][idx],
            rho=rho[idx],
            over=over[idx] if with_over else None,
            line=line,
        )

    for with_over in (True, False):
        idx = np.flatnonzero(refit & (has_over if with_over else ~has_over))
        if idx.size == 0:
            continue
        try:
            fitted = [(idx, fit(idx, with_over))]
        except InvalidInputError:  # one fixture's prices: fit them one by one
            fitted = []
            for i in idx:
                one = np.array([i])
                try:
                    fitted.append((one, fit(one, with_over)))
                except InvalidInputError:
                    if not with_over:
                        raise
                    fitted.append((one, fit(one, False)))
        for where, grid in fitted:
            for i, row in zip(where, market_rows(grid), strict=True):
                rows[i] = row
    return rows


def price(
    odds: tuple[float, float, float],
    over_under: tuple[float, float] | None = None,
    line: float = 2.5,
    margin: str = "power",
    rho: float = 0.0,
) -> dict[str, Any]:
    """The fair score grid and every derived market from 1X2 (+ over/under) odds alone,
    no fitted model: the service behind ``fpe price``."""
    _check_prices(odds, over_under)
    _check_line(line)
    grid = price_grid(
        [odds], None if over_under is None else [over_under], line=line, margin=margin, rho=rho
    )
    return {"odds": list(odds), "over_under": over_under and list(over_under), **markets(grid)}
