"""How long ``fpe predict`` and ``fpe price`` take to answer, start-up included: the time
a person waits at the terminal.  Target: under 0.5 s each.

    python benchmarks/cli_latency.py [--repeats 11] [--data-dir DIR] [--compare TREE] [--json]

Each row is the median of fresh processes (``python -m server.cli ...``): wall time, and
CPU time (user + system, from ``getrusage``), which stays meaningful on a busy machine
where wall time mostly measures waiting for a core.  ``predict`` needs a database with a
model: without ``--data-dir`` a throw-away embedded one is made (E0 2022/23-2024/25 from
the shared data, then ``fpe train --type full``).  ``--compare TREE`` times the same
commands with another source tree on ``PYTHONPATH`` (say, main before this change),
alternating with this one so that both see the same load.  Bytecode caching is on, as
in an installation.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FPE_SHARED_DATA") or ROOT.parent / "shared" / "data")
SEASONS = ("2223", "2324", "2425")
TARGET = 0.5

COMMANDS = {
    "python -c pass (the interpreter's floor)": ["-c", "pass"],
    "fpe price --odds 2.1 3.4 3.6": ["-m", "server.cli", "price", "--odds", "2.1", "3.4", "3.6"],
    "fpe predict --home Arsenal --away Chelsea": [
        "-m",
        "server.cli",
        "predict",
        "--home",
        "Arsenal",
        "--away",
        "Chelsea",
    ],
    "fpe predict ... --odds 2.1 3.4 3.6": [
        "-m",
        "server.cli",
        "predict",
        "--home",
        "Arsenal",
        "--away",
        "Chelsea",
        "--odds",
        "2.1",
        "3.4",
        "3.6",
    ],
}


def environment(tree: Path, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for name in ("FPE_DATABASE_URL", "FPE_REDIS_URL"):
        env.pop(name, None)  # the embedded database, no queue
    return {**env, "PYTHONPATH": str(tree), "FPE_DATA_DIR": str(data_dir)}


def prepare(data_dir: Path) -> None:
    """An embedded database with E0's last three seasons and an active ``full`` model."""
    env = environment(ROOT, data_dir)
    files = [str(SHARED / "football-data" / season / "E0.csv") for season in SEASONS]
    fpe = [sys.executable, "-m", "server.cli"]
    subprocess.run([*fpe, "ingest", *files], env=env, cwd=ROOT, check=True, capture_output=True)
    subprocess.run(
        [*fpe, "train", "--type", "full", "--league", "E0"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def once(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, cwd=cwd, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def measure(
    trees: dict[str, Path], data_dir: Path, repeats: int
) -> dict[str, dict[str, dict[str, float]]]:
    """{tree: {command: {wall, cpu}}}: medians, the trees alternating run by run."""
    samples: dict[str, dict[str, list[tuple[float, float]]]] = {
        t: {c: [] for c in COMMANDS} for t in trees
    }
    for name, args in COMMANDS.items():
        for path in trees.values():  # warm the file cache and the bytecode
            once(args, environment(path, data_dir), path)
        for _ in range(repeats):
            for tree, path in trees.items():
                samples[tree][name].append(once(args, environment(path, data_dir), path))
    return {
        tree: {
            name: {
                "wall": statistics.median(w for w, _ in runs),
                "cpu": statistics.median(c for _, c in runs),
            }
            for name, runs in by_command.items()
        }
        for tree, by_command in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--data-dir", type=Path, help="an FPE_DATA_DIR with an active model")
    parser.add_argument("--compare", type=Path, help="another source tree to time alongside")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    trees = {"this tree": ROOT}
    if args.compare:
        trees[str(args.compare)] = args.compare.resolve()
    with tempfile.TemporaryDirectory(prefix="fpe-latency-") as scratch:
        data_dir = args.data_dir or Path(scratch)
        if args.data_dir is None:
            prepare(data_dir)
        results = measure(trees, data_dir, args.repeats)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    load = os.getloadavg()[0]
    print(
        f"medians of {args.repeats} fresh processes; "
        f"load average {load:.1f} on {os.cpu_count()} cores"
    )
    for tree, rows in results.items():
        print(f"\n{tree}")
        print(f"{'command':<46}{'wall':>9}{'CPU':>9}")
        for name, r in rows.items():
            flag = "" if name.startswith("python") or r["cpu"] < TARGET else "   over 0.5 s"
            print(f"{name:<46}{r['wall'] * 1000:>6.0f} ms{r['cpu'] * 1000:>6.0f} ms{flag}")


if __name__ == "__main__":
    main()
