"""Walk-forward (out-of-sample) evaluation of the Dixon-Coles model.

The timeline is cut into blocks of ``refit_days`` days from ``start``.  Before each block
the model is refitted on the matches strictly before the block's first day (optionally only
the last ``window_days``), weighted by ``exp(-xi * days before the refit date)`` and
warm-started from the previous fit; it then predicts every match of the block.  No match is
ever predicted by a model that saw it.

New and promoted teams.  A team is *new* during its first ``new_team_days`` days in the
data unless it appears within the data's first 90 days.  Every team has a Gaussian prior of
precision ``l2`` (about ``l2 / 1.4`` matches' worth of data) on its attack and on its defence
relative to the mean defence; an established team's prior mean is an average team (0), a new team's
is the mean of the ``promoted_k`` weakest established teams of its league in the previous
fit ("promoted teams start as strong as the weakest teams they join"); so does a team back
after longer than the training window (no match of it left to fit).  A team with no past
match at all is therefore predicted from the prior alone.

That prior learns from the league's history: the first fit at least ``newcomer_days`` after
a newcomer's arrival records its attack and defence minus those of its league's weakest
``promoted_k`` in that fit, and later newcomers of the league start from the weakest plus
the sum of the recorded offsets over (their number + ``newcomer_shrink``): a shrunk mean,
exactly the weakest with none recorded.  In a top division the newcomers are promoted clubs
and the offset stays near 0; in a second division without its top flight in the data half
of them are clubs relegated from above, far stronger than its weakest.  A fit only uses
matches before its block, so a forecast only learns from newcomers measured before it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from core._solver import Parameters, Problem, _blas, initial_parameters, solve
from core.dixon_coles import _goals
from core.errors import InvalidInputError
from core.lazy import pandas as pd
from core.markets import feasible_rho, outcome_probabilities

__all__ = ["DEFAULT_L2", "DEFAULT_XI", "walk_forward"]

# Defaults chosen by out-of-sample RPS on E0 2016/17-2024/25 (README, "Model quality").
DEFAULT_XI = 0.0025  # per day: a half-life of 277 days
DEFAULT_L2 = 4.0
_FOUNDING_DAYS = 90  # teams seen this early in the data are never "new"
NEWCOMER_DAYS = 91  # a newcomer's rating this long after its arrival teaches the prior
NEWCOMER_SHRINK = 4.0  # the learned offset's prior weight, in newcomers (toward 0)
_REQUIRED = ("date", "home_team", "away_team", "home_goals", "away_goals")


def _one_blas_thread(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Hundreds of small problems: OpenBLAS's second thread only costs time on them."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _blas().limit(limits=1):
            return fn(*args, **kwargs)

    return wrapper


@_one_blas_thread
def walk_forward(
    matches: pd.DataFrame,
    *,
    refit_days: int = 7,
    start: Any = None,
    burn_in_days: int = 365,
    window_days: int | None = None,
    xi: float = DEFAULT_XI,
    rho: bool = True,
    l2: float = DEFAULT_L2,
    new_team_days: int = 365,
    promoted_k: int = 3,
    newcomer_days: int = NEWCOMER_DAYS,
    newcomer_shrink: float = NEWCOMER_SHRINK,
    max_goals: int | None = None,
    progress: Callable[[int, int], object] | None = None,
    targets: tuple[Any, Any] | None = None,
    dependence: float = 0.0,
    dependence_targets: Any = None,
    season_carry: float = 1.0,
    season_decay: tuple[tuple[int, float | None], ...] | None = None,
) -> pd.DataFrame:
    """Out-of-sample probabilities for every match on or after ``start``.

    ``matches`` needs columns date, home_team, away_team, home_goals, away_goals, and may
    have ``league`` (used for the promoted-team prior).  ``start`` defaults to the first
    date plus ``burn_in_days``.  ``xi`` is the decay **per day**.  ``progress(done, total)``
    is called after each block; an exception it raises stops the run.

    ``targets``: fractional home and away goal targets per row of ``matches`` (for example
    the rates implied by each match's prices, :func:`core.market_model.market_rates`, or
    goals mixed with shots on target) fitted instead of the goals by Poisson
    pseudo-likelihood (``rho`` is then not fitted; ``dependence`` is the fixed rho of the
    predicted grids; with ``dependence_targets``, a rho per row of ``matches`` such as the
    one implied by its prices, :func:`core.market_model.market_rates_rho`, each block's grids
    use the decay-weighted mean of its training rows' finite values instead, moved inside
    each fixture's bounds).  A row whose target is NaN is predicted but never trained on; a block
    with no earlier target is not predicted.  A forecast never uses its own row's target:
    only rows before the block train.

    ``newcomer_days``, ``newcomer_shrink``: the newcomers' prior learns from the league's own
    earlier newcomers (see the module's docstring).

    ``season_carry``: once a league's new season has begun (its first match after a break
    of more than 30 days falls in the block or earlier), the matches of its earlier seasons
    weigh this much more (below 1: carried-over ratings shrink toward the prior and the new
    season's matches count more).

    ``season_decay = ((day, xi), ...)`` (days ascending, the first 0): the decay of a block
    that begins ``day`` or more days after the latest season start (the first match after
    a break of more than 30 days, in the block or earlier); ``None``: ``xi``.  Before any
    season start, ``xi``.  A ``window_days`` grows where a slower decay needs it (weights
    below 1e-4 are left out).  For example a slow decay in a season's first weeks keeps the
    earlier seasons' many matches in view while each team has played once or twice.

    Returns a frame indexed like ``matches`` (predicted rows only, in date order) with
    columns p_home, p_draw, p_away, home_rate, away_rate, refit_date, n_train and rho (the
    block's grid rho before it is moved inside any fixture's bounds).
    """
    if refit_days < 1:
        raise InvalidInputError(f"refit_days must be at least 1, got {refit_days}")
    if window_days is not None and window_days < 1:
        raise InvalidInputError(f"window_days must be at least 1, got {window_days}")
    if xi < 0 or l2 < 0:
        raise InvalidInputError("xi and l2 must be >= 0")
    missing = [c for c in _REQUIRED if c not in matches.columns]
    if missing:
        raise InvalidInputError(f"missing required column(s): {', '.join(missing)}")
    if len(matches) == 0:
        raise InvalidInputError("no matches to backtest")

    dates = pd.to_datetime(matches["date"], errors="coerce")
    if dates.isna().any():
        raise InvalidInputError("date is missing or not a date in some rows")
    order = np.argsort(dates.to_numpy(), kind="stable")
    frame = matches.iloc[order]
    day = (dates.to_numpy()[order].astype("datetime64[D]")).astype(np.int64)
    hg = _goals(frame["home_goals"].to_numpy(), "home_goals")
    ag = _goals(frame["away_goals"].to_numpy(), "away_goals")
    codes, teams = pd.factorize(
        np.concatenate([frame["home_team"].to_numpy(), frame["away_team"].to_numpy()])
    )
    m, n_all = len(frame), len(teams)
    home = codes[:m].astype(np.int32)
    away = codes[m:].astype(np.int32)
    if (home == away).any():
        raise InvalidInputError("a team cannot play itself")
    if targets is None:
        row_of, goals_h, goals_a = None, hg, ag
        row_rho = None
        fit_rho, grid_rho = rho, None
    else:
        tx = np.asarray(targets[0], dtype=float)
        ty = np.asarray(targets[1], dtype=float)
        if tx.shape != (len(matches),) or ty.shape != (len(matches),):
            raise InvalidInputError("targets need one home and one away value per match")
        tx, ty = tx[order], ty[order]
        ok = np.isfinite(tx) & np.isfinite(ty) & (tx >= 0) & (ty >= 0)
        # fractional targets go to the kernel as they are (one row a match): with rho
        # fixed the likelihood is Poisson, which needs no integer goals
        row_of = np.flatnonzero(ok)
        goals_h, goals_a = tx[row_of], ty[row_of]
        fit_rho, grid_rho = False, float(dependence)
        row_rho = None
        if dependence_targets is not None:
            row_rho = np.asarray(dependence_targets, dtype=float)
            if row_rho.shape != (len(matches),):
                raise InvalidInputError("dependence_targets needs one value per match")
            row_rho = row_rho[order][row_of]
    if "league" in frame.columns:
        league, _ = pd.factorize(frame["league"].to_numpy())
    else:
        league = np.zeros(m, dtype=np.intp)

    # each row's season within its league: a new one after a break of more than 30 days
    season = np.zeros(m, dtype=np.int64)
    for lg in np.unique(league):
        rows_lg = np.flatnonzero(league == lg)
        season[rows_lg] = np.cumsum(np.diff(day[rows_lg], prepend=day[rows_lg[0]]) > 30)
    n_leagues = int(league.max()) + 1 if m else 1
    current_season = np.zeros(n_leagues, dtype=np.int64)  # latest season begun, per league
    first_day = np.full(n_all, np.iinfo(np.int64).max)
    np.minimum.at(first_day, home, day)
    np.minimum.at(first_day, away, day)
    established = first_day < day[0] + _FOUNDING_DAYS
    # decay weights as exp(xi * (day - day0)) * exp(-xi * (t - day0)): one product a refit
    # instead of an exp per match, while the growth factor stays far from overflowing
    breaks = np.flatnonzero(np.diff(day, prepend=day[0]) > 30)  # first rows of seasons
    span = float(day[-1] - day[0])
    growth = np.exp(xi * (day - day[0]).astype(float)) if xi * span < 600.0 else None

    start_day = day[0] + burn_in_days if start is None else _to_day(start)
    state = _State(n_all, n_leagues)
    reg_day = np.full(n_all, -1, dtype=np.int64)  # each newcomer's latest arrival (refit day)
    pending = np.zeros(n_all, dtype=bool)  # arrived, not measured yet
    last_row = np.full(n_all, -1, dtype=np.int64)  # each team's last row before `lo`
    # per fitted block: (first row, end row, refit day, training rows, rho); and its rates
    fitted: list[tuple[int, int, int, int, float]] = []
    rates: list[np.ndarray] = []
    blocks = _blocks(day, start_day, refit_days)
    for b, (t, lo, hi) in enumerate(blocks):
        block_xi = xi
        window = window_days
        if season_decay is not None:
            starts_so_far = breaks[: np.searchsorted(breaks, hi)]
            if starts_so_far.size:
                into = max(t - day[starts_so_far[-1]], 0)  # the block may hold the start
                piece = [x for d, x in season_decay if d <= into]
                block_xi = xi if not piece or piece[-1] is None else float(piece[-1])
            if window is not None and block_xi < xi:  # the same 1e-4 cut at a slower decay
                window = max(window, int(np.ceil(np.log(1e4) / max(block_xi, 1e-9))))
        train_lo = 0 if window is None else int(np.searchsorted(day, t - window))
        if lo > state.seen:
            new_rows = np.arange(state.seen, lo)
            state.last_league[home[state.seen : lo]] = league[state.seen : lo]
            state.last_league[away[state.seen : lo]] = league[state.seen : lo]
            np.maximum.at(last_row, home[state.seen : lo], new_rows)
            np.maximum.at(last_row, away[state.seen : lo], new_rows)
            state.seen = lo
        # the teams of the training window (a match in [train_lo, lo)) and of the block
        in_fit = last_row >= train_lo
        in_fit[home[lo:hi]] = True
        in_fit[away[lo:hi]] = True
        local_teams = np.flatnonzero(in_fit)
        state.last_league[home[lo:hi]] = np.where(
            first_day[home[lo:hi]] >= t, league[lo:hi], state.last_league[home[lo:hi]]
        )
        state.last_league[away[lo:hi]] = np.where(
            first_day[away[lo:hi]] >= t, league[lo:hi], state.last_league[away[lo:hi]]
        )
        is_new = ~established[local_teams] & (first_day[local_teams] > t - new_team_days)
        # a team back after longer than the training window (relegated, now promoted) has
        # no match to fit: it starts as a newcomer, not as an average team
        is_new |= last_row[local_teams] < train_lo
        # newcomers arriving now: measured once newcomer_days have passed
        arriving = local_teams[is_new]
        arriving = arriving[(reg_day[arriving] < 0) | (last_row[arriving] < train_lo)]
        reg_day[arriving] = t
        pending[arriving] = True
        local = np.full(n_all, -1, dtype=np.int32)
        local[local_teams] = np.arange(local_teams.size, dtype=np.int32)

        rows_ex: slice | np.ndarray
        if row_of is None:
            ex = rows_ex = slice(train_lo, lo)
        else:
            ex = slice(*np.searchsorted(row_of, (train_lo, lo)))
            rows_ex = row_of[ex]
        if ex.stop <= ex.start:  # no earlier row has a target yet: no forecast
            if progress is not None:
                progress(b + 1, len(blocks))
            continue
        if block_xi != xi:
            weights = np.exp(-block_xi * (t - day[rows_ex]).astype(float))
        elif growth is not None:
            weights = growth[rows_ex] * np.exp(-xi * float(t - day[0]))
        else:
            weights = np.exp(-xi * (t - day[rows_ex]).astype(float))
        if season_carry != 1.0:
            np.maximum.at(current_season, league[:lo], season[:lo])
            older = season[rows_ex] < current_season[league[rows_ex]]
            weights = np.where(older, weights * season_carry, weights)
        problem = Problem(
            home_idx=local[home[rows_ex]],
            away_idx=local[away[rows_ex]],
            home_goals=goals_h[ex],
            away_goals=goals_a[ex],
            weights=weights,
            n_teams=local_teams.size,
            use_rho=fit_rho,
            l2=l2,
        )
        problem.prior_attack, problem.prior_defence = state.prior(
            local_teams, is_new, established, promoted_k, newcomer_shrink
        )
        solution = solve(problem, state.warm_start(problem, local_teams))
        state.update(local_teams, solution.params)
        due = np.flatnonzero(pending & (reg_day <= t - newcomer_days))
        pending[due] = False
        state.learn(due, established, promoted_k)

        p = solution.params
        bh, ba = local[home[lo:hi]], local[away[lo:hi]]
        block_rho = p.rho if grid_rho is None else grid_rho
        if row_rho is not None:
            known = np.isfinite(row_rho[ex])
            if known.any():
                block_rho = float(np.average(row_rho[ex][known], weights=weights[known]))
        fitted.append((lo, hi, t, lo - train_lo, block_rho))
        rates.append(
            np.stack([p.home + p.attack[bh] - p.defence[ba], p.attack[ba] - p.defence[bh]])
        )
        if progress is not None:
            progress(b + 1, len(blocks))

    if not blocks:
        first, last, begin = (np.datetime64(int(d), "D") for d in (day[0], day[-1], start_day))
        raise InvalidInputError(
            f"no match falls on or after the start date {begin}: the data run from {first} "
            f"to {last} and the first {burn_in_days} days only train the model; give more "
            "seasons, an earlier start or a shorter burn-in"
        )
    if not fitted:  # no block had targets: an empty frame
        fitted, rates = [(0, 0, 0, 0, 0.0)], [np.empty((2, 0))]
    starts, ends, days, n_trains, rhos = (np.array(column) for column in zip(*fitted, strict=True))
    sizes = ends - starts
    lam, mu = np.exp(np.concatenate(rates, axis=1))
    # one call per block: each block's grid is sized by its own rates, so no forecast
    # depends on a later block's (exact causality)
    probs = np.concatenate(
        [np.empty((0, 3))]
        + [
            outcome_probabilities(
                np.exp(r[0]), np.exp(r[1]), feasible_rho(rh, np.exp(r[0]), np.exp(r[1])), max_goals
            )
            for r, rh in zip(rates, rhos, strict=True)
            if r.shape[1]
        ]
    )
    pos = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends, strict=True)])
    return pd.DataFrame(
        {
            "p_home": probs[:, 0],
            "p_draw": probs[:, 1],
            "p_away": probs[:, 2],
            "home_rate": lam,
            "away_rate": mu,
            "refit_date": np.repeat(days, sizes)
            .astype(np.int64)
            .astype("datetime64[D]")
            .astype("datetime64[ns]"),
            "n_train": np.repeat(n_trains, sizes).astype(np.int64),
            "rho": np.repeat(rhos.astype(float), sizes),
        },
        index=frame.index[pos],
    )


def _to_day(value: Any) -> int:
    try:
        return int(np.datetime64(pd.Timestamp(value), "D").astype(np.int64))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"start is not a date: {value!r}") from exc


def _blocks(day: np.ndarray, start_day: int, refit_days: int) -> list[tuple[int, int, int]]:
    """(refit day, first row, end row) of every non-empty block on or after start_day."""
    out = []
    lo = int(np.searchsorted(day, start_day))
    while lo < day.size:
        k = (int(day[lo]) - start_day) // refit_days
        t = start_day + k * refit_days
        hi = int(np.searchsorted(day, t + refit_days))
        out.append((t, lo, hi))
        lo = hi
    return out


class _State:
    """What one refit hands to the next: last parameters and each team's league."""

    def __init__(self, n_all: int, n_leagues: int) -> None:
        self.attack = np.full(n_all, np.nan)
        self.defence = np.full(n_all, np.nan)
        self.home: float | None = None
        self.rho = 0.0
        self.level = 0.0  # mean defence of the last fit
        self.last_league = np.zeros(n_all, dtype=np.intp)
        self.seen = 0
        # per league: the sum of its measured newcomers' (attack, defence) offsets, and their number
        self.offset = np.zeros((n_leagues, 2))
        self.measured = np.zeros(n_leagues)

    def weakest(self, lg: int, established: np.ndarray, k: int) -> tuple[float, float]:
        """Mean attack and defence of league ``lg``'s ``k`` weakest established teams."""
        known = ~np.isnan(self.attack)
        pool = np.flatnonzero(known & established & (self.last_league == lg))
        if pool.size == 0:
            pool = np.flatnonzero(known)
        net = self.attack[pool] + self.defence[pool]
        weakest = pool[np.argsort(net)[:k]]
        return float(self.attack[weakest].mean()), float(self.defence[weakest].mean())

    def prior(
        self,
        teams: np.ndarray,
        is_new: np.ndarray,
        established: np.ndarray,
        k: int,
        shrink: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        pa, pd_ = np.zeros(teams.size), np.zeros(teams.size)
        if not is_new.any() or self.home is None:
            return pa, pd_
        for lg in np.unique(self.last_league[teams[is_new]]):
            att, dfc = self.weakest(lg, established, k)
            learned = self.offset[lg] / (self.measured[lg] + shrink)
            sel = is_new & (self.last_league[teams] == lg)
            pa[sel] = att + learned[0]
            pd_[sel] = dfc - self.level + learned[1]
        return pa, pd_

    def learn(self, teams: np.ndarray, established: np.ndarray, k: int) -> None:
        """Record newcomers ``teams``' offsets from their league's weakest in the last fit."""
        for t in teams.tolist():
            if np.isnan(self.attack[t]):
                continue
            lg = int(self.last_league[t])
            att, dfc = self.weakest(lg, established, k)
            self.offset[lg] += (self.attack[t] - att, self.defence[t] - dfc)
            self.measured[lg] += 1

    def warm_start(self, problem: Problem, teams: np.ndarray) -> Parameters:
        params = initial_parameters(problem)
        if self.home is None:
            return params
        known = ~np.isnan(self.attack[teams])
        params.attack[known] = self.attack[teams[known]]
        params.defence[known] = self.defence[teams[known]]
        params.home, params.rho = self.home, self.rho
        return params

    def update(self, teams: np.ndarray, p: Parameters) -> None:
        self.attack[teams] = p.attack
        self.defence[teams] = p.defence
        self.home, self.rho = p.home, p.rho
        self.level = float(p.defence.mean())
