"""Score grids that reproduce a given 1X2 (and over/under) exactly.

When the 1X2 shown is not the goal model's own (a blend with the market, a calibration,
the user's odds), the derived markets must follow it: :func:`fit_grid` refits each
fixture's goal rates ``lambda``, ``mu`` (and ``rho`` when an over/under probability is
given) so that the Dixon-Coles score grid's home win, draw and away win equal the target to
1e-9, and its over ``line`` too.  Totals, both-teams-to-score, Asian handicaps and expected
goals then all come from a grid that agrees with the 1X2.

:func:`price` is the same tool on its own: decimal 1X2 (+ over/under) odds in, margin
removed, the fair score grid and every derived market out, no fitted model needed.

Method: Newton's method on ``(log lambda, log mu[, rho])`` with the exact Jacobian of the
grid's probabilities, damped so that the residual falls and rho stays where every tau is
positive.  Two targets (home and away win; the draw follows) fix the two rates for a given
rho; a third (over ``line``) also fixes rho.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from core.errors import InvalidInputError
from core.markets import MatchProbabilities, grid_size, log_factorials, rho_bounds, score_grid
from core.odds import implied_probabilities

__all__ = ["TOLERANCE", "fit_grid", "price"]

TOLERANCE = 1e-9
"""Largest difference between a target probability and the fitted grid's."""

_MAX_ITER = 100


def _probabilities(
    lam: np.ndarray, mu: np.ndarray, rho: np.ndarray, line: float, with_rho: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Home win, away win and over ``line`` of each grid, and their Jacobian with respect
    to (log lambda, log mu, rho) (the renormalisation's derivative, below 1e-10, left out)."""
    size = grid_size(lam, mu) + 1
    k = np.arange(size)
    log_fact = log_factorials(size)
    px = np.exp(k * np.log(lam)[:, None] - lam[:, None] - log_fact)
    py = np.exp(k * np.log(mu)[:, None] - mu[:, None] - log_fact)
    base = px[:, :, None] * py[:, None, :]
    tau = np.ones((lam.size, 2, 2))
    tau[:, 0, 0] = 1.0 - lam * mu * rho
    tau[:, 0, 1] = 1.0 + lam * rho
    tau[:, 1, 0] = 1.0 + mu * rho
    tau[:, 1, 1] = 1.0 - rho
    grid = base.copy()
    grid[:, :2, :2] *= tau
    total = grid.sum(axis=(1, 2))
    # d grid / d log(lambda) = grid * (x - lambda) + base * d tau / d log(lambda), etc.
    d_lam = grid * (k[None, :, None] - lam[:, None, None])
    d_mu = grid * (k[None, None, :] - mu[:, None, None])
    d_lam[:, 0, 0] += base[:, 0, 0] * (-lam * mu * rho)
    d_lam[:, 0, 1] += base[:, 0, 1] * (lam * rho)
    d_mu[:, 0, 0] += base[:, 0, 0] * (-lam * mu * rho)
    d_mu[:, 1, 0] += base[:, 1, 0] * (mu * rho)
    derivs = [grid, d_lam, d_mu]
    if with_rho:
        d_rho = np.zeros_like(grid)
        d_rho[:, 0, 0] = -lam * mu * base[:, 0, 0]
        d_rho[:, 0, 1] = lam * base[:, 0, 1]
        d_rho[:, 1, 0] = mu * base[:, 1, 0]
        d_rho[:, 1, 1] = -base[:, 1, 1]
        derivs.append(d_rho)
    sums = np.stack(derivs, axis=1).reshape(lam.size, len(derivs), -1) @ _masks(
        size, line if with_rho else None
    )
    sums /= total[:, None, None]
    return sums[:, 0, :], sums[:, 1:, :].transpose(0, 2, 1)


@lru_cache(maxsize=32)
def _masks(size: int, line: float | None) -> np.ndarray:
    """(size * size, k) 0/1 columns: home win, away win[, over ``line``]."""
    x, y = np.indices((size, size))
    masks = [x > y, x < y] + ([x + y > line] if line is not None else [])
    return np.stack([m.ravel() for m in masks], axis=1).astype(float)


def fit_grid(
    outcomes: Any,
    *,
    home_rate: Any = None,
    away_rate: Any = None,
    rho: Any = 0.0,
    over: Any = None,
    line: float = 2.5,
) -> MatchProbabilities:
    """Score grids whose 1X2 equals ``outcomes`` (n, 3) to :data:`TOLERANCE`.

    ``home_rate`` / ``away_rate`` (optional) start the search, typically the goal model's
    rates.  Without ``over``, rho stays at ``rho`` (one value or one per fixture) and the two
    rates are refitted; with ``over`` (probability of more than ``line`` goals, a half-goal
    line), rho is refitted too so that the grid's over ``line`` matches as well.  Raises
    :class:`InvalidInputError` when no Dixon-Coles grid reproduces the targets.
    """
    target = np.atleast_2d(np.asarray(outcomes, dtype=float))
    if target.ndim != 2 or target.shape[1] != 3:
        raise InvalidInputError(f"outcomes must have shape (n, 3), got {target.shape}")
    n = target.shape[0]
    if not (np.isfinite(target).all() and (target > 0).all()):
        raise InvalidInputError("every 1X2 probability must be a number above 0")
    if np.abs(target.sum(axis=1) - 1.0).max() > 1e-6:
        raise InvalidInputError("each row of 1X2 probabilities must sum to 1")
    target = target / target.sum(axis=1, keepdims=True)
    with_rho = over is not None
    goals = [target[:, 0], target[:, 2]]
    if with_rho:
        if abs(line * 2 - round(line * 2)) > 1e-12 or round(line * 2) % 2 == 0 or line < 0:
            raise InvalidInputError(f"the totals line must be a half-goal line, got {line}")
        over_p = np.broadcast_to(np.asarray(over, dtype=float), (n,))
        if not (np.isfinite(over_p).all() and ((over_p > 0) & (over_p < 1)).all()):
            raise InvalidInputError("the over probability must be between 0 and 1")
        goals.append(over_p)
    goal = np.column_stack(goals)

    lam = np.full(n, 1.4) if home_rate is None else np.asarray(home_rate, float).copy()
    mu = np.full(n, 1.1) if away_rate is None else np.asarray(away_rate, float).copy()
    lam, mu = np.broadcast_to(lam, (n,)).copy(), np.broadcast_to(mu, (n,)).copy()
    r = np.broadcast_to(np.asarray(rho, dtype=float), (n,)).copy()
    lo, hi = rho_bounds(lam, mu)
    r = np.clip(r, 0.5 * lo, 0.5 * hi) if with_rho else r
    if not ((r > lo) & (r < hi)).all():
        lam, mu = np.full(n, 1.4), np.full(n, 1.1)  # a start where this rho is valid
    u = np.column_stack([np.log(lam), np.log(mu)] + ([r] if with_rho else []))

    def evaluate(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lam, mu = np.exp(u[:, 0]), np.exp(u[:, 1])
        rr = u[:, 2] if with_rho else r
        values, jac = _probabilities(lam, mu, rr, line, with_rho)
        return values - goal, jac, np.abs(values - goal).max(axis=1)

    def valid(trial: np.ndarray) -> np.ndarray:
        ok = np.isfinite(trial).all(axis=1) & (np.abs(trial[:, :2]) < 7.0).all(axis=1)
        lo, hi = rho_bounds(np.exp(trial[:, 0]), np.exp(trial[:, 1]))
        rr = trial[:, 2] if with_rho else r
        return ok & (rr > lo) & (rr < hi)

    residual, jac, err = evaluate(u)
    for _ in range(_MAX_ITER):
        pending = err > TOLERANCE * 0.01
        if not pending.any():
            break
        try:
            step = np.linalg.solve(jac, -residual[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:  # a singular Jacobian somewhere: least squares
            step = (np.linalg.pinv(jac) @ -residual[:, :, None])[:, :, 0]
        step = np.where(np.isfinite(step), step, 0.0)
        # the rates change by at most a factor e per step
        step /= np.maximum(np.abs(step[:, :2]).max(axis=1), 1.0)[:, None]
        t = np.ones(n)
        moved = np.zeros(n, dtype=bool)
        for _ in range(40):
            trial = u + t[:, None] * step
            candidate = np.where((pending & valid(trial))[:, None], trial, u)
            c_res, c_jac, c_err = evaluate(candidate)
            accept = pending & (c_err < err) & (candidate != u).any(axis=1)
            u = np.where(accept[:, None], candidate, u)
            residual = np.where(accept[:, None], c_res, residual)
            jac = np.where(accept[:, None, None], c_jac, jac)
            err = np.where(accept, c_err, err)
            moved |= accept
            pending &= ~accept
            if not pending.any():
                break
            t = np.where(pending, 0.5 * t, t)
        if not moved.any():
            break

    lam, mu = np.exp(u[:, 0]), np.exp(u[:, 1])
    r = u[:, 2] if with_rho else r
    grid = score_grid(lam, mu, r)
    result = MatchProbabilities(
        np.full(n, None, dtype=object), np.full(n, None, dtype=object), lam, mu, grid, r
    )
    miss = np.abs(result.outcomes - target).max(axis=1)
    if with_rho:
        miss = np.maximum(miss, np.abs(result.over(line) - goal[:, 2]))
    if not miss.max() <= TOLERANCE:
        i = int(np.argmax(miss))
        wanted = ", ".join(f"{v:.4f}" for v in target[i])
        extra = f" with over {line} at {goal[i, 2]:.4f}" if with_rho else ""
        raise InvalidInputError(
            f"no Dixon-Coles score grid has home/draw/away {wanted}{extra}"
            f" (closest differs by {miss[i]:.2g})"
        )
    return result


def price(
    odds: Any,
    over_under: Any = None,
    *,
    line: float = 2.5,
    margin: str = "power",
    rho: float = 0.0,
) -> MatchProbabilities:
    """The fair score grid and every derived market from bookmaker prices alone.

    ``odds``: decimal home/draw/away prices, one row per fixture; ``over_under``: decimal
    over/under ``line`` prices (optional).  The margin is removed with ``margin`` (see
    :func:`core.odds.implied_probabilities`).  Without totals the grid has the given ``rho``
    (default 0, independent scores); with them rho is fitted so that the totals match too.
    """
    o = np.atleast_2d(np.asarray(odds, dtype=float))
    if o.shape[-1] != 3:
        raise InvalidInputError("odds must be three decimal prices: home, draw, away")
    if not (np.isfinite(o).all() and (o > 1.0).all()):
        raise InvalidInputError("odds must be decimal prices above 1.0")
    probs = implied_probabilities(o, margin)
    over = None
    if over_under is not None:
        ou = np.atleast_2d(np.asarray(over_under, dtype=float))
        if ou.shape != (o.shape[0], 2):
            raise InvalidInputError("over/under must be two decimal prices per fixture")
        if not (np.isfinite(ou).all() and (ou > 1.0).all()):
            raise InvalidInputError("over/under odds must be decimal prices above 1.0")
        over = implied_probabilities(ou, margin)[:, 0]
    return fit_grid(probs, rho=rho, over=over, line=line)
