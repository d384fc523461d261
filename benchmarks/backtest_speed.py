"""Walk-forward backtest speed: E0 2015/16 to 2024/25, weekly refits.

    python benchmarks/backtest_speed.py [--cap SECONDS] [--baseline DIR] [--json]

Ours: :func:`core.backtest.walk_forward` (warm-started Newton refits), the Dixon-Coles
walk-forward alone, and :func:`core.forecast.engine_forecast`, the engine's own forecast
(Dixon-Coles, the market-implied ratings and their walk-forward pool).  Target: the engine
within 1.5x of the Dixon-Coles walk-forward *before* the market-implied ratings existed.
``--baseline DIR`` times that walk-forward in a checkout of the commit before them
(``benchmarks._common.BASELINE_HOWTO``), in the same run, on the same machine.  Peer: the same
schedule (refit every 7 days on all earlier matches, decay per day, predict the block)
with penaltyblog 1.13.1's DixonColesGoalModel fitted from scratch each week, as a user of
penaltyblog would write it.  The peer runs in a child process, capped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    BASELINE_COMMIT,
    baseline_time,
    fmt_seconds,
    load_football_data,
    median_time,
    run_capped,
)
from core import metrics
from core.backtest import DEFAULT_XI, walk_forward
from core.forecast import engine_forecast


def peer_walk_forward(frame, xi: float) -> tuple[float, int, float]:
    """penaltyblog refits on the same blocks; returns (seconds, blocks, RPS)."""
    import penaltyblog as pb

    start = time.perf_counter()
    day = frame["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    first = day[0] + 365
    probs, outcomes = [], []
    t = first
    blocks = 0
    while t <= day[-1]:
        train = day < t
        block = (day >= t) & (day < t + 7)
        t += 7
        if not block.any():
            continue
        tr = frame[train]
        teams = set(tr.home_team) | set(tr.away_team)
        weights = pb.models.dixon_coles_weights(tr["date"], xi, base_date=tr["date"].max())
        model = pb.models.DixonColesGoalModel(
            tr["home_goals"], tr["away_goals"], tr["home_team"], tr["away_team"], weights
        )
        model.fit()
        blocks += 1
        for _, row in frame[block].iterrows():
            if row.home_team in teams and row.away_team in teams:
                g = model.predict(row.home_team, row.away_team, max_goals=10)
                probs.append(g.home_draw_away)
                outcomes.append("HDA".index(row.result))
    rps = metrics.rps(np.array(probs), np.array(outcomes))
    return time.perf_counter() - start, blocks, rps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cap", type=float, default=300.0, help="seconds for the peer")
    parser.add_argument(
        "--baseline", default=None, help=f"checkout of {BASELINE_COMMIT} (see module doc)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    frame = load_football_data("*/E0.csv").reset_index(drop=True)
    ours = median_time(lambda: walk_forward(frame), 5)
    engine = median_time(lambda: engine_forecast(frame), 5)
    forecast = engine_forecast(frame)
    done = forecast["p_home"].notna()
    engine_rps = metrics.rps(
        forecast.loc[done, ["p_home", "p_draw", "p_away"]].to_numpy(),
        frame.loc[done, "result"].to_numpy(),
    )
    result = walk_forward(frame)
    n_blocks = result["refit_date"].nunique()
    rps = metrics.rps(
        result[["p_home", "p_draw", "p_away"]].to_numpy(),
        frame.loc[result.index, "result"].to_numpy(),
    )
    before = None
    if args.baseline:
        before = baseline_time(
            args.baseline,
            """
            from benchmarks._common import load_football_data, median_time
            from core.backtest import walk_forward
            frame = load_football_data("*/E0.csv").reset_index(drop=True)
            seconds = median_time(lambda: walk_forward(frame), 5)
            """,
        )
    status, value = run_capped(peer_walk_forward, (frame, DEFAULT_XI), args.cap)
    peer_s, _, peer_rps = value if status == "ok" else (None, None, None)
    out = {
        "matches": len(frame),
        "predicted": len(result),
        "refits": int(n_blocks),
        "ours_s": ours,
        "ours_rps": rps,
        "engine_s": engine,
        "engine_rps": engine_rps,
        "engine_over_dixon_coles": engine / ours,
        "baseline_commit": BASELINE_COMMIT if before else None,
        "baseline_dixon_coles_s": before,
        "engine_over_baseline": engine / before if before else None,
        "penaltyblog_s": peer_s,
        "penaltyblog_status": status,
        "penaltyblog_rps": peer_rps,
        "ratio": peer_s / ours if peer_s else None,
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    peer = fmt_seconds(peer_s) if peer_s else f"> {args.cap:.0f} s ({status})"
    ratio = f"{out['ratio']:.0f}x" if out["ratio"] else f"> {args.cap / ours:.0f}x"
    print(
        f"Walk-forward, E0 1516-2425: {len(frame)} matches, {n_blocks} weekly refits, "
        f"{len(result)} predicted"
    )
    print(f"ours {fmt_seconds(ours)} (median of 5)   penaltyblog {peer}   ratio {ratio}")
    print(
        f"engine forecast (Dixon-Coles + market-implied + pool) {fmt_seconds(engine)}: "
        f"{engine / ours:.2f}x the Dixon-Coles walk-forward; RPS {engine_rps:.5f}"
    )
    if before:
        print(
            f"Dixon-Coles walk-forward at {BASELINE_COMMIT} (before the market-implied "
            f"ratings) {fmt_seconds(before)}: the engine takes {engine / before:.2f}x that "
            "(goal: <= 1.5x)"
        )
    if peer_rps is not None:
        print(
            f"out-of-sample RPS: ours {rps:.5f}, penaltyblog {peer_rps:.5f} "
            "(penaltyblog skips matches of teams it has not seen)"
        )


if __name__ == "__main__":
    main()
