"""Training pipelines: ``poisson``, ``blending``, ``calibration``, ``draw`` and ``full``.

Time is split once.  The last ``validation_share`` of the selected matches (by date) is the
validation period; nothing fitted here ever trains on it, and every reported metric is
computed on it:

1. The engine's own forecast walks forward over the whole selection
   (:func:`core.forecast.engine_forecast`: Dixon-Coles on results and the market-implied
   ratings on past prices, refitted every ``refit_days`` on the matches strictly before
   each block, per country so that promoted and relegated clubs stay connected, and their
   log-linear pool with weights fitted on earlier matches only).  It gives every match
   after the burn-in an out-of-sample forecast; ``poisson`` is this forecast.
2. The stored models (Dixon-Coles, market-implied ratings, pool weights) are fitted on the
   matches before the validation period.
3. ``blending`` trains the blend (:mod:`core.blend`) on the pre-validation forecasts;
   ``calibration`` fits a calibrator (:mod:`core.calibration`) on them; ``full`` trains the
   blend on the first 70 % of the pre-validation forecasts and calibrates the blend's
   out-of-sample output on the remaining 30 %.  ``draw`` adds an independent Poisson
   walk-forward and learns :class:`core.draw.DrawModel` on the pre-validation forecasts
   with the **pre-match** market (never closing prices).
4. The validation matches are forecast by the fitted stages and scored against one
   pre-match price source (:func:`core.evaluation.benchmark_market`), with the closing
   market as the ceiling.

Blends train on pre-match prices only (:data:`BLEND_SOURCES`): a forecast issued before
kick-off cannot know the closing price.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core import metrics
from core.backtest import DEFAULT_L2, DEFAULT_XI, walk_forward
from core.blend import Blend
from core.calibration import (
    fit_calibrator,
    reliability_curves,
)
from core.dixon_coles import DixonColes, Poisson
from core.draw import DrawModel, draw_report
from core.errors import InvalidInputError
from core.evaluation import benchmark_market, compare, format_weights, versus, versus_ceiling
from core.forecast import MARKET_L2, MARKET_XI, engine_forecast, pool_inputs, pool_setup
from core.kalman import KalmanRatings
from core.last_match import LastMatchShots
from core.lazy import pandas as pd
from core.market_model import MarketImplied, market_rates_rho
from core.odds import market_probabilities
from core.odds import overround as overround_of
from core.pool import LogLinearPool
from core.sources import BLEND_SOURCES, DRAW_SOURCES, columns_1x2

__all__ = [
    "MODEL_TYPES",
    "TrainedModel",
    "TrainingConfig",
    "check_selection",
    "pre_match_market",
    "train",
]

MODEL_TYPES = ("poisson", "blending", "calibration", "draw", "full")
MIN_MATCHES = 300
Progress = Callable[[str, float, str, dict[str, Any] | None], object]

# share of the overall progress bar spent in each phase
_PHASES = {
    "dixon_coles": (0.02, 0.62),
    "fit": (0.62, 0.66),
    "blending": (0.66, 0.86),
    "draw": (0.66, 0.92),
    "calibration": (0.86, 0.92),
    "evaluating": (0.92, 0.93),
    "refit": (0.93, 0.99),
}


@dataclass(frozen=True)
class TrainingConfig:
    """Hyperparameters, with their defaults.

    ``xi``: Dixon-Coles time decay **per day**; ``l2``: prior precision on team strengths;
    ``refit_days``: walk-forward refit interval; ``validation_share``: the last share of the
    matches (by date) held out for the metrics; ``burn_in_days``: history before the first
    out-of-sample forecast; ``margin``: margin removal for the market probabilities.  The
    market-implied ratings use their own decay and prior, :data:`core.forecast.MARKET_XI`
    and :data:`core.forecast.MARKET_L2`.
    """

    model_type: str = "full"
    xi: float = DEFAULT_XI
    l2: float = DEFAULT_L2
    refit_days: int = 7
    validation_share: float = 0.2
    burn_in_days: int = 365
    margin: str = "power"

    def validate(self) -> None:
        if self.model_type not in MODEL_TYPES:
            raise InvalidInputError(
                f"unknown model type {self.model_type!r}; use one of {', '.join(MODEL_TYPES)}"
            )
        if not 0.05 <= self.validation_share <= 0.5:
            raise InvalidInputError("validation_share must be between 0.05 and 0.5")
        if not 0 <= self.xi <= 0.05:
            raise InvalidInputError("xi (decay per day) must be between 0 and 0.05")
        if not 0 <= self.l2 <= 1000:
            raise InvalidInputError("l2 must be between 0 and 1000")
        if not 1 <= self.refit_days <= 120:
            raise InvalidInputError("refit_days must be between 1 and 120")
        if not 30 <= self.burn_in_days <= 3650:
            raise InvalidInputError("burn_in_days must be between 30 and 3650")


@dataclass
class TrainedModel:
    weights: dict[str, Any]
    metrics: dict[str, Any]
    logs: list[str] = field(default_factory=list)
    n_train: int = 0  # matches the stored (refitted) model was fitted on
    n_validation: int = 0
    validation_weights: dict[str, Any] = field(default_factory=dict)  # the held-out fit
    window: dict[str, Any] = field(default_factory=dict)  # data and validation windows
    validation_forecasts: dict[str, Any] = field(default_factory=dict)


class _Reporter:
    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.logs: list[str] = []
        self.high = 0.0  # progress never goes backwards

    def __call__(
        self, phase: str, within: float, message: str, interim: dict[str, Any] | None = None
    ) -> None:
        lo, hi = _PHASES.get(phase, (0.0, 1.0))
        self.high = max(self.high, lo + (hi - lo) * min(max(within, 0.0), 1.0))
        if self.progress is not None:
            self.progress(phase, self.high, message, interim)

    def log(self, phase: str, message: str) -> None:
        self.logs.append(message)
        self(phase, 1.0, message)


def pre_match_market(frame: pd.DataFrame, margin: str) -> tuple[np.ndarray, np.ndarray]:
    """Margin-free pre-match 1X2 per match from the first of :data:`BLEND_SOURCES` with
    prices (NaN rows: none), and that source's overround: what a blend may use."""
    market, used = market_probabilities(frame, method=margin, sources=BLEND_SOURCES)
    overround = np.full(len(frame), np.nan)
    for source in BLEND_SOURCES:
        rows = used == source
        if rows.any():
            cols = columns_1x2(source)
            overround[rows] = overround_of(frame.loc[rows, cols].to_numpy(dtype=float))
    return market, overround


def _features(frame: pd.DataFrame, wf: pd.DataFrame, margin: str) -> pd.DataFrame:
    """Blend features: the engine's forecast and goal rates, and the pre-match market."""
    market, overround = pre_match_market(frame, margin)
    return pd.DataFrame(
        {
            "dc_home": wf["p_home"].to_numpy(),
            "dc_draw": wf["p_draw"].to_numpy(),
            "dc_away": wf["p_away"].to_numpy(),
            "dc_home_rate": wf["home_rate"].to_numpy(),
            "dc_away_rate": wf["away_rate"].to_numpy(),
            "mk_home": market[:, 0],
            "mk_draw": market[:, 1],
            "mk_away": market[:, 2],
            "mk_overround": overround,
        },
        index=frame.index,
    )


def _walk_forward(frame: pd.DataFrame, config: TrainingConfig, report: _Reporter) -> pd.DataFrame:
    def tick(fraction: float, message: str) -> None:
        report("dixon_coles", fraction, message)

    return engine_forecast(
        frame,
        xi=config.xi,
        l2=config.l2,
        refit_days=config.refit_days,
        burn_in_days=config.burn_in_days,
        margin=config.margin,
        group_by="country" if "country" in frame else None,
        progress=tick,
    )


def _goal_walk_forward(
    frame: pd.DataFrame,
    config: TrainingConfig,
    report: _Reporter,
    rho: bool = True,
    phase: str = "dixon_coles",
    phase_share: float = 1.0,
) -> pd.DataFrame:
    """One goal model's walk-forward per country (the draw model's independent Poisson)."""
    groups = frame.groupby("country", sort=True) if "country" in frame else [("", frame)]
    groups = list(groups)
    sizes = np.array([len(g) for _, g in groups], dtype=float)
    done = 0.0
    parts = []
    for name, group in groups:
        share = len(group) / sizes.sum()

        label = f"{'Dixon-Coles' if rho else 'Poisson'} walk-forward {name}".rstrip()

        def tick(
            i: int, n: int, done: float = done, share: float = share, label: str = label
        ) -> None:
            report(phase, phase_share * (done + share * i / n), f"{label}: refit {i}/{n}")

        parts.append(
            walk_forward(
                group,
                refit_days=config.refit_days,
                burn_in_days=config.burn_in_days,
                xi=config.xi,
                l2=config.l2,
                rho=rho,
                progress=tick,
            )
        )
        done += share
    return pd.concat(parts).reindex(frame.index)


def check_selection(dates: pd.Series | list[Any], config: TrainingConfig) -> pd.Timestamp:
    """The one rule for a usable selection: at least ``MIN_MATCHES`` matches, and
    ``burn_in_days`` of history before the validation period.  ``dates`` in date order;
    returns the first date of the validation period."""
    dates = pd.to_datetime(pd.Series(dates))
    if len(dates) < MIN_MATCHES:
        raise InvalidInputError(
            f"the selection has {len(dates)} matches; training needs at least {MIN_MATCHES}"
        )
    validation_start = dates.iloc[int(len(dates) * (1 - config.validation_share))]
    first_forecast = dates.iloc[0] + pd.Timedelta(days=config.burn_in_days)
    if validation_start <= first_forecast:
        raise InvalidInputError(
            f"the selection is too short: the validation period starts "
            f"{validation_start.date()} but the first {config.burn_in_days} days (to "
            f"{first_forecast.date()}) are needed as history; select more seasons or a "
            "smaller validation share"
        )
    return validation_start


def train(
    matches: pd.DataFrame, config: TrainingConfig, progress: Progress | None = None
) -> TrainedModel:
    """Train ``config.model_type`` on ``matches`` (columns date, home_team, away_team,
    home_goals, away_goals, result, optional league, country, season and the canonical odds
    columns).

    Every stage is fitted twice: on the matches before the validation period, whose
    forecasts of that period give the metrics (kept as ``validation_weights``), then on
    every selected match (``weights``, what is stored and served).

    ``progress(phase, fraction, message, interim_metrics)`` is called throughout; an
    exception it raises stops training (cancellation).
    """
    config.validate()
    report = _Reporter(progress)
    frame = matches.sort_values("date", kind="stable").reset_index(drop=True)
    validation_start = check_selection(frame["date"], config)
    cut = int(np.searchsorted(frame["date"].to_numpy(), validation_start.to_datetime64()))

    report("dixon_coles", 0.0, "walk-forward: Dixon-Coles and market-implied ratings")
    wf = _walk_forward(frame, config, report)
    is_valid = np.arange(len(frame)) >= cut
    has_forecast = wf["p_home"].notna().to_numpy()
    y = metrics.encode_outcomes(frame["result"].to_numpy())
    features = _features(frame, wf, config.margin)
    draw_x = market_pre = None
    if config.model_type == "draw":
        draw_x, market_pre = _draw_features(frame, wf, config, report)

    held_out = _fit_stages(
        frame, wf, features, y, has_forecast & ~is_valid, cut, validation_start, config,
        report, draw_x, is_valid,
    )  # fmt: skip
    probs = held_out.probs

    report("evaluating", 0.0, "scoring the validation period")
    final = _validation_metrics(frame, wf, features, probs, y, is_valid, config)
    if draw_x is not None and market_pre is not None:
        no_odds = held_out.draw.predict_proba(draw_x.assign(market_draw=np.nan))
        final.update(_draw_metrics(probs, draw_x, market_pre, no_odds, y, is_valid))
    report.log(
        "evaluating",
        (
            f"validation: {final['n']} matches from {validation_start.date()}, RPS "
            f"{final['rps']:.5f}, market {final['market']['rps']:.5f} on "
            f"{final['comparison']['n']} priced matches"
        )
        if final.get("market")
        else f"validation: {final['n']} matches, RPS {final['rps']:.5f}",
    )
    final["validation_start"] = validation_start.date().isoformat()
    legacy = _legacy_fields(held_out.dc, held_out.blend, probs[is_valid], y[is_valid], config)
    validation_weights = {**held_out.weights, **legacy}

    # the served model: every stage again, on every selected match
    data_end = frame["date"].iloc[-1] + pd.Timedelta(days=1)
    refit = _fit_stages(
        frame, wf, features, y, has_forecast, len(frame), data_end, config,
        _Refit(report), draw_x, None, held_out,
    )  # fmt: skip
    weights = {**refit.weights, **legacy, "blend_alpha": _alpha(refit.blend)}
    report.log(
        "refit",
        f"refitted on all {len(frame)} selected matches "
        f"({frame['date'].iloc[0].date()} to {frame['date'].iloc[-1].date()}): that model is "
        "stored; the metrics are the held-out fit's",
    )
    return TrainedModel(
        weights,
        final,
        report.logs,
        n_train=len(frame),
        n_validation=int(is_valid.sum()),
        validation_weights=validation_weights,
        window=_window(frame, is_valid),
        validation_forecasts=_validation_forecasts(frame, probs, y, is_valid),
    )


@dataclass
class _Stages:
    weights: dict[str, Any]
    probs: np.ndarray  # the fitted stages' forecast of every match
    dc: DixonColes
    blend: Blend | None = None
    draw: Any = None
    calibrator: str | None = None  # the kind of calibrator chosen


def _fit_stages(
    frame: pd.DataFrame,
    wf: pd.DataFrame,
    features: pd.DataFrame,
    y: np.ndarray,
    train_rows: np.ndarray,
    cut: int,
    reference: pd.Timestamp,
    config: TrainingConfig,
    report: _Reporter,
    draw_x: pd.DataFrame | None,
    is_valid: np.ndarray | None,
    chosen: _Stages | None = None,
) -> _Stages:
    """Every stage of ``config.model_type`` fitted on the first ``cut`` matches (goal
    models, ratings) and on the out-of-sample forecasts of ``train_rows`` (pool, blend,
    draw model, calibrator).  ``is_valid``: the rows whose interim scores are reported.
    ``chosen``: the held-out fit whose choices (blend method, calibrator) were validated;
    the refit keeps them rather than choose again on its own, unvalidated, last matches."""

    def interim(phase: str, message: str, p: np.ndarray) -> None:
        scores = None if is_valid is None else _interim(p[is_valid], y[is_valid])
        report(phase, 1.0, message, scores)

    report("fit", 0.0, f"fitting the Dixon-Coles model on {cut} matches")
    dc = DixonColes(xi=config.xi, l2=config.l2).fit(frame.iloc[:cut], reference_date=reference)
    weights: dict[str, Any] = {"dixon_coles": dc.to_dict()}
    report.log(
        "fit",
        f"Dixon-Coles: {dc.n_matches_} matches, {len(dc.teams_)} teams, "
        f"{dc.n_iter_} Newton iterations, rho {dc.rho_:+.4f}",
    )
    _fit_market_implied(frame.iloc[:cut], reference, wf, y, train_rows, config, weights, report)
    probs = features[["dc_home", "dc_draw", "dc_away"]].to_numpy()
    interim("dixon_coles", "walk-forward done", probs)

    out = _Stages(weights, probs, dc)
    if config.model_type in ("blending", "full"):
        rows = np.flatnonzero(train_rows)
        if config.model_type == "full":
            rows = rows[: int(len(rows) * 0.7)]
        method = None if chosen is None or chosen.blend is None else chosen.blend.method_
        out.blend = _fit_blend(features.iloc[rows], y[rows], report, method)
        weights["blend"] = out.blend.to_dict()
        report.log("blending", out.blend.message())
        probs = out.blend.predict(features)
        interim("blending", "blend trained", probs)
    if config.model_type == "draw" and draw_x is not None:
        report("draw", 0.85, "fitting the draw weights, floor and cap")
        rows = np.flatnonzero(train_rows)
        out.draw = DrawModel().fit(draw_x.iloc[rows], y[rows])
        weights["draw"] = out.draw.to_dict()
        weights["independent_poisson"] = (
            Poisson(xi=config.xi, l2=config.l2)
            .fit(frame.iloc[:cut], reference_date=reference)
            .to_dict()
        )
        report.log("draw", out.draw.message())
        probs = out.draw.predict_proba(draw_x)
        interim("draw", "draw model trained", probs)
    if config.model_type in ("calibration", "full"):
        rows = np.flatnonzero(train_rows)
        if config.model_type == "full":
            rows = rows[int(len(rows) * 0.7) :]
        report("calibration", 0.0, "fitting calibrators")
        kind = None if chosen is None else chosen.calibrator
        calibrator, cal_report = fit_calibrator(probs[rows], y[rows], kind=kind)
        out.calibrator = cal_report.chosen
        weights["calibrator"] = calibrator.to_dict()
        report.log("calibration", cal_report.message())
        probs = calibrator.predict(probs)
    out.probs = probs
    return out


class _Refit(_Reporter):
    """The refit's progress: one phase of its own, whatever stage reports."""

    def __init__(self, parent: _Reporter) -> None:
        self.parent = parent
        self.logs = parent.logs

    def __call__(
        self, phase: str, within: float, message: str, interim: dict[str, Any] | None = None
    ) -> None:
        self.parent("refit", 0.5 if phase != "fit" else 0.1, f"refit: {message}", interim)

    def log(self, phase: str, message: str) -> None:
        self.logs.append(f"refit: {message}")
        self(phase, 1.0, message)


def _alpha(blend: Blend | None) -> float | None:
    return None if blend is None else blend.alpha_


def _window(frame: pd.DataFrame, is_valid: np.ndarray) -> dict[str, Any]:
    """What the model was fitted on and validated on."""
    dates = frame["date"].dt.date
    valid = dates[is_valid]
    leagues = sorted(frame["league"].dropna().unique()) if "league" in frame else []
    seasons = sorted(frame["season"].dropna().unique()) if "season" in frame else []
    return {
        "data_from": dates.iloc[0].isoformat(),
        "data_to": dates.iloc[-1].isoformat(),
        "leagues": [str(x) for x in leagues],
        "seasons": [str(x) for x in seasons],
        "validation_from": valid.iloc[0].isoformat(),
        "validation_to": valid.iloc[-1].isoformat(),
    }


def _validation_forecasts(
    frame: pd.DataFrame, probs: np.ndarray, y: np.ndarray, is_valid: np.ndarray
) -> dict[str, Any]:
    """Each validation match and its held-out forecast, column by column: what two versions
    are compared on (:mod:`core.comparison`)."""
    rows = frame[is_valid]
    league = rows["league"] if "league" in rows else pd.Series([""] * len(rows))
    return {
        "date": [d.isoformat() for d in rows["date"].dt.date],
        "league": [str(x) for x in league],
        "home": [str(x) for x in rows["home_team"]],
        "away": [str(x) for x in rows["away_team"]],
        "p": [[float(v) for v in row] for row in probs[is_valid]],
        "y": [int(v) for v in y[is_valid]],
    }


def _fit_market_implied(
    frame: pd.DataFrame,
    validation_start: Any,
    wf: pd.DataFrame,
    y: np.ndarray,
    train_rows: np.ndarray,
    config: TrainingConfig,
    weights: dict[str, Any],
    report: _Reporter,
) -> None:
    """The stored market-implied ratings and pool weights (none without any priced match:
    the engine's forecast is then Dixon-Coles alone)."""
    lam, mu, rho, _ = market_rates_rho(frame, method=config.margin)
    if not np.isfinite(lam).any():
        report.log("fit", "no pre-validation match has prices: Dixon-Coles alone")
        return
    # the grid's rho: the decay-weighted mean of the rho the prices implied (as in the
    # walk-forward), so the stored ratings price the draw as the market did
    known = np.isfinite(rho)
    age = (pd.Timestamp(validation_start) - pd.to_datetime(frame["date"])).dt.days.to_numpy()
    dependence = (
        float(np.average(rho[known], weights=np.exp(-MARKET_XI * age[known])))
        if known.any()
        else 0.0
    )
    mi = MarketImplied(xi=MARKET_XI, l2=MARKET_L2, margin=config.margin, dependence=dependence)
    mi = mi.fit(frame, home_rate=lam, away_rate=mu, reference_date=validation_start)
    weights["market_implied"] = mi.to_dict()
    # the filter's state after these matches: the stored component is the walk-forward's
    weights["kalman"] = KalmanRatings().fit(frame, lam, mu, rho).to_dict()
    names, default, prior = pool_setup(wf)  # the walk-forward's pool
    if "last_shots" in names:  # the matches have shots on target
        weights["last_shots"] = LastMatchShots().fit(frame).to_dict()
    rows = np.flatnonzero(train_rows)
    pool = LogLinearPool(default=default, prior_matches=prior).fit(
        pool_inputs(wf.iloc[rows], names), y[rows]
    )
    weights["pool"] = pool.to_dict() | {"components": names}
    report.log(
        "fit",
        f"market-implied ratings: {mi.n_priced_} priced matches, {len(mi.teams_)} teams; "
        f"pool weights {format_weights(dict(zip(names, pool.weights_, strict=True)))} "
        f"({pool.n_train_} out-of-sample forecasts)",
    )


def _fit_blend(
    features: pd.DataFrame, y: np.ndarray, report: _Reporter, method: str | None = None
) -> Blend:
    def on_iteration(env: Any) -> None:
        report(
            "blending",
            env.iteration / max(env.end_iteration, 1),
            f"LightGBM tree {env.iteration + 1}",
        )

    return Blend().fit(features, y, callback=on_iteration, method=method)


def _draw_features(
    frame: pd.DataFrame, wf: pd.DataFrame, config: TrainingConfig, report: _Reporter
) -> tuple[pd.DataFrame, np.ndarray]:
    """The draw model's features for every match: Dixon-Coles (``wf``'s component), an
    independent Poisson walk-forward on the same schedule and the pre-match market; and the
    pre-match market probabilities."""
    poisson = _goal_walk_forward(frame, config, report, rho=False, phase="draw", phase_share=0.8)
    market, _ = market_probabilities(frame, method=config.margin, sources=DRAW_SOURCES)
    x = pd.DataFrame(
        {  # home and away in the engine forecast's ratio; Dixon-Coles' own draw
            "dc_home": wf["p_home"].to_numpy(),
            "dc_draw": wf["dc_draw"].to_numpy(),
            "dc_away": wf["p_away"].to_numpy(),
            "dixon_coles_home": wf["dc_home"].to_numpy(),  # Dixon-Coles alone, for the metrics
            "dixon_coles_draw": wf["dc_draw"].to_numpy(),
            "dixon_coles_away": wf["dc_away"].to_numpy(),
            "poisson_draw": poisson["p_draw"].to_numpy(),
            "market_draw": market[:, 1],
        },
        index=frame.index,
    )
    return x, market


def _draw_metrics(
    probs: np.ndarray,
    x: pd.DataFrame,
    market: np.ndarray,
    no_odds: np.ndarray,
    y: np.ndarray,
    is_valid: np.ndarray,
) -> dict[str, Any]:
    """Validation metrics of a draw model: draw calibration and accuracy of the model, of
    Dixon-Coles, of the independent Poisson model and of the pre-match market, and the
    comparisons with Dixon-Coles (all validation matches) and with the pre-match market
    (the matches with pre-match odds), which replaces the closing-market one.  ``no_odds`` is
    the model's forecast as if no match had odds (its fallback weights), scored too."""
    p, yv, xv = probs[is_valid], y[is_valid], x[is_valid]
    dc = xv[["dixon_coles_home", "dixon_coles_draw", "dixon_coles_away"]].to_numpy()
    mk = market[is_valid]
    priced = ~np.isnan(mk).any(axis=1)

    def block(three: np.ndarray | None, d: np.ndarray, rows: np.ndarray) -> dict[str, Any]:
        out = draw_report(d[rows], yv[rows], bins=10)
        if three is not None:
            out["draw_accuracy"] = metrics.draw_accuracy(three[rows], yv[rows])
        return out

    everything = np.ones(yv.size, dtype=bool)
    draw: dict[str, Any] = {
        "model": block(p, p[:, 1], everything),
        "dixon_coles": block(dc, dc[:, 1], everything),
        "poisson": block(None, xv["poisson_draw"].to_numpy(), everything),
        "vs_dixon_coles": compare(p, dc, yv),
        "model_without_odds": block(no_odds[is_valid], no_odds[is_valid][:, 1], everything)
        | {"rps": metrics.rps(no_odds[is_valid], yv)},
        "n_with_pre_match_odds": int(priced.sum()),
    }
    out: dict[str, Any] = {"draw": draw, "market_prices": "pre-match"}
    if priced.sum() >= 2:
        draw["model_priced"] = block(p, p[:, 1], priced)
        draw["market"] = block(mk, mk[:, 1], priced)
        comparison = compare(p[priced], mk[priced], yv[priced])
        out["comparison"] = comparison
        out["market"] = comparison["market"] | {"n": comparison["n"]}
    else:  # no pre-match prices: no market to compare with (never the closing one)
        out["comparison"] = out["market"] = None
    return out


def _interim(p: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    ok = ~np.isnan(p).any(axis=1)
    return {"rps": metrics.rps(p[ok], y[ok]), "log_loss": metrics.log_loss(p[ok], y[ok])}


def _validation_metrics(frame, wf, features, probs, y, is_valid, config) -> dict[str, Any]:
    p = probs[is_valid]
    yv = y[is_valid]
    out: dict[str, Any] = metrics.summary(p, yv)
    lam = wf["home_rate"].to_numpy()[is_valid]
    mu = wf["away_rate"].to_numpy()[is_valid]
    goals = np.concatenate(
        [frame["home_goals"].to_numpy()[is_valid], frame["away_goals"].to_numpy()[is_valid]]
    ).astype(float)
    out["rmse_goals"] = float(np.sqrt(np.mean((np.concatenate([lam, mu]) - goals) ** 2)))
    rows = frame[is_valid]
    bench = benchmark_market(rows, "pre", config.margin)
    priced = bench.priced
    if priced.sum() >= 2:
        comparison = compare(p[priced], bench.probs[priced], yv[priced])
        out["comparison"] = comparison
        out["market"] = comparison["market"] | {"n": comparison["n"]}
        out["market_kind"] = "pre"
        out["market_source"] = bench.source
        out["matches_without_market"] = bench.missing
        components = {}
        for name, prefix in (("dixon_coles", "dc"), ("market_implied", "mc")):
            q = wf[[f"{prefix}_home", f"{prefix}_draw", f"{prefix}_away"]].to_numpy()[is_valid]
            components[name] = versus(q[priced], bench.probs[priced], yv[priced])
        out["components"] = components
    top = versus_ceiling(p, yv, priced, benchmark_market(rows, "close", config.margin))
    if top is not None:
        out["ceiling"] = top
    out["margin"] = config.margin
    return out


def _legacy_fields(dc, blend, p_valid, y_valid, config) -> dict[str, Any]:
    """The keys the legacy registry readers use."""
    params = dc.to_dict()
    return {
        "team_strengths": params["team_strengths"],
        "home_advantage": params["home_advantage"],
        "rho": params["rho"],
        "decay_rate": config.xi,
        "blend_alpha": None if blend is None else blend.alpha_,
        "calibration_curves": reliability_curves(p_valid, y_valid),
        "model_type": config.model_type,
        "config": {k: getattr(config, k) for k in config.__dataclass_fields__},
    }
