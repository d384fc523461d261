"""Training speed and quality: every model type on E0 2015/16-2024/25 and on all seven
shared leagues, with the time spent in each phase.

    python benchmarks/train_speed.py [--json]

Runs the pipeline itself (core.pipeline.train) on the parsed files, as a worker does after
loading the matches from the database; the target is under 60 s for ``full`` on all seven
leagues.  Reports each model's validation RPS and log loss next to the pre-match market on
the same matches (one price source), and the closing market (the ceiling).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import load_football_data
from core.pipeline import MODEL_TYPES, TrainingConfig, train
from server.formats.leagues import league_info


def run(frame, model_type: str) -> dict:
    marks: list[tuple[str, float]] = []

    def progress(phase, fraction, message, interim):
        if not marks or marks[-1][0] != phase:
            marks.append((phase, time.perf_counter()))

    start = time.perf_counter()
    result = train(frame, TrainingConfig(model_type=model_type), progress)
    end = time.perf_counter()
    phases: dict[str, float] = {}
    for (phase, t0), (_, t1) in zip(marks, [*marks[1:], ("end", end)], strict=True):
        phases[phase] = phases.get(phase, 0.0) + t1 - t0
    m = result.metrics
    return {
        "model_type": model_type,
        "seconds": end - start,
        "phases": phases,
        "n": m["n"],
        "validation_start": m["validation_start"],
        "rps": m["rps"],
        "log_loss": m["log_loss"],
        "market_rps": m["market"]["rps"],
        "market_log_loss": m["market"]["log_loss"],
        "rps_diff": m["comparison"]["rps_diff"],
        "rps_diff_se": m["comparison"]["rps_diff_se"],
        "market_source": m.get("market_source"),
        "closing_rps": m["ceiling"]["market"]["rps"] if "ceiling" in m else None,
        "logs": result.logs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {}
    for label, pattern in (("E0 1516-2425", "*/E0.csv"), ("all 7 leagues", "*/*.csv")):
        frame = load_football_data(pattern).reset_index(drop=True)
        frame["country"] = frame["league"].map(lambda c: league_info(c).country)
        results[label] = [run(frame, t) for t in MODEL_TYPES]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for label, rows in results.items():
        print(
            f"\n{label}: validation from {rows[0]['validation_start']}, {rows[0]['n']} matches; "
            f"pre-match market {rows[0]['market_source']}, closing RPS {rows[0]['closing_rps']}"
        )
        print(
            f"{'type':<12}{'total':>8}  {'phases':<58}{'RPS':>9}{'market':>9}"
            f"{'diff (SE)':>20}{'log loss':>10}{'market':>9}"
        )
        for r in rows:
            phases = " ".join(f"{k} {v:.1f}" for k, v in r["phases"].items())
            print(
                f"{r['model_type']:<12}{r['seconds']:>7.1f}s  {phases:<58}{r['rps']:>9.5f}"
                f"{r['market_rps']:>9.5f}{r['rps_diff']:>+11.5f} ({r['rps_diff_se']:.5f})"
                f"{r['log_loss']:>10.4f}{r['market_log_loss']:>9.4f}"
            )


if __name__ == "__main__":
    main()
