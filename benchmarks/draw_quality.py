"""Does the draw model beat plain Dixon-Coles on draws?  The ``draw`` pipeline on each shared
league and on all seven pooled, scored on its validation period (the last 20 % of the
matches): draw calibration, Brier and log loss of the draw model, Dixon-Coles, the
independent Poisson model and the pre-match market, and the overall RPS against
Dixon-Coles and the pre-match market.

    python benchmarks/draw_quality.py [--json] [--league E0 ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import load_football_data
from core.pipeline import TrainingConfig, train
from server.formats.leagues import league_info

LEAGUES = ("E0", "E1", "SP1", "D1", "I1", "F1", "N1")


def run(frame) -> dict:
    result = train(frame, TrainingConfig(model_type="draw"))
    m = result.metrics
    d = m["draw"]
    return {
        "n": m["n"],
        "validation_start": m["validation_start"],
        "weights": result.weights["draw"]["weights"],
        "fallback_weights": result.weights["draw"]["fallback_weights"],
        "floor": result.weights["draw"]["floor"],
        "cap": result.weights["draw"]["cap"],
        "floor_candidate": result.weights["draw"]["floor_candidate"],
        "cap_candidate": result.weights["draw"]["cap_candidate"],
        "draws": {
            k: {key: v for key, v in d[k].items() if key != "reliability"}
            for k in (
                "model",
                "model_without_odds",
                "dixon_coles",
                "poisson",
                "model_priced",
                "market",
            )
            if k in d
        },
        "reliability": {k: d[k]["reliability"] for k in ("model", "dixon_coles") if k in d},
        "rps": m["rps"],
        "rps_dixon_coles": d["vs_dixon_coles"]["market"]["rps"],
        "rps_without_odds": d["model_without_odds"]["rps"],
        "rps_diff_dixon_coles": d["vs_dixon_coles"]["rps_diff"],
        "rps_diff_dixon_coles_se": d["vs_dixon_coles"]["rps_diff_se"],
        "rps_market_pre": m["market"]["rps"] if m.get("market") else None,
        "rps_diff_market_pre": m["comparison"]["rps_diff"] if m.get("comparison") else None,
        "rps_diff_market_pre_se": m["comparison"]["rps_diff_se"] if m.get("comparison") else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--league", action="append", choices=LEAGUES)
    args = parser.parse_args()
    everything = load_football_data("*/*.csv").reset_index(drop=True)
    everything["country"] = everything["league"].map(lambda c: league_info(c).country)
    results = {}
    for label in [*(args.league or LEAGUES), *([] if args.league else ["all 7"])]:
        frame = everything if label == "all 7" else everything[everything["league"] == label]
        results[label] = run(frame.reset_index(drop=True))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for label, r in results.items():
        w = r["weights"]
        bounds = f"floor {r['floor'] or 'off'} ({r['floor_candidate']:.3f}), "
        bounds += f"cap {r['cap'] or 'off'} ({r['cap_candidate']:.3f})"
        print(
            f"\n{label}: validation from {r['validation_start']}, {r['n']} matches; weights "
            f"poisson {w['poisson']:.3f} dixon-coles {w['dixon_coles']:.3f} market "
            f"{w['market']:.3f}; {bounds}"
        )
        print(
            f"{'draws':<20}{'n':>6}{'predicted':>10}{'observed':>9}{'Brier':>9}"
            f"{'log loss':>10}{'cal err':>9}{'draw acc':>9}"
        )
        for key, b in r["draws"].items():
            acc = b.get("draw_accuracy")
            print(
                f"{key:<20}{b['n']:>6}{b['mean_predicted']:>10.4f}{b['observed_rate']:>9.4f}"
                f"{b['brier']:>9.5f}{b['log_loss']:>10.5f}{b['calibration_error']:>9.4f}"
                f"{'-' if acc is None else f'{acc:.4f}':>9}"
            )
        line = (
            f"RPS {r['rps']:.5f}; Dixon-Coles {r['rps_dixon_coles']:.5f}, diff "
            f"{r['rps_diff_dixon_coles']:+.5f} (SE {r['rps_diff_dixon_coles_se']:.5f}); "
            f"without odds {r['rps_without_odds']:.5f}"
        )
        if r["rps_market_pre"] is not None:
            line += (
                f"; pre-match market {r['rps_market_pre']:.5f}, diff "
                f"{r['rps_diff_market_pre']:+.5f} (SE {r['rps_diff_market_pre_se']:.5f})"
            )
        print(line)


if __name__ == "__main__":
    main()
