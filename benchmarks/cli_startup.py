"""Start-up time of the ``fpe`` command, next to the interpreter's own floor and to
what it cost when every command imported pandas, LightGBM and Strawberry eagerly.

    python benchmarks/cli_startup.py [--repeats 15] [--json]

Each row is the median wall time of a fresh process (target for ``fpe --help`` and
``fpe --version``: under 0.3 s).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FPE = str(Path(sys.executable).with_name("fpe"))
EAGER = "import numpy, pandas, lightgbm, sqlalchemy, strawberry, server.app, server.cli"

CASES = {
    "python -c pass (interpreter floor)": [sys.executable, "-c", "pass"],
    "fpe --version": [FPE, "--version"],
    "fpe --help": [FPE, "--help"],
    "fpe models --help": [FPE, "models", "--help"],
    "eager imports (before: every command)": [sys.executable, "-c", EAGER],
}


def median_wall(cmd: list[str], repeats: int) -> float:
    subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT)  # warm the page cache
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {name: median_wall(cmd, args.repeats) for name, cmd in CASES.items()}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    floor = results["python -c pass (interpreter floor)"]
    eager = results["eager imports (before: every command)"]
    print(f"{'command':<40}{'median':>10}{'x floor':>9}{'eager / this':>14}")
    for name, seconds in results.items():
        ratio = f"{seconds / floor:>8.1f}x{eager / seconds:>13.1f}x"
        print(f"{name:<40}{seconds * 1000:>8.0f} ms{ratio}")


if __name__ == "__main__":
    main()
