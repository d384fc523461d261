"""Start-up time of the ``fpe`` command, next to the interpreter's own floor and to
what it cost when every command imported pandas, LightGBM and Strawberry eagerly.

    python benchmarks/cli_startup.py [--repeats 15] [--json]

Each row is the median of a fresh process: wall time, and CPU time (user + system, from
``getrusage``), which stays meaningful on a busy machine where wall time mostly measures
waiting for a core.  Target for ``fpe --help`` and ``fpe --version``: under 0.3 s.
Bytecode caching is on, as in a normal installation (``PYTHONDONTWRITEBYTECODE`` is
removed from the children's environment: without cached bytecode every start compiles
the ``server/cli`` modules again, about 20-40 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FPE = str(Path(sys.executable).with_name("fpe"))
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
EAGER = "import numpy, pandas, lightgbm, sqlalchemy, strawberry, server.api.app, server.cli"

CASES = {
    "python -c pass (interpreter floor)": [sys.executable, "-c", "pass"],
    "fpe --version": [FPE, "--version"],
    "fpe --help": [FPE, "--help"],
    "fpe models --help": [FPE, "models", "--help"],
    "eager imports (before: every command)": [sys.executable, "-c", EAGER],
}


def medians(cmd: list[str], repeats: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds) of ``cmd`` in a fresh process."""
    subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT, env=ENV)  # warm caches
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT, env=ENV)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {name: medians(cmd, args.repeats) for name, cmd in CASES.items()}
    if args.json:
        print(json.dumps({k: {"wall": w, "cpu": c} for k, (w, c) in results.items()}, indent=2))
        return
    eager = results["eager imports (before: every command)"][1]
    print(f"{'command':<40}{'wall':>9}{'CPU':>9}{'eager CPU / this':>18}")
    for name, (wall, cpu) in results.items():
        print(f"{name:<40}{wall * 1000:>6.0f} ms{cpu * 1000:>6.0f} ms{eager / cpu:>17.1f}x")


if __name__ == "__main__":
    main()
