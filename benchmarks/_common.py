"""Helpers shared by the benchmark scripts: data loading, medians, a capped peer run."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

# a worktree that is not a sibling of shared/ points at it with FPE_SHARED_DATA
SHARED = Path(
    os.environ.get("FPE_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
FOOTBALL_DATA = SHARED / "football-data"
SYNTHETIC = SHARED / "synthetic"
# main before issue 12 (the market-implied ratings, the pool, the solver rework): the
# "today's time" that speed goals are relative to
BASELINE_COMMIT = "1bd5188"
BASELINE_HOWTO = (
    f"git worktree add /tmp/fpe-base {BASELINE_COMMIT} && cd /tmp/fpe-base && "
    "python3 -m venv .venv && .venv/bin/pip install -e ."
)


def load_synthetic(name: str) -> pd.DataFrame:
    frame = pd.read_csv(SYNTHETIC / f"{name}.csv", parse_dates=["date"])
    return frame.rename(
        columns={
            "team_home": "home_team",
            "team_away": "away_team",
            "goals_home": "home_goals",
            "goals_away": "away_goals",
        }
    )


def load_football_data(pattern: str = "*/*.csv") -> pd.DataFrame:
    from server.formats.footballdata import read_file

    frames = [read_file(p).matches for p in sorted(FOOTBALL_DATA.glob(pattern))]
    frame = pd.concat(frames, ignore_index=True).sort_values("date", kind="stable")
    from server.cli.common import with_country

    return with_country(frame)


def median_time(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _child(queue: mp.Queue, fn: Callable[..., Any], args: tuple) -> None:
    try:
        queue.put(("ok", fn(*args)))
    except Exception as exc:  # report the peer's failure instead of crashing the benchmark
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def run_capped(fn: Callable[..., Any], args: tuple, cap: float) -> tuple[str, Any]:
    """Run ``fn(*args)`` in a child process; ('timeout', None) after ``cap`` seconds."""
    ctx = mp.get_context("fork")
    queue: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, fn, args))
    proc.start()
    proc.join(cap)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return "timeout", None
    return queue.get() if not queue.empty() else ("error", "peer process died")


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1e-3:
        return f"{value * 1e6:.0f} us"
    if value < 1:
        return f"{value * 1e3:.2f} ms"
    return f"{value:.2f} s"


def baseline_time(root: str | Path, body: str) -> float:
    """Seconds that ``body`` reports, run by an earlier checkout of this project (``root``:
    a git worktree whose kernel is built in place, with its own ``.venv``; see
    :data:`BASELINE_HOWTO`) in a child process, so both versions run on the same machine
    in the same session.  ``body`` sees that checkout's ``core`` and ``benchmarks`` and
    must assign the seconds to ``seconds``."""
    root = Path(root).resolve()
    python = root / ".venv" / "bin" / "python"
    code = (
        f"import sys, json\nsys.path.insert(0, {str(root)!r})\n"
        + textwrap.dedent(body)
        + "\nprint(json.dumps(seconds))\n"
    )
    done = subprocess.run(
        [str(python) if python.exists() else sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the baseline at {root} failed: {done.stderr.strip()[-500:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1]))
