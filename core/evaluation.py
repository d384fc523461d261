"""Model versus market on the same matches: the yardstick of every model here."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core import metrics
from core.betting import betting_report, format_betting
from core.errors import InvalidInputError
from core.forecast import MARKET_L2, MARKET_XI, POOL_COMPONENTS, engine_forecast
from core.lazy import pandas as pd
from core.odds import market_probabilities
from core.pool import draw_component, pool_walk_forward
from core.sources import BENCHMARK_SOURCES

__all__ = [
    "WALK_FORWARD_SETTINGS",
    "BacktestReport",
    "Benchmark",
    "backtest_report",
    "benchmark_market",
    "compare",
    "format_ceiling",
    "format_report",
    "format_weights",
    "versus",
    "versus_ceiling",
    "with_odds_forecast",
]


@dataclass
class BacktestReport:
    summary: dict[str, Any]
    predictions: pd.DataFrame  # one row per evaluated match


def compare(model: np.ndarray, market: np.ndarray, outcomes: Any) -> dict[str, Any]:
    """Scores of two forecasts of the same matches and their paired RPS difference.

    ``rps_diff`` is mean(model RPS - market RPS); ``rps_diff_se`` its standard error
    (sample standard deviation of the paired differences over sqrt(n)).
    """
    out = metrics.contrast(model, market, metrics.encode_outcomes(outcomes), ("model", "market"))
    if out["rps_diff_se"] is None:
        out["rps_diff_se"] = float("nan")
    return out


@dataclass
class Benchmark:
    """Margin-free 1X2 of one price source for every match (NaN rows: no price)."""

    kind: str  # "pre" or "close"
    source: str  # e.g. "pinnacle_pre"; "" when no source has any price
    probs: np.ndarray
    missing: int  # matches without a price from ``source``
    # every candidate source's missing count, the chosen one's included: nothing is
    # switched silently
    missing_by_source: dict[str, int] = field(default_factory=dict)

    @property
    def priced(self) -> np.ndarray:
        return ~np.isnan(self.probs[:, 0])


def benchmark_market(frame: pd.DataFrame, kind: str = "pre", method: str = "power") -> Benchmark:
    """The market to beat on ``frame``'s matches: the first source of
    :data:`BENCHMARK_SOURCES` ``[kind]`` that prices every match, else the one that prices the
    most (Pinnacle on a tie).  Sources are never mixed: matches the chosen source does not
    price are left unscored and counted in ``missing``."""
    if kind not in BENCHMARK_SOURCES:
        raise InvalidInputError(f"unknown market {kind!r}; use 'pre' or 'close'")
    best: Benchmark | None = None
    counts: dict[str, int] = {}
    for source in BENCHMARK_SOURCES[kind]:
        probs, used = market_probabilities(frame, method=method, sources=(source,))
        missing = counts[source] = int((used == "").sum())
        if best is None or missing < best.missing:
            best = Benchmark(kind, source, probs, missing)
    assert best is not None
    best.missing_by_source = counts
    if best.missing == len(frame):
        best.source = ""
    return best


def versus(p: np.ndarray, market: np.ndarray, y: np.ndarray) -> dict[str, Any] | None:
    """A component's scores and paired RPS difference against ``market`` on the matches it
    forecast (``n``); None when it forecast fewer than two."""
    ok = np.isfinite(p).all(axis=1)
    if ok.sum() < 2:
        return None
    c = compare(p[ok], market[ok], y[ok])
    return c["model"] | {k: c[k] for k in ("n", "rps_diff", "rps_diff_se")}


def versus_ceiling(
    probs: np.ndarray, y: np.ndarray, priced: np.ndarray, ceiling: Benchmark
) -> dict[str, Any] | None:
    """``probs`` against the closing market ``ceiling`` (a :func:`benchmark_market`) on the
    matches it and ``priced`` both cover; None when fewer than two are."""
    both = priced & ceiling.priced
    if both.sum() < 2:
        return None
    c = compare(probs[both], ceiling.probs[both], y[both])
    return {
        "market_kind": "close",
        "market_source": ceiling.source,
        "matches_without_source": ceiling.missing_by_source,
        "n": c["n"],
        "market": c["market"],
        "rps_diff": c["rps_diff"],
        "rps_diff_se": c["rps_diff_se"],
    }


WALK_FORWARD_SETTINGS = (
    *("xi", "l2", "refit_days", "window_days", "start", "burn_in_days", "margin", "shots"),
    *("market_xi", "market_l2"),
)
"""The settings of :func:`core.forecast.engine_forecast` that a backtest passes on."""


def backtest_report(
    frame: pd.DataFrame,
    *,
    market: str = "pre",
    group_by: str | None = "country",
    with_odds: bool = False,
    progress: Callable[[float, str], object] | None = None,
    **settings: Any,
) -> BacktestReport:
    """The engine's walk-forward forecast (:func:`core.forecast.engine_forecast`, with
    ``settings``: any of :data:`WALK_FORWARD_SETTINGS`, its defaults otherwise) on
    ``frame`` (the football-data parser's columns), scored against one market source
    (``market``: pre-match by default, or closing) on every match that source prices, with
    each component alone and the closing market as the ceiling.  ``group_by``: a column
    whose groups (countries: each with its own home advantage, promoted and relegated
    clubs connected) are walked forward separately, when ``frame`` has it.
    ``with_odds``: also the forecast combined with each match's own prices from the scored
    source (:func:`with_odds_forecast`), scored against that same source.
    ``progress(fraction, message)`` is passed to the walk-forward."""
    if market not in BENCHMARK_SOURCES:
        raise InvalidInputError(f"unknown market {market!r}; use 'pre' or 'close'")
    unknown = sorted(set(settings) - set(WALK_FORWARD_SETTINGS))
    if unknown:
        raise TypeError(f"backtest_report() got unknown settings {', '.join(unknown)}")
    defaults = inspect.signature(engine_forecast).parameters
    cfg = {name: settings.get(name, defaults[name].default) for name in WALK_FORWARD_SETTINGS}
    margin = cfg["margin"]
    group_by = group_by if group_by is not None and group_by in frame else None
    fc = engine_forecast(frame, **cfg, group_by=group_by, progress=progress)
    fc = fc[fc["p_home"].notna()]
    if fc.empty:
        raise InvalidInputError("no match falls after the burn-in: nothing to evaluate")
    fc = fc.loc[pd.to_datetime(frame.loc[fc.index, "date"]).sort_values(kind="stable").index]
    rows = frame.loc[fc.index]
    bench = benchmark_market(rows, market, margin)
    if not bench.source:
        raise InvalidInputError(
            f"no evaluated match has {market}-match prices (Pinnacle or market average)"
            if market == "pre"
            else "no evaluated match has closing prices (Pinnacle or market average)"
        )
    ceiling = bench if market == "close" else benchmark_market(rows, "close", margin)
    priced = bench.priced
    y = metrics.encode_outcomes(rows["result"].to_numpy())
    model = fc[["p_home", "p_draw", "p_away"]].to_numpy()
    summary = compare(model[priced], bench.probs[priced], y[priced])
    summary["market_kind"] = market
    summary["market_source"] = bench.source
    summary["market_sources"] = {bench.source: int(priced.sum())}
    summary["matches_predicted"] = len(fc)
    summary["matches_without_market"] = bench.missing
    summary["matches_without_source"] = bench.missing_by_source
    summary["components"] = {
        name: versus(fc[[f"{prefix}_home", f"{prefix}_draw", f"{prefix}_away"]].to_numpy()[
            priced], bench.probs[priced], y[priced])
        for name, prefix in (("dixon_coles", "dc"), ("market_implied", "mc"))
    }  # fmt: skip
    top = versus_ceiling(model, y, priced, ceiling) if ceiling is not bench else None
    if top is not None:
        summary["ceiling"] = top
    combined = None
    if with_odds:
        combined, weights, names = with_odds_forecast(fc, bench, y, rows["date"].to_numpy())
        c = compare(combined[priced], bench.probs[priced], y[priced])
        summary["with_odds"] = {
            "n": c["n"],
            "rps_diff": c["rps_diff"],
            "rps_diff_se": c["rps_diff_se"],
            "market_source": bench.source,
            "model": c["model"],
            "weights_last": dict(zip(names, weights[priced][-1].tolist(), strict=True)),
            "betting": betting_report(rows, combined, y),
        }  # fmt: skip
    summary["betting"] = betting_report(rows, model, y)
    last = fc.iloc[-1]
    summary["pool_weights"] = {
        name: float(last[f"w_{name}"])
        for name in POOL_COMPONENTS
        if np.isfinite(last[f"w_{name}"])  # NaN: not in this pool
    }
    summary["period"] = {
        "from": rows["date"].min().date().isoformat(),
        "to": rows["date"].max().date().isoformat(),
    }
    summary["leagues"] = sorted(rows["league"].unique().tolist()) if "league" in rows else []
    # leagues none of whose matches is forecast (one season: all of it burn-in), said
    # rather than left out silently
    summary["leagues_without_forecast"] = (
        sorted(set(frame["league"].unique().tolist()) - set(summary["leagues"]))
        if "league" in frame
        else []
    )
    summary["settings"] = {
        "xi_per_day": cfg["xi"],
        "l2": cfg["l2"],
        "refit_days": cfg["refit_days"],
        "window_days": cfg["window_days"],
        "start": None if cfg["start"] is None else str(cfg["start"]),
        "burn_in_days": cfg["burn_in_days"],
        "margin": margin,
        "market": market,
        "shots": cfg["shots"],
        "market_xi": MARKET_XI if cfg["market_xi"] is None else cfg["market_xi"],
        "market_l2": MARKET_L2 if cfg["market_l2"] is None else cfg["market_l2"],
        "group_by": group_by,
    }
    predictions = pd.DataFrame(
        {
            "date": rows["date"].dt.date,
            "league": rows.get("league", ""),
            "home_team": rows["home_team"],
            "away_team": rows["away_team"],
            "result": rows["result"],
            "model_home": model[:, 0],
            "model_draw": model[:, 1],
            "model_away": model[:, 2],
            "dixon_coles_home": fc["dc_home"],
            "dixon_coles_draw": fc["dc_draw"],
            "dixon_coles_away": fc["dc_away"],
            "market_implied_home": fc["mc_home"],
            "market_implied_draw": fc["mc_draw"],
            "market_implied_away": fc["mc_away"],
            "ratings_home": fc["mi_home"],
            "ratings_draw": fc["mi_draw"],
            "ratings_away": fc["mi_away"],
            "kalman_home": fc["kf_home"],
            "kalman_draw": fc["kf_draw"],
            "kalman_away": fc["kf_away"],
            "market_home": bench.probs[:, 0],
            "market_draw": bench.probs[:, 1],
            "market_away": bench.probs[:, 2],
            "closing_home": ceiling.probs[:, 0],
            "closing_draw": ceiling.probs[:, 1],
            "closing_away": ceiling.probs[:, 2],
            "market_source": np.where(priced, bench.source, ""),
        }
    )
    if combined is not None:
        for i, outcome in enumerate(("home", "draw", "away")):
            predictions[f"with_odds_{outcome}"] = combined[:, i]
    return BacktestReport(summary, predictions)


# The forecast with a fixture's own prices: the price and the engine's components, fed to
# the pool separately (their contrast carries what the price lacks), weights walk-forward
# with a prior toward the price alone worth this many matches.
WITH_ODDS_PRIOR_MATCHES = 2_000.0


def with_odds_forecast(
    fc: pd.DataFrame, bench: Benchmark, y: np.ndarray, dates: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The log-linear pool of each match's own margin-free price (``bench``, the scored
    source), the market-implied component, Dixon-Coles, the last match's shots (where the
    matches have them) and a draw intercept (:func:`core.pool.draw_component`: what the price
    misses of the draw), with weights fitted on the matches played before each refit
    (:func:`core.pool.pool_walk_forward`, a prior toward the price alone).  Returns the
    forecasts, the weights used for each match and the components' names.  Rows without a
    price: NaN; rows without a model forecast: the price."""
    price = bench.probs
    mi = fc[["mc_home", "mc_draw", "mc_away"]].to_numpy()
    dc = fc[["dc_home", "dc_draw", "dc_away"]].to_numpy()
    given = {
        "price": price,
        "market_implied": np.where(np.isnan(mi), dc, mi),
        "dixon_coles": dc,
        "last_shots": fc[["ls_home", "ls_draw", "ls_away"]].to_numpy(),
        "draw_intercept": draw_component(len(fc)),
    }
    if not np.isfinite(given["last_shots"]).all():  # the matches have no shots on target
        del given["last_shots"]
    probs, weights = pool_walk_forward(
        list(given.values()),
        y,
        pd.to_datetime(dates).to_numpy(),
        fc["refit_date"].to_numpy(),
        default=(1.0,) + (0.0,) * (len(given) - 1),
        prior_matches=WITH_ODDS_PRIOR_MATCHES,
    )
    missing = np.isnan(probs[:, 0]) & ~np.isnan(price[:, 0])
    probs[missing] = price[missing]
    return probs, weights, list(given)


def format_weights(weights: Mapping[str, float]) -> str:
    """Pool weights by component, as a report line reads them: ``dixon-coles -0.035, ...``."""
    return ", ".join(f"{name.replace('_', '-')} {w:.3f}" for name, w in weights.items())


def format_ceiling(c: dict[str, Any], name: str) -> str:
    """A line of :func:`versus_ceiling`'s result: the closing market against ``name``."""
    return (
        f"ceiling, closing market ({c['market_source']}, {c['n']} matches): RPS "
        f"{c['market']['rps']:.5f}; {name} - closing {c['rps_diff']:+.5f} "
        f"(standard error {c['rps_diff_se']:.5f})"
    )


def format_report(s: dict[str, Any]) -> str:
    """A readable table of :func:`backtest_report`'s summary."""
    cfg = s["settings"]
    kind = "pre-match" if s["market_kind"] == "pre" else "closing"
    lines = [
        f"Walk-forward backtest: {s['n']} matches with {kind} prices from "
        f"{s['market_source']} ({', '.join(s['leagues'])}; {s['period']['from']} to "
        f"{s['period']['to']})",
        f"refit every {cfg['refit_days']} days, decay xi = {cfg['xi_per_day']} per day, "
        f"prior l2 = {cfg['l2']} (market-implied ratings: {cfg['market_xi']}, "
        f"{cfg['market_l2']}), margin removal: {cfg['margin']}",
        "",
        f"{'':<16}{'RPS':>9}{'log loss':>10}{'Brier':>9}{'accuracy':>10}{'draw acc':>10}"
        f"{'RPS - market (SE)':>22}",
    ]
    rows = [("engine (pool)", s["model"], s["rps_diff"], s["rps_diff_se"])]
    rows += [
        (name.replace("_", "-"), c, c["rps_diff"], c["rps_diff_se"])
        for name, c in s["components"].items()
        if c is not None
    ]
    rows.append((f"market {s['market_kind']}", s["market"], None, None))
    for name, m, diff, se in rows:
        draw = "-" if m["draw_accuracy"] is None else f"{m['draw_accuracy']:.4f}"
        gap = "" if diff is None else f"{diff:+.5f} ({se:.5f})"
        lines.append(
            f"{name:<16}{m['rps']:>9.5f}{m['log_loss']:>10.5f}{m['brier']:>9.5f}"
            f"{m['accuracy']:>10.4f}{draw:>10}{gap:>22}".rstrip()
        )
    weights = s["pool_weights"]
    lines += [
        "",
        f"RPS engine - {kind} market: {s['rps_diff']:+.5f} (standard error {s['rps_diff_se']:.5f})",
    ]
    if "ceiling" in s:
        lines.append(format_ceiling(s["ceiling"], "engine"))
    lines.append("pool weights at the last refit: " + format_weights(weights))
    if s.get("betting"):
        lines += format_betting(s["betting"], "engine")
    if s.get("with_odds"):
        w = s["with_odds"]
        lines.append(
            f"with each match's own prices ({w['market_source']}, {w['n']} matches): RPS "
            f"{w['model']['rps']:.5f}; minus that price {w['rps_diff']:+.5f} (standard error "
            f"{w['rps_diff_se']:.5f}); weights at the last refit: "
            + format_weights(w["weights_last"])
        )
        lines += format_betting(w["betting"], "with odds")
    if s.get("leagues_without_forecast"):
        lines.append(
            "leagues with no match after the burn-in (not forecast): "
            + ", ".join(s["leagues_without_forecast"])
        )
    if s["matches_without_market"]:
        lines.append(
            f"matches without {s['market_source']} prices (not scored): "
            f"{s['matches_without_market']}"
        )
    lacking = s.get("matches_without_source", {}) | s.get("ceiling", {}).get(
        "matches_without_source", {}
    )
    lines.append(
        "matches each price source lacks (one source per run, never mixed): "
        + ", ".join(f"{k} {v}" for k, v in lacking.items())
    )
    return "\n".join(lines)
