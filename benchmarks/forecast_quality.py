"""Where the engine stands against the pre-match market: the walk-forward backtest on all
shared football-data files, broken down.

Prints the engine-minus-market RPS (paired, with its standard error) of the engine, of each
component and, with ``--with-odds``, of the forecast combined with each match's own prices:
overall, from 2019/20 on, per league and per season phase (weeks since the league's season
began); the mean draw probability against the observed draw frequency and the market's,
overall and by season; and the draw's calibration in bins of the forecast draw probability.

    python benchmarks/forecast_quality.py [--json] [--with-odds] [--market pre|close]
    python benchmarks/forecast_quality.py --from-csv predictions.csv   # an earlier run's CSV
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import load_football_data
from core import metrics
from core.betting import format_betting

SINCE = pd.Timestamp("2019-07-01")  # seasons after the ones the settings were chosen on
PHASES = ((0, 2), (3, 5), (6, 11), (12, 99))
FORECASTS = {
    "engine": "model",
    "market-implied": "market_implied",
    "dixon-coles": "dixon_coles",
    "with odds": "with_odds",
}


def _season_week(frame: pd.DataFrame) -> np.ndarray:
    """Weeks since the league's season began (a season starts after a 30-day break)."""
    week = np.zeros(len(frame), dtype=int)
    dates = pd.to_datetime(frame["date"])
    for _, rows in frame.groupby("league").groups.items():
        d = dates.loc[rows].sort_values(kind="stable")
        new = d.diff().dt.days.fillna(999).to_numpy() > 30
        start = d.where(new).ffill()
        week[frame.index.get_indexer(d.index)] = ((d - start).dt.days // 7).to_numpy()
    return week


def _diff(frame: pd.DataFrame, name: str, y: np.ndarray) -> dict[str, Any] | None:
    cols = [f"{name}_home", f"{name}_draw", f"{name}_away"]
    if not set(cols) <= set(frame.columns):
        return None
    p = frame[cols].to_numpy(dtype=float)
    m = frame[["market_home", "market_draw", "market_away"]].to_numpy(dtype=float)
    ok = np.isfinite(p).all(axis=1) & np.isfinite(m).all(axis=1)
    if ok.sum() < 2:
        return None
    d = metrics.rps_per_match(p[ok], y[ok]) - metrics.rps_per_match(m[ok], y[ok])
    return {
        "n": int(ok.sum()),
        "diff": float(d.mean()),
        "se": float(d.std(ddof=1) / np.sqrt(d.size)),
    }


def _block(frame: pd.DataFrame) -> dict[str, Any]:
    y = metrics.encode_outcomes(frame["result"].to_numpy())
    out: dict[str, Any] = {"n": len(frame)}
    for label, name in FORECASTS.items():
        r = _diff(frame, name, y)
        if r is not None:
            out[label] = r
    out["draw"] = {
        "engine": float(frame["model_draw"].mean()),
        "market": float(frame["market_draw"].mean()),
        "observed": float((frame["result"] == "D").mean()),
    }
    return out


def _calibration(frame: pd.DataFrame, column: str, bins: int = 8) -> list[dict[str, Any]]:
    p = frame[column].to_numpy(dtype=float)
    drew = (frame["result"] == "D").to_numpy()
    edges = np.quantile(p, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    out = []
    for b in range(bins):
        sel = which == b
        n = int(sel.sum())
        obs = float(drew[sel].mean())
        out.append({"from": float(edges[b]), "to": float(edges[b + 1]), "n": n,
                    "forecast": float(p[sel].mean()), "observed": obs,
                    "se": float(np.sqrt(obs * (1 - obs) / max(n, 1)))})  # fmt: skip
    return out


def analyse(pred: pd.DataFrame) -> dict[str, Any]:
    pred = pred[pred["market_home"].notna()].reset_index(drop=True)
    pred["date"] = pd.to_datetime(pred["date"])
    pred["week"] = _season_week(pred)
    season = pred["date"].dt.year - (pred["date"].dt.month < 7)
    out: dict[str, Any] = {
        "all": _block(pred),
        "since_2019_20": _block(pred[pred["date"] >= SINCE]),
        "leagues": {lg: _block(g) for lg, g in pred.groupby("league")},
        "phases": {
            f"weeks {a}-{b}" if b < 99 else f"weeks {a}+": _block(
                pred[(pred["week"] >= a) & (pred["week"] <= b)]
            )
            for a, b in PHASES
        },
        "seasons": {f"{s}/{(s + 1) % 100:02d}": _block(g) for s, g in pred.groupby(season)},
        "draw_calibration": _calibration(pred, "model_draw"),
    }
    return out


def _line(label: str, block: dict[str, Any]) -> str:
    parts = [f"{label:<14}{block['n']:>7}"]
    for name in FORECASTS:
        r = block.get(name)
        parts.append(f"{'-':>20}" if r is None else f"{r['diff']:>+10.5f} ({r['se']:.5f})")
    d = block["draw"]
    parts.append(f"  {d['engine']:.3f} {d['market']:.3f} {d['observed']:.3f}")
    return "".join(parts)


def render(r: dict[str, Any]) -> str:
    head = f"{'':<14}{'n':>7}" + "".join(f"{n:>20}" for n in FORECASTS) + "  draw: eng mkt obs"
    lines = ["RPS minus the pre-match market (SE); mean draw of engine, market, observed", head]
    lines += [_line("all", r["all"]), _line("2019/20+", r["since_2019_20"]), ""]
    lines += [_line(k, v) for k, v in r["leagues"].items()] + [""]
    lines += [_line(k, v) for k, v in r["phases"].items()] + [""]
    lines += [_line(k, v) for k, v in r["seasons"].items()] + ["", "draw calibration (engine):"]
    for b in r["draw_calibration"]:
        lines.append(
            f"  {b['from']:.3f}-{b['to']:.3f} n {b['n']:>5}  forecast {b['forecast']:.4f}  "
            f"observed {b['observed']:.4f} ({b['se']:.4f})"
        )
    if "summary" in r:
        s = r["summary"]
        lines.append("")
        lines.append(f"backtest market source: {s['market_source']}, "
                     f"matches without it: {s['matches_without_market']}")  # fmt: skip
        lines.append(f"matches each source lacks: {s['matches_without_source']}")
        lines += format_betting(s["betting"], "engine")
        if s.get("with_odds"):
            w = s["with_odds"]
            lines.append(
                f"with each match's own prices ({w['market_source']}): {w['rps_diff']:+.5f} "
                f"({w['rps_diff_se']:.5f}) on {w['n']} matches"
            )
            lines += format_betting(w["betting"], "with odds")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--market", default="pre", choices=("pre", "close"))
    parser.add_argument("--with-odds", action="store_true")
    parser.add_argument("--from-csv", help="analyse an earlier backtest's --predictions CSV")
    parser.add_argument("--predictions", help="also write the predictions to this CSV")
    args = parser.parse_args()
    summary = None
    if args.from_csv:
        pred = pd.read_csv(args.from_csv)
    else:
        from core.evaluation import backtest_report

        kw = {"with_odds": True} if args.with_odds else {}
        report = backtest_report(load_football_data(), market=args.market, **kw)
        pred, summary = report.predictions, report.summary
        if args.predictions:
            pred.to_csv(args.predictions, index=False)
    result = analyse(pred)
    if summary is not None:
        keys = ("market_source", "matches_without_market", "matches_without_source",
                "with_odds", "betting")  # fmt: skip
        result["summary"] = {k: summary.get(k) for k in keys}
    print(json.dumps(result, indent=2) if args.json else render(result))


if __name__ == "__main__":
    main()
