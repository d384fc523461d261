"""The engine's own forecast, walk-forward: Dixon-Coles on results, the market-implied
ratings with a Kalman filter of the same prices, and their log-linear pool.

For each refit block (see :func:`core.backtest.walk_forward`) both goal models are refitted
on the matches strictly before the block: Dixon-Coles on their goals (optionally mixed with
shots on target, :func:`shots_targets`), :class:`~core.market_model.MarketImplied` on the goal
rates implied by their prices (closing where the file has them, else pre-match), the latter
every day (:data:`MARKET_REFIT_DAYS`) whatever the block length.  The pool
weights for the block are fitted on the earlier blocks' out-of-sample forecasts
(:func:`core.pool.pool_walk_forward`).  The pool's market-implied component is the
equal-weight geometric mean (renormalised 1X2; goal rates likewise) of the ratings' forecast
and a Kalman filter's of the same implied rates (:func:`core.kalman.kalman_forecast`, run on
every match before each forecast's day).  No forecast uses the prices of its own match.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from core import metrics
from core.backtest import DEFAULT_L2, DEFAULT_XI, walk_forward
from core.errors import InvalidInputError
from core.kalman import kalman_forecast, with_filter
from core.last_match import SHOTS_COLUMNS, component, last_match_shots
from core.lazy import pandas as pd
from core.market_model import market_rates_rho
from core.pool import draw_component, pool_walk_forward

__all__ = [
    "COMPONENTS",
    "DRAW_PRIOR_MATCHES",
    "MARKET_L2",
    "MARKET_REFIT_DAYS",
    "MARKET_SEASON_CARRY",
    "MARKET_SEASON_DECAY",
    "MARKET_XI",
    "POOL_COMPONENTS",
    "POOL_DEFAULT",
    "POOL_PRIOR_MATCHES",
    "engine_forecast",
    "pool_inputs",
    "pool_setup",
    "pooled_rates",
    "shots_targets",
]

COMPONENTS = ("dixon_coles", "market_implied")
# Decay and prior of the market-implied ratings, chosen on the 2016/17-2018/19 seasons of the
# shared data only (README, "Model quality"): prices move with news, so recent ones say more
# than results do, and a rate inverted from prices is far less noisy than a score.
MARKET_XI = 0.04  # per day: a half-life of 17 days
MARKET_L2 = 0.01
# Pool weights (Dixon-Coles, market-implied) until 300 earlier forecasts exist: the weights
# fitted on 2016/17-2018/19 were about (0.0, 1.05).
POOL_DEFAULT = (0.0, 1.0)
# The pool's weights have a Gaussian prior toward POOL_DEFAULT worth this many matches: free
# walk-forward weights swung between -0.3 and +0.16 on Dixon-Coles and the pool lost to
# the market-implied ratings alone out of sample (issue 21).
POOL_PRIOR_MATCHES = 10_000.0
# The pool's last component is a draw intercept (:func:`core.pool.draw_component`) with a
# prior toward 0 worth this many matches: the market-implied component prices the draw as
# the market does, and on the unseen leagues of issue 21 the market said 26.5 % where draws
# happened 27.5 %.  With every price's draw shaded by 4 % on the shared data, the engine's
# mean draw went from 1.0 point below the results to 0.5 with it; on the shared files as
# they are (no market bias to learn) it moved from 24.9 % to 24.7 % (observed 25.0 %).
DRAW_PRIOR_MATCHES = 2_000.0
# Every component the pool may have, in its order (the first two pool the goal rates too);
# the forecast's columns of each (the draw intercept is the same for every match)
POOL_COMPONENTS = (*COMPONENTS, "last_shots", "draw_intercept")
_POOL_COLUMNS = {
    "dixon_coles": ["dc_home", "dc_draw", "dc_away"],
    "market_implied": ["mc_home", "mc_draw", "mc_away"],
    "last_shots": ["ls_home", "ls_draw", "ls_away"],
}
# Once a league's new season has begun, the market-implied ratings weigh its earlier
# seasons' prices this much more (summer transfers and promotions make last season's prices
# say less); chosen on the shared data (issue 21: 0.5 and 0.15 were worse).
MARKET_SEASON_CARRY = 0.3
# ... and their decay follows the season: 0.005 per day in its first 14 days (two weekly
# blocks: with one or two new-season prices per team, the earlier seasons' many prices say
# more than a fast decay lets them), MARKET_XI (or market_xi) from then on, and 0.08 from
# day 175 (the run-in: what the market says of motivation and rotation is recent).  Issue
# 21: weeks 0-2 of a season were +0.0036 behind the market, the last weeks +0.0019.
MARKET_SEASON_DECAY: tuple[tuple[int, float | None], ...] = ((0, 0.005), (14, None), (175, 0.08))
# The market-implied ratings are refitted at least this often (days), whatever
# ``refit_days``: they are cheap, and a match late in a block then sees the closing prices
# of the block's earlier days (issue 21: weekly refits left the engine +0.00116 behind
# Pinnacle's pre-match price, daily +0.00110; with the day before kick-off left out too,
# still +0.00110).
MARKET_REFIT_DAYS = 1
Progress = Callable[[float, str], object]


def shots_targets(frame: pd.DataFrame, goals_share: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """Per-match targets ``goals_share * goals + (1 - goals_share) * k * shots on target``,
    with ``k`` the league's goals per shot on target over the matches *before* each one
    (all leagues together until a league has 500 matches); plain goals where shots are
    missing."""
    if not 0.0 <= goals_share <= 1.0:
        raise InvalidInputError(f"goals_share must be between 0 and 1, got {goals_share}")
    hg = frame["home_goals"].to_numpy(dtype=float)
    ag = frame["away_goals"].to_numpy(dtype=float)
    if not all(c in frame.columns for c in SHOTS_COLUMNS):
        return hg, ag
    hs = frame[SHOTS_COLUMNS[0]].to_numpy(dtype=float, na_value=np.nan)
    as_ = frame[SHOTS_COLUMNS[1]].to_numpy(dtype=float, na_value=np.nan)
    has = np.isfinite(hs) & np.isfinite(as_)
    order = np.argsort(pd.to_datetime(frame["date"]).to_numpy(), kind="stable")
    league = frame["league"].to_numpy() if "league" in frame else np.zeros(len(frame))
    goals = np.where(has, hg + ag, 0.0)[order]
    shots = np.where(has, hs + as_, 0.0)[order]
    k = np.full(len(frame), np.nan)
    all_g = np.cumsum(goals) - goals
    all_s = np.cumsum(shots) - shots
    k_all = np.where(all_s > 0, all_g / np.maximum(all_s, 1.0), np.nan)
    lg = league[order]
    for name in np.unique(lg):
        rows = np.flatnonzero(lg == name)
        g = np.cumsum(goals[rows]) - goals[rows]
        s = np.cumsum(shots[rows]) - shots[rows]
        n_before = np.arange(rows.size)
        k[order[rows]] = np.where(n_before >= 500, g / np.maximum(s, 1.0), k_all[rows])
    use = has & np.isfinite(k)
    share = 1.0 - goals_share
    x = np.where(use, goals_share * hg + share * k * np.nan_to_num(hs), hg)
    y = np.where(use, goals_share * ag + share * k * np.nan_to_num(as_), ag)
    return x, y


def pooled_rates(rates: list[tuple[Any, Any]], weights: Any) -> tuple[np.ndarray, np.ndarray]:
    """Goal rates of the pool: the weighted geometric mean of the components' rates (weights
    clipped at zero and normalised; equal weights if none is positive)."""
    w = np.clip(np.asarray(weights, dtype=float), 0.0, None)
    total = w.sum(axis=-1, keepdims=True)
    w = np.where(total > 0, w / np.where(total > 0, total, 1.0), 1.0 / w.shape[-1])
    if w.ndim == 1:
        w = np.broadcast_to(w, (np.size(rates[0][0]), w.size))
    log_h = sum(w[:, i] * np.log(np.asarray(h, float)) for i, (h, _) in enumerate(rates))
    log_a = sum(w[:, i] * np.log(np.asarray(a, float)) for i, (_, a) in enumerate(rates))
    return np.exp(log_h), np.exp(log_a)


def engine_forecast(
    frame: pd.DataFrame,
    *,
    xi: float = DEFAULT_XI,
    l2: float = DEFAULT_L2,
    refit_days: int = 7,
    burn_in_days: int = 365,
    start: Any = None,
    window_days: int | None = None,
    margin: str = "power",
    market_xi: float | None = None,
    market_l2: float | None = None,
    shots: float | None = None,
    group_by: str | None = None,
    min_pool_matches: int = 300,
    pool_default: tuple[float, float] | None = None,
    pool_prior_matches: float = POOL_PRIOR_MATCHES,
    draw_prior_matches: float | None = DRAW_PRIOR_MATCHES,
    kalman: bool = True,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Walk-forward forecasts of both goal models and their pool for every match after the
    burn-in (rows indexed like ``frame``, NaN before the first forecast).

    ``pool_default``: the pool's weights until ``min_pool_matches`` earlier forecasts exist
    (default :data:`POOL_DEFAULT`), and the centre of their prior, worth
    ``pool_prior_matches`` matches (:data:`POOL_PRIOR_MATCHES`; 0: free weights).
    ``draw_prior_matches``: the prior of the pool's draw intercept, toward 0
    (:data:`DRAW_PRIOR_MATCHES`; ``None``: no intercept).
    ``market_xi`` and ``market_l2``: decay and prior of the market-implied ratings
    (default: :data:`MARKET_XI`, :data:`MARKET_L2`).  ``shots``: fit
    Dixon-Coles to goals mixed with shots on target, with this share on the goals (0.7 in
    the issue that introduced it; ``None``: goals only).  ``group_by``: a column
    (``country``) whose groups are walked forward separately; the pool is fitted across all
    of them in date order; a group with no match after its burn-in (one season of a league)
    is not forecast, the others are.  ``kalman``: the market-implied component is the geometric mean
    of the ratings' and the filter's forecasts (False: the ratings alone, as a stored model
    predicts).  ``progress(fraction, message)`` runs after every
    refit; an exception it raises stops the run.  Columns: ``{dc,mi,kf,mc}_{home,draw,away,
    home_rate,away_rate}`` (Dixon-Coles, the market-implied ratings, the Kalman filter, the
    market-implied component the pool uses: their geometric mean, or ``mi`` without the
    filter), ``p_home``, ``p_draw``, ``p_away``, ``home_rate``, ``away_rate``,
    ``w_dixon_coles``, ``w_market_implied``, ``w_last_shots``, ``w_draw_intercept``, ``refit_date``.
    """
    if len(frame) == 0:
        raise InvalidInputError("no matches to forecast")
    lam, mu, rho, _ = market_rates_rho(frame, method=margin)
    lam = pd.Series(lam, index=frame.index)
    mu = pd.Series(mu, index=frame.index)
    rho = pd.Series(rho, index=frame.index)
    if shots is not None:
        sx, sy = shots_targets(frame, shots)
        sx = pd.Series(sx, index=frame.index)
        sy = pd.Series(sy, index=frame.index)
    groups = list(frame.groupby(group_by, sort=True)) if group_by else [("", frame)]
    # a group whose every match falls in its burn-in (a league with one season) is left
    # unforecast rather than stopping the others; with no group left, the walk-forward's
    # own error says why
    forecast_groups = [
        (name, g) for name, g in groups if _after_burn_in(g["date"], start, burn_in_days)
    ]
    walked = forecast_groups or groups
    sizes = np.array([len(g) for _, g in walked], dtype=float)
    shares = sizes / sizes.sum() / 2.0  # two walk-forwards per group
    kw: dict[str, Any] = dict(
        refit_days=refit_days,
        burn_in_days=burn_in_days,
        start=start,
        window_days=window_days,
        xi=xi,
        l2=l2,
    )
    parts_dc: list[pd.DataFrame] = []
    parts_mi: list[pd.DataFrame] = []
    done = 0.0
    for (name, g), share in zip(walked, shares, strict=True):
        for kind in COMPONENTS:
            if kind == "market_implied":
                targets = (lam[g.index].to_numpy(), mu[g.index].to_numpy())
            elif shots is not None:
                targets = (sx[g.index].to_numpy(), sy[g.index].to_numpy())
            else:
                targets = None

            def tick(i: int, n: int, done: float = done, share: float = share,
                     label: str = f"{kind} {name}".strip()) -> None:  # fmt: skip
                if progress is not None:
                    progress(done + share * i / n, f"{label}: refit {i}/{n}")

            extra = {}
            if kind == "market_implied":
                m_xi = MARKET_XI if market_xi is None else market_xi
                extra = {"xi": m_xi, "l2": MARKET_L2 if market_l2 is None else market_l2,
                         "dependence_targets": rho[g.index].to_numpy(),
                         "season_carry": MARKET_SEASON_CARRY,
                         "season_decay": MARKET_SEASON_DECAY,
                         "refit_days": min(refit_days, MARKET_REFIT_DAYS)}  # fmt: skip
                if window_days is None and m_xi > 0:
                    # matches whose weight has decayed below 1e-4 are left out: same fit
                    extra["window_days"] = int(np.ceil(np.log(1e4) / m_xi))
            part = walk_forward(g, targets=targets, progress=tick, **(kw | extra))
            (parts_dc if kind == "dixon_coles" else parts_mi).append(part)
            done += share
    dc = pd.concat(parts_dc).reindex(frame.index)
    mi = pd.concat(parts_mi).reindex(frame.index)
    out = pd.DataFrame(index=frame.index)
    for prefix, part in (("dc", dc), ("mi", mi)):
        for col in ("home", "draw", "away"):
            out[f"{prefix}_{col}"] = part[f"p_{col}"]
        out[f"{prefix}_home_rate"] = part["home_rate"]
        out[f"{prefix}_away_rate"] = part["away_rate"]
    _market_component(frame, walked, (lam, mu, rho), out, kalman)
    out["refit_date"] = dc["refit_date"]
    # the last match's shots on target: a third component where the matches have them
    shots_x = last_match_shots(frame)
    out[list(_LS)] = np.nan if shots_x is None else component(shots_x)
    names, default, prior = pool_setup(
        out, default=pool_default, prior_matches=pool_prior_matches, draw=draw_prior_matches
    )
    has = out["refit_date"].notna().to_numpy()
    probs = np.full((len(frame), 3), np.nan)
    weights = np.full((len(frame), len(names)), np.nan)
    if has.any():
        sub = out[has]
        y = metrics.encode_outcomes(frame.loc[has, "result"].to_numpy())
        probs[has], weights[has] = pool_walk_forward(
            pool_inputs(sub, names),
            y,
            pd.to_datetime(frame.loc[has, "date"]).to_numpy(),
            sub["refit_date"].to_numpy(),
            min_matches=min_pool_matches,
            default=default,
            prior_matches=prior,
        )  # fmt: skip
    # no market-implied forecast yet (no earlier match had prices): Dixon-Coles alone
    alone = has & np.isnan(probs[:, 0])
    probs[alone] = out.loc[alone, ["dc_home", "dc_draw", "dc_away"]].to_numpy()
    weights[alone] = (1.0,) + (0.0,) * (len(names) - 1)
    out["p_home"], out["p_draw"], out["p_away"] = probs.T
    for name in POOL_COMPONENTS:  # NaN: not in this pool
        out[f"w_{name}"] = weights[:, names.index(name)] if name in names else np.nan
    rates = np.full((len(frame), 2), np.nan)
    if has.any():
        mi_rates = out.loc[has, ["mc_home_rate", "mc_away_rate"]].to_numpy()
        dc_rates = out.loc[has, ["dc_home_rate", "dc_away_rate"]].to_numpy()
        mi_rates = np.where(np.isnan(mi_rates), dc_rates, mi_rates)
        # the goal models' rates (the shots component tilts the 1X2 only)
        rates[has] = np.column_stack(
            pooled_rates([tuple(dc_rates.T), tuple(mi_rates.T)], weights[has][:, :2])
        )
    out["home_rate"], out["away_rate"] = rates.T
    return out


def pool_setup(
    forecasts: pd.DataFrame,
    *,
    default: tuple[float, ...] | None = None,
    prior_matches: float = POOL_PRIOR_MATCHES,
    draw: float | None = DRAW_PRIOR_MATCHES,
) -> tuple[list[str], tuple[float, ...], list[float]]:
    """The pool's components (of :data:`POOL_COMPONENTS`: the last match's shots where
    ``forecasts`` has them, the draw intercept unless ``draw`` is None), its starting
    weights (``default``, :data:`POOL_DEFAULT` unless given, then 0) and each weight's prior
    strength (``prior_matches``; the draw intercept's ``draw``): the walk-forward's pool
    and the stored model's are set up alike."""
    names = ["dixon_coles", "market_implied"]
    if np.isfinite(forecasts[_POOL_COLUMNS["last_shots"]].to_numpy()).all():
        names.append("last_shots")
    prior = [prior_matches] * len(names)
    if draw is not None:
        names.append("draw_intercept")
        prior.append(draw)
    given = POOL_DEFAULT if default is None else default
    return names, tuple(given) + (0.0,) * (len(names) - len(given)), prior


def pool_inputs(forecasts: pd.DataFrame, names: list[str]) -> list[np.ndarray]:
    """The forecasts of the pool's components ``names`` (:func:`pool_setup`), each (n, 3)."""
    return [
        draw_component(len(forecasts))
        if name == "draw_intercept"
        else forecasts[_POOL_COLUMNS[name]].to_numpy()
        for name in names
    ]


def _after_burn_in(dates: pd.Series, start: Any, burn_in_days: int) -> bool:
    """Whether any of ``dates`` falls on or after the walk-forward's start
    (:func:`core.backtest.walk_forward`: ``start``, else the first date plus the burn-in)."""
    day = pd.to_datetime(dates, errors="coerce")
    if day.isna().any() or day.empty:
        return True  # the walk-forward reports what is wrong
    first = day.min().normalize()
    try:
        begin = first + pd.Timedelta(days=burn_in_days) if start is None else pd.Timestamp(start)
    except (TypeError, ValueError):
        return True
    return bool((day.dt.normalize() >= begin.normalize()).any())


_KF = ("kf_home", "kf_draw", "kf_away", "kf_home_rate", "kf_away_rate")
_LS = ("ls_home", "ls_draw", "ls_away")
_MI = ("mi_home", "mi_draw", "mi_away", "mi_home_rate", "mi_away_rate")
_MC = ("mc_home", "mc_draw", "mc_away", "mc_home_rate", "mc_away_rate")


def _market_component(
    frame: pd.DataFrame,
    groups: list[tuple[Any, pd.DataFrame]],
    implied: tuple[pd.Series, pd.Series, pd.Series],
    out: pd.DataFrame,
    kalman: bool,
) -> None:
    """Adds the Kalman filter's forecast (``kf_*``, one run per group on all its matches,
    each forecast from the days before its own) and the market-implied component (``mc_*``):
    the equal-weight geometric mean of the ratings' 1X2 and the filter's, renormalised, and
    of their goal rates; the ratings alone where the filter is off or has no forecast."""
    kf = np.full((len(frame), 5), np.nan)
    if kalman:
        lam, mu, rho = implied
        pos = pd.Series(np.arange(len(frame)), index=frame.index)
        for _, g in groups:
            order = np.argsort(pd.to_datetime(g["date"]).to_numpy(), kind="stable")
            g = g.iloc[order]
            day = pd.to_datetime(g["date"]).to_numpy().astype("datetime64[D]").astype(np.int64)
            codes, _teams = pd.factorize(
                np.concatenate([g["home_team"].to_numpy(), g["away_team"].to_numpy()])
            )
            league = g["league"].to_numpy() if "league" in g else np.zeros(len(g))
            kf[pos[g.index].to_numpy()] = kalman_forecast(
                day,
                codes[: len(g)],
                codes[len(g) :],
                league,
                lam[g.index].to_numpy(),
                mu[g.index].to_numpy(),
                rho[g.index].to_numpy(),
            )
    mc = with_filter(out[list(_MI)].to_numpy(), kf)
    for i, col in enumerate(_KF):
        out[col] = kf[:, i]
    for i, col in enumerate(_MC):
        out[col] = mc[:, i]
