"""Helpers shared by the benchmark scripts: data loading, medians, a capped peer run."""

from __future__ import annotations

import multiprocessing as mp
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FOOTBALL_DATA = SHARED / "football-data"
SYNTHETIC = SHARED / "synthetic"


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
    from server.footballdata import read_file

    frames = [read_file(p).matches for p in sorted(FOOTBALL_DATA.glob(pattern))]
    return pd.concat(frames, ignore_index=True).sort_values("date", kind="stable")


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
