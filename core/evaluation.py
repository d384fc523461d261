"""Model versus market on the same matches: the yardstick of every model here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core import metrics
from core.backtest import DEFAULT_L2, DEFAULT_XI, walk_forward
from core.errors import InvalidInputError
from core.odds import market_probabilities

__all__ = ["BacktestReport", "backtest_report", "compare", "format_report"]


@dataclass
class BacktestReport:
    summary: dict[str, Any]
    predictions: pd.DataFrame  # one row per evaluated match


def compare(model: np.ndarray, market: np.ndarray, outcomes: Any) -> dict[str, Any]:
    """Scores of two forecasts of the same matches and their paired RPS difference.

    ``rps_diff`` is mean(model RPS - market RPS); ``rps_diff_se`` its standard error
    (sample standard deviation of the paired differences over sqrt(n)).
    """
    y = metrics.encode_outcomes(outcomes)
    diff = metrics.rps_per_match(model, y) - metrics.rps_per_match(market, y)
    se = float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else float("nan")
    return {
        "n": int(y.size),
        "model": _scores(model, y),
        "market": _scores(market, y),
        "rps_diff": float(diff.mean()),
        "rps_diff_se": se,
    }


def _scores(p: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    s = metrics.summary(p, y)
    s.pop("n")
    return s


def backtest_report(
    frame: pd.DataFrame,
    *,
    xi: float = DEFAULT_XI,
    l2: float = DEFAULT_L2,
    refit_days: int = 7,
    window_days: int | None = None,
    start: Any = None,
    burn_in_days: int = 365,
    margin: str = "power",
    progress: Callable[[int, int], object] | None = None,
) -> BacktestReport:
    """Walk-forward Dixon-Coles on ``frame`` (the football-data parser's columns), scored
    against the margin-free market on every match that has prices.  ``progress(done,
    total)`` is passed to :func:`~core.backtest.walk_forward`."""
    bt = walk_forward(
        frame,
        xi=xi,
        l2=l2,
        refit_days=refit_days,
        window_days=window_days,
        start=start,
        burn_in_days=burn_in_days,
        progress=progress,
    )
    rows = frame.loc[bt.index]
    market, source = market_probabilities(rows, method=margin)
    priced = source != ""
    if not priced.any():
        raise InvalidInputError("no evaluated match has market odds to compare with")
    model = bt[["p_home", "p_draw", "p_away"]].to_numpy()
    summary = compare(model[priced], market[priced], rows["result"].to_numpy()[priced])
    summary["matches_predicted"] = len(bt)
    summary["matches_without_market"] = int((~priced).sum())
    summary["market_sources"] = dict(Counter(source[priced]).most_common())
    summary["period"] = {
        "from": rows["date"].min().date().isoformat(),
        "to": rows["date"].max().date().isoformat(),
    }
    summary["leagues"] = sorted(rows["league"].unique().tolist()) if "league" in rows else []
    summary["settings"] = {
        "xi_per_day": xi,
        "l2": l2,
        "refit_days": refit_days,
        "window_days": window_days,
        "start": None if start is None else str(start),
        "burn_in_days": burn_in_days,
        "margin": margin,
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
            "market_home": market[:, 0],
            "market_draw": market[:, 1],
            "market_away": market[:, 2],
            "market_source": source,
        }
    )
    return BacktestReport(summary, predictions)


def format_report(s: dict[str, Any]) -> str:
    """A readable table of :func:`backtest_report`'s summary."""
    cfg = s["settings"]
    lines = [
        f"Walk-forward backtest: {s['n']} matches with market prices "
        f"({', '.join(s['leagues'])}; {s['period']['from']} to {s['period']['to']})",
        f"refit every {cfg['refit_days']} days, decay xi = {cfg['xi_per_day']} per day, "
        f"prior l2 = {cfg['l2']}, margin removal: {cfg['margin']}",
        "",
        f"{'':<8}{'RPS':>9}{'log loss':>10}{'Brier':>9}{'accuracy':>10}{'draw acc':>10}",
    ]
    for name in ("model", "market"):
        m = s[name]
        draw = "-" if m["draw_accuracy"] is None else f"{m['draw_accuracy']:.4f}"
        lines.append(
            f"{name:<8}{m['rps']:>9.5f}{m['log_loss']:>10.5f}{m['brier']:>9.5f}"
            f"{m['accuracy']:>10.4f}{draw:>10}"
        )
    lines += [
        "",
        f"RPS model - market: {s['rps_diff']:+.5f} (standard error {s['rps_diff_se']:.5f})",
        "market source: " + ", ".join(f"{k} {v}" for k, v in s["market_sources"].items()),
    ]
    if s["matches_without_market"]:
        lines.append(f"matches without any odds (not scored): {s['matches_without_market']}")
    return "\n".join(lines)
