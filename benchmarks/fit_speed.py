"""Dixon-Coles fit speed: this project's compiled core against penaltyblog, side by side.

    python benchmarks/fit_speed.py [--cap SECONDS] [--only NAME] [--baseline DIR] [--json]
    python benchmarks/fit_speed.py --alternate ROUNDS [--only NAME]

Both fit the Dixon-Coles model with time decay xi = 0.00186 per day (weights computed from
the dates inside the timed call).  penaltyblog (``pip install penaltyblog==1.13.1``) runs
with its defaults in a child process and is reported as "> cap" when it does not finish in
time or fails.  Also times a one-season fit from plain arrays (no DataFrame: the fixed
per-fit overhead without pandas) and every market for 380 fixtures.  ``--baseline DIR``
also times the one-season fit in a checkout of the commit before the per-fit overhead was
cut (``benchmarks._common.BASELINE_HOWTO``), in the same run: the goal was 0.49 ms -> 0.3 ms
there, that is at most 0.61x the baseline on any machine.

``--alternate ROUNDS`` times both in this one process instead, one fit of ours then one of
penaltyblog's, ROUNDS times, so that both see the same load and the same warm caches; it
reports the medians and their ratio for each data set (default: season1 and multi19k_dc).
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
    load_synthetic,
    median_time,
    run_capped,
)
from core import DixonColes

XI = 0.00186


def ours(frame):
    model = DixonColes(xi=XI).fit(frame)
    return model


def ours_arrays(arrays):
    return DixonColes(xi=XI).fit(**arrays)


def penaltyblog_model(frame):
    """penaltyblog's Dixon-Coles fitted to ``frame`` with its own decay weights."""
    import penaltyblog as pb

    weights = pb.models.dixon_coles_weights(frame["date"], XI)
    model = pb.models.DixonColesGoalModel(
        frame["home_goals"],
        frame["away_goals"],
        frame["home_team"],
        frame["away_team"],
        weights,
    )
    model.fit()
    return model


def penaltyblog_fit(frame, repeats: int):
    times, model = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        model = penaltyblog_model(frame)
        times.append(time.perf_counter() - start)
    return float(np.median(times)), float(model.loglikelihood)


def alternating(frame, rounds: int) -> tuple[float, float, float, float]:
    """(ours, penaltyblog) median seconds and log-likelihoods, the two fits taking turns."""

    mine, theirs = [], []
    ours(frame), penaltyblog_model(frame)  # warm-up: imports, caches, compiled code
    for _ in range(rounds):
        start = time.perf_counter()
        model = ours(frame)
        mine.append(time.perf_counter() - start)
        start = time.perf_counter()
        other = penaltyblog_model(frame)
        theirs.append(time.perf_counter() - start)
    return (
        float(np.median(mine)),
        float(np.median(theirs)),
        float(model.loglik_),
        float(other.loglikelihood),
    )


def main_alternate(rounds: int, only: str | None) -> None:
    names = [n for n in ("season1", "multi19k_dc") if only is None or n.startswith(only)]
    print(f"Dixon-Coles fit with decay xi={XI}/day, the two alternating in one process")
    print(
        f"{'dataset':<14}{'rounds':>7}{'ours':>11}{'penaltyblog':>14}{'ratio':>8}"
        f"{'loglik ours - pb':>18}"
    )
    for name in names:
        frame = load_synthetic(name)
        mine, theirs, ll_mine, ll_theirs = alternating(frame, rounds)
        print(
            f"{name:<14}{rounds:>7}{fmt_seconds(mine):>11}{fmt_seconds(theirs):>14}"
            f"{theirs / mine:>7.0f}x{ll_mine - ll_theirs:>+18.2e}"
        )


def markets(model, home, away) -> None:
    p = model.predict(home, away)
    p.outcomes, p.totals(2.5), p.btts, p.asian_handicap(-0.5), p.expected_goals


def penaltyblog_markets(frame, home, away, repeats: int):
    import penaltyblog as pb

    model = pb.models.DixonColesGoalModel(
        frame["home_goals"], frame["away_goals"], frame["home_team"], frame["away_team"]
    )
    model.fit()

    def run():
        grids = model.predict_many(home, away, max_goals=10)  # its default grid
        for g in grids:
            g.home_draw_away, g.total_goals("over", 2.5), g.btts_yes
            g.asian_handicap("home", -0.5)

    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cap", type=float, default=120.0, help="seconds per peer run")
    parser.add_argument("--only", default=None, help="datasets whose name starts with this")
    parser.add_argument(
        "--baseline", default=None, help=f"checkout of {BASELINE_COMMIT} (see module doc)"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--alternate", type=int, default=0, metavar="ROUNDS", help="in-process, taking turns"
    )
    args = parser.parse_args()
    if args.alternate:
        main_alternate(args.alternate, args.only)
        return

    datasets = [
        ("season1 (380)", load_synthetic("season1"), 200, 5),
        ("pooled real (26.5k)", load_football_data(), 10, 3),
        ("multi19k", load_synthetic("multi19k"), 20, 3),
        ("multi19k_dc", load_synthetic("multi19k_dc"), 20, 3),  # rho on its region's edge
        ("big100k", load_synthetic("big100k"), 5, 1),
    ]
    if args.only:
        datasets = [d for d in datasets if d[0].startswith(args.only)]
    rows = []
    for name, frame, repeats, peer_repeats in datasets:
        model = ours(frame)
        t_ours = median_time(lambda f=frame: ours(f), repeats)
        status, value = run_capped(penaltyblog_fit, (frame, peer_repeats), args.cap)
        t_peer, ll_peer = value if status == "ok" else (None, None)
        rows.append(
            {
                "dataset": name,
                "matches": len(frame),
                "teams": len(model.teams_),
                "ours_s": t_ours,
                "ours_iterations": model.n_iter_,
                "ours_loglik": model.loglik_,
                "penaltyblog_s": t_peer,
                "penaltyblog_status": status if status != "ok" else "ok",
                "penaltyblog_loglik": ll_peer,
                "ratio": (t_peer / t_ours) if t_peer else None,
                "peer_detail": value if status == "error" else None,
            }
        )
        print(f"... {name}: done", file=sys.stderr)

    season = load_synthetic("season1")
    arrays = {c: season[c].to_numpy() for c in ("home_team", "away_team", "home_goals")}
    arrays.update(away_goals=season["away_goals"].to_numpy(), date=season["date"].to_numpy())
    t_arrays = median_time(lambda: ours_arrays(arrays), 500)
    t_season = median_time(lambda: ours(season), 500)
    before = None
    if args.baseline:
        before = baseline_time(
            args.baseline,
            f"""
            from benchmarks._common import load_synthetic, median_time
            from core import DixonColes
            season = load_synthetic("season1")
            seconds = median_time(lambda: DixonColes(xi={XI}).fit(season), 500)
            """,
        )
    model = ours(season)
    home, away = season["home_team"].to_numpy(), season["away_team"].to_numpy()
    t_markets = median_time(lambda: markets(model, home, away), 200)
    status, value = run_capped(penaltyblog_markets, (season, home, away, 5), args.cap)
    t_peer_markets = value if status == "ok" else None

    if args.json:
        print(
            json.dumps(
                {
                    "fits": rows,
                    "season1_from_arrays_s": t_arrays,
                    "season1_s": t_season,
                    "baseline_commit": BASELINE_COMMIT if before else None,
                    "baseline_season1_s": before,
                    "markets_380": {"ours_s": t_markets, "penaltyblog_s": t_peer_markets},
                },
                indent=2,
            )
        )
        return
    print(f"Dixon-Coles fit with decay xi={XI}/day, median wall time (cap {args.cap:.0f} s)")
    print(
        f"{'dataset':<22}{'matches':>8}{'teams':>6}{'ours':>11}{'iters':>6}"
        f"{'penaltyblog':>14}{'ratio':>9}{'loglik ours - pb':>18}"
    )
    for r in rows:
        peer = (
            fmt_seconds(r["penaltyblog_s"])
            if r["penaltyblog_s"]
            else (f"> {args.cap:.0f} s" if r["penaltyblog_status"] == "timeout" else "failed")
        )
        ratio = (
            f"{r['ratio']:.0f}x"
            if r["ratio"]
            else (
                f"> {args.cap / r['ours_s']:.0f}x" if r["penaltyblog_status"] == "timeout" else "-"
            )
        )
        dll = (
            f"{r['ours_loglik'] - r['penaltyblog_loglik']:+.2e}"
            if r["penaltyblog_loglik"] is not None
            else "-"
        )
        print(
            f"{r['dataset']:<22}{r['matches']:>8}{r['teams']:>6}{fmt_seconds(r['ours_s']):>11}"
            f"{r['ours_iterations']:>6}{peer:>14}{ratio:>9}{dll:>18}"
        )
        if r["peer_detail"]:
            print(f"    penaltyblog: {r['peer_detail'][:120]}")
    print(f"\nOne-season fit from plain arrays (no DataFrame): {fmt_seconds(t_arrays)}")
    if before:
        print(
            f"One-season fit {fmt_seconds(t_season)} against {fmt_seconds(before)} at "
            f"{BASELINE_COMMIT}: {t_season / before:.2f}x (goal: <= 0.61x, 0.49 -> 0.3 ms)"
        )
    ratio = f"{t_peer_markets / t_markets:.0f}x" if t_peer_markets else "-"
    print(
        f"\nAll markets (1X2, over/under 2.5, BTTS, AH -0.5, xG) for 380 fixtures: "
        f"ours {fmt_seconds(t_markets)}, penaltyblog {fmt_seconds(t_peer_markets)} ({ratio})"
    )


if __name__ == "__main__":
    main()
