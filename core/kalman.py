"""A Kalman filter of the market-implied ratings: the goal rates implied by past matches'
prices, tracked as team strengths that follow random walks.

Each team of a group (a country: promoted and relegated clubs connected) has an attack and
a defence that follow a random walk of variance ``q`` a day, and the group a common home
advantage of variance ``qh`` a day (:class:`KalmanSettings`). Every past match whose
prices invert to goal rates (:func:`core.market_model.market_rates_rho`) is an observation
``log lambda = home + attack_i - defence_j`` and ``log mu = attack_j - defence_i``, each
with noise variance ``r``, folded in one at a time. A second, slower filter (random walks
of ``q_slow`` and ``qh_slow`` a day) runs on the same observations; at a season start (the
first day after a break of more than 30 days) the filter's mean becomes the slower one's,
its covariance its own: the summer's state is otherwise mostly the run-in's prices. A new
team (after the first 90 days), or one back after more than :data:`ABSENT_DAYS` days,
starts at the mean of the three weakest teams of its league with variance ``v0``. A match
is forecast from the state before its day (matches of the same day never see each other's
prices) on a grid with the exponentially weighted mean (``rho_xi`` a day) of the earlier
matches' implied rho, one grid per day sized by that day's rates (exact causality).

The engine's settings (:data:`ENGINE`) were chosen among twenty-one on the shared data
(issue 21, ``benchmarks/kalman_ratings.py``, which runs this filter with the others;
docs/quality.md, "Fourth pass"), on the same matches the engine is scored on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.markets import feasible_rho, outcome_probabilities

__all__ = ["ABSENT_DAYS", "ENGINE", "KalmanSettings", "kalman_forecast", "kalman_rates"]

ABSENT_DAYS = 200  # a team back after longer starts again from the newcomers' prior
_SEASON_BREAK = 30  # days without a match that make the next day a season start
_FOUNDING_DAYS = 90  # teams first seen within this many days are no newcomers
_WEAKEST = 3


@dataclass(frozen=True)
class KalmanSettings:
    """The filter's variances and season-start rule; the defaults are the engine's."""

    r: float = 3e-4  # observation noise of an inverted log rate
    q: float = 3e-5  # per day: random walk of each attack and defence
    qh: float = 1e-6  # per day: random walk of the home advantage
    q_slow: float = 1e-7  # the slower filter's, whose mean the filter takes at a season start
    qh_slow: float = 3.3e-9
    v0: float = 0.05  # variance of a new team's attack and defence (and of all at the outset)
    rho_xi: float = 0.04  # per day: decay of the mean implied rho
    reset: float = 1.0  # the share of the slower filter's mean taken at a season start
    reset_cov: float = 0.0  # the share of its covariance taken then
    season_variance: float = 0.0  # added to every attack and defence at a season start
    gap_days: float = math.inf  # at most this many days of a break count in the teams' walks


ENGINE = KalmanSettings()


def kalman_forecast(
    day: Any,
    home: Any,
    away: Any,
    league: Any,
    home_rate: Any,
    away_rate: Any,
    rho: Any,
    settings: KalmanSettings = ENGINE,
) -> np.ndarray:
    """The filter's forecast of every match of one group: an ``(n, 5)`` array of home win,
    draw, away win, home and away goal rate, in the rows' order (arguments as
    :func:`kalman_rates`); one grid per day, sized by that day's rates, so that no
    forecast depends on a later day."""
    rates = kalman_rates(day, home, away, league, home_rate, away_rate, rho, settings)
    lam, mu = np.exp(rates[:, 0]), np.exp(rates[:, 1])
    out = np.full((lam.size, 5), np.nan)
    out[:, 3], out[:, 4] = lam, mu
    _, first = np.unique(np.asarray(day, dtype=np.int64), return_index=True)
    for a, b in zip(first.tolist(), [*first[1:].tolist(), lam.size], strict=True):
        out[a:b, :3] = outcome_probabilities(
            lam[a:b], mu[a:b], feasible_rho(float(rates[a, 2]), lam[a:b], mu[a:b])
        )
    return out


def kalman_rates(
    day: Any,
    home: Any,
    away: Any,
    league: Any,
    home_rate: Any,
    away_rate: Any,
    rho: Any,
    settings: KalmanSettings = ENGINE,
) -> np.ndarray:
    """The filter's state before each match's day: an ``(n, 3)`` array of the log home and
    away goal rates and the mean implied rho, in the rows' order.

    ``day``: integer days, non-decreasing; ``home``/``away``: team codes ``0 .. k - 1``;
    ``league``: any labels (a newcomer starts from its league's weakest teams);
    ``home_rate``/``away_rate``/``rho``: what each match's prices imply (NaN: no prices, not
    an observation).  Each row uses only the rows of earlier days.
    """
    st = settings
    day = np.asarray(day, dtype=np.int64)
    hi = np.asarray(home, dtype=np.intp)
    ai = np.asarray(away, dtype=np.intp)
    league = np.asarray(league)
    with np.errstate(divide="ignore", invalid="ignore"):
        y_home = np.log(np.asarray(home_rate, dtype=float))
        y_away = np.log(np.asarray(away_rate, dtype=float))
    row_rho = np.asarray(rho, dtype=float)
    out = np.full((day.size, 3), np.nan)
    if day.size == 0:
        return out
    if (np.diff(day) < 0).any():
        raise ValueError("day must be non-decreasing")
    n = int(max(hi.max(), ai.max())) + 1
    size = 2 * n + 1  # attacks, defences, home advantage
    # state 0 is the filter, state 1 the slower one whose mean it takes at a season start
    states = []
    for _ in range(2):
        m = np.zeros(size)
        cov = np.eye(size) * st.v0
        m[n : 2 * n] = -np.log(1.3)
        m[2 * n], cov[2 * n, 2 * n] = 0.2, 0.1
        states.append((m, cov))
    walks = ((st.q, st.qh), (st.q_slow, st.qh_slow))
    last = np.full(n, -(10**9), dtype=np.int64)
    seen = np.zeros(n, dtype=bool)
    team_league = np.empty(n, dtype=object)
    rho_num = rho_den = 0.0
    rho_day = prev = int(day[0])
    days, first = np.unique(day, return_index=True)
    bounds = np.append(first, day.size)
    diag = np.arange(2 * n)
    home_obs = np.array([1.0, 1.0, -1.0])
    away_obs = np.array([1.0, -1.0])
    for k, d in enumerate(days.tolist()):
        if d > prev:
            season_start = d - prev > _SEASON_BREAK
            for (_m, cov), (q, qh) in zip(states, walks, strict=True):
                extra = st.season_variance if season_start else 0.0
                cov[diag, diag] += q * min(d - prev, st.gap_days) + extra
                cov[2 * n, 2 * n] += qh * (d - prev)
            if season_start and st.reset > 0:
                (m, cov), (m_slow, cov_slow) = states
                m[:] = (1 - st.reset) * m + st.reset * m_slow
                if st.reset_cov > 0:
                    cov[:] = (1 - st.reset_cov) * cov + st.reset_cov * cov_slow
            prev = d
        rows = np.arange(bounds[k], bounds[k + 1])
        for t in np.unique(np.concatenate([hi[rows], ai[rows]])).tolist():
            if (not seen[t] and d > day[0] + _FOUNDING_DAYS) or (
                seen[t] and d - last[t] > ABSENT_DAYS
            ):
                lg = league[rows][(hi[rows] == t) | (ai[rows] == t)][0]
                pool = np.flatnonzero(seen & (team_league == lg) & (d - last <= ABSENT_DAYS))
                pool = pool[pool != t]
                for m, cov in states:
                    if pool.size:
                        weakest = pool[np.argsort(m[pool] + m[n + pool])[:_WEAKEST]]
                        m[t], m[n + t] = m[weakest].mean(), m[n + weakest].mean()
                    for j in (t, n + t):
                        cov[j, :] = cov[:, j] = 0.0
                        cov[j, j] = st.v0
        m = states[0][0]
        out[rows, 0] = m[2 * n] + m[hi[rows]] - m[n + ai[rows]]
        out[rows, 1] = m[ai[rows]] - m[n + hi[rows]]
        out[rows, 2] = rho_num / rho_den if rho_den > 0 else 0.0
        for i in rows.tolist():
            h, a = hi[i], ai[i]
            seen[[h, a]] = True
            last[[h, a]] = d
            team_league[[h, a]] = league[i]
            if not (np.isfinite(y_home[i]) and np.isfinite(y_away[i])):
                continue
            for idx, sign, y in (
                (np.array([2 * n, h, n + a]), home_obs, y_home[i]),
                (np.array([a, n + h]), away_obs, y_away[i]),
            ):
                for m, cov in states:
                    ph = cov[:, idx] @ sign
                    gain = ph / (sign @ ph[idx] + st.r)
                    m += gain * (y - sign @ m[idx])
                    cov -= np.outer(gain, ph)
            if np.isfinite(row_rho[i]):
                fade = np.exp(-st.rho_xi * (d - rho_day))
                rho_num, rho_den, rho_day = rho_num * fade + row_rho[i], rho_den * fade + 1, d
    return out
