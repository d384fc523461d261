"""Betting evaluation: would the bets a forecast's edges select have made money?

For every match the outcome with the largest edge ``p * odds - 1`` at a price source is bet
when that edge exceeds ``min_edge``.  Per price source (each on its own matches: sources are
never mixed), overall and per league:

- flat-stake ROI: mean profit per unit staked (``odds - 1`` on a win, ``-1`` otherwise);
- fractional-Kelly growth: each bet stakes ``kelly * edge / (odds - 1)`` of the bankroll
  (capped at ``max_stake``); the mean log growth per bet, and its sum (the log of the final
  bankroll when the bets are placed one after another);
- closing-line value: the mean of ``log(bet price / closing price)`` of the same outcome at
  the closing source (Pinnacle's closing prices: the sharpest); positive means the bets beat
  the closing line;
- 95 % bootstrap confidence intervals (bets resampled with replacement) for all three.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core import metrics
from core.lazy import pandas as pd
from core.sources import BET_CLOSING_SOURCE, BET_SOURCES

__all__ = ["betting_report", "format_betting"]

_OUTCOMES = ("h", "d", "a")


def _odds(frame: pd.DataFrame, source: str) -> np.ndarray:
    cols = [f"{source}_{o}" for o in _OUTCOMES]
    if not all(c in frame.columns for c in cols):
        return np.full((len(frame), 3), np.nan)
    o = np.array(frame[cols].to_numpy(dtype=float, na_value=np.nan))
    valid = np.isfinite(o).all(axis=1) & (o > 1.0).all(axis=1)
    o[~valid] = np.nan
    return o


def _stats(
    profit: np.ndarray, growth: np.ndarray, clv: np.ndarray, rng: np.random.Generator, n_boot: int
) -> dict[str, Any]:
    n = profit.size
    out: dict[str, Any] = {"bets": int(n)}
    if n == 0:
        return out | {"roi": None, "kelly_growth_per_bet": None, "clv": None}
    has_clv = np.isfinite(clv)
    out.update(
        roi=float(profit.mean()),
        kelly_growth_per_bet=float(growth.mean()),
        kelly_log_growth_total=float(growth.sum()),
        clv=float(clv[has_clv].mean()) if has_clv.any() else None,
        clv_bets=int(has_clv.sum()),
    )
    if n >= 2:
        boot = np.empty((n_boot, 3))
        clv0 = np.where(has_clv, clv, 0.0)
        for b in range(n_boot):
            i = rng.integers(0, n, n)
            k = has_clv[i].sum()
            boot[b] = profit[i].mean(), growth[i].mean(), clv0[i].sum() / k if k else np.nan
        lo, hi = np.percentile(boot[:, :2], [2.5, 97.5], axis=0)
        out["roi_ci"] = [float(lo[0]), float(hi[0])]
        out["kelly_growth_ci"] = [float(lo[1]), float(hi[1])]
        out["clv_ci"] = None
        if has_clv.any():  # no bet with a closing price: every resample's CLV is NaN
            c_lo, c_hi = np.nanpercentile(boot[:, 2], [2.5, 97.5])
            out["clv_ci"] = [float(c_lo), float(c_hi)]
    return out


def betting_report(
    frame: pd.DataFrame,
    probs: np.ndarray,
    outcomes: Any,
    *,
    min_edge: float = 0.02,
    kelly: float = 0.25,
    max_stake: float = 0.05,
    n_boot: int = 1000,
    seed: int = 0,
    sources: tuple[str, ...] = BET_SOURCES,
) -> dict[str, Any]:
    """Bets selected by ``probs`` ((n, 3) forecasts of ``frame``'s matches, which carry the
    parser's canonical odds columns and optionally ``league``) at each of ``sources``;
    rows of ``probs`` with NaN are never bet."""
    probs = np.asarray(probs, dtype=float)
    y = metrics.encode_outcomes(outcomes)
    rows = np.arange(len(frame))
    closing = _odds(frame, BET_CLOSING_SOURCE)
    league = frame["league"].to_numpy() if "league" in frame else np.full(len(frame), "")
    rng = np.random.default_rng(seed)
    report: dict[str, Any] = {
        "min_edge": min_edge,
        "kelly_fraction": kelly,
        "max_stake": max_stake,
        "closing_source": BET_CLOSING_SOURCE,
        "sources": {},
    }
    for source in sources:
        odds = _odds(frame, source)
        priced = np.isfinite(odds[:, 0]) & np.isfinite(probs).all(axis=1)
        if not priced.any():
            continue
        edge = np.where(priced[:, None], probs * np.nan_to_num(odds, nan=1.0) - 1.0, -np.inf)
        pick = edge.argmax(axis=1)
        best = edge[rows, pick]
        bet = priced & (best > min_edge)
        price = odds[rows, pick]
        won = pick == y
        profit = np.where(won, price - 1.0, -1.0)
        stake = np.clip(kelly * best / (price - 1.0), 0.0, max_stake)
        growth = np.where(won, np.log1p(stake * (price - 1.0)), np.log1p(-stake))
        clv = np.log(price / closing[rows, pick])
        block: dict[str, Any] = {
            "matches_priced": int(priced.sum()),
            "matches_without_prices": int(len(frame) - priced.sum()),
            "overall": _stats(profit[bet], growth[bet], clv[bet], rng, n_boot),
            "leagues": {},
        }
        for lg in sorted(set(league[bet].tolist())):
            sel = bet & (league == lg)
            block["leagues"][str(lg)] = _stats(profit[sel], growth[sel], clv[sel], rng, n_boot)
        report["sources"][source] = block
    return report


def format_betting(report: dict[str, Any], label: str = "engine") -> list[str]:
    """One line per price source: bets, ROI, Kelly growth and CLV with their intervals."""
    lines = []
    for source, block in report["sources"].items():
        s = block["overall"]
        if not s["bets"]:
            lines.append(f"betting ({label}) at {source}: no edge above {report['min_edge']:.0%}")
            continue

        def ci(key: str, s: dict[str, Any] = s) -> str:
            v = s.get(key)
            return "" if not v else f" [{v[0]:+.4f}, {v[1]:+.4f}]"

        clv = "-" if s["clv"] is None else f"{s['clv']:+.4f}{ci('clv_ci')}"
        lines.append(
            f"betting ({label}) at {source}: {s['bets']} bets (edge > {report['min_edge']:.0%})"
            f", ROI {s['roi']:+.4f}{ci('roi_ci')}, {report['kelly_fraction']:g}-Kelly log growth "
            f"per bet {s['kelly_growth_per_bet']:+.5f}{ci('kelly_growth_ci')}, CLV {clv}"
        )
    return lines
