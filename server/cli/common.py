"""What the command handlers share: exit codes, running async work against the database
and the services, one-line database errors, service field names as flags, and the output
of listings, of ingests and of a priced match."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from core.serving import Markets, Outcomes
    from server.base.config import Settings
    from server.store.ingest import FileReport

__all__ = [
    "EXIT_DATA",
    "EXIT_USAGE",
    "FLAGS",
    "USAGE_FIELDS",
    "database_errors",
    "flag_names",
    "ingest_files",
    "load_matches",
    "markets_json",
    "print_listing",
    "print_markets",
    "report_files",
    "run",
    "run_async",
    "run_with_engine",
    "with_country",
]

EXIT_USAGE = 2
EXIT_DATA = 1

# service field names -> the flags that set them, for error messages
FLAGS = {
    "model_type": "--type",
    "leagues": "--league",
    "seasons": "--season",
    "date_from": "--date-from",
    "date_to": "--date-to",
    "refit_days": "--refit-days",
    "validation_share": "--validation-share",
    "xi": "--xi",
    "l2": "--l2",
    "model_version": "--model",
}
_FIELD = re.compile(r"\b(" + "|".join(map(re.escape, FLAGS)) + r")\b")

# a training configuration rejected on these fields is a bad command line (exit 2); on
# leagues and seasons it is about what the database holds (exit 1)
USAGE_FIELDS = {"model_type", "date_from", "date_to", "hyperparameters"}


def flag_names(message: str) -> str:
    """Say ``--date-from`` where the service said ``date_from``."""
    return _FIELD.sub(lambda m: FLAGS[m[1]], message)


def run(coro: Any) -> Any:
    import asyncio

    return asyncio.run(coro)


async def database_errors(coro: Any, settings: Settings) -> Any:
    """Turn driver-level failures (server down, refused login) into one clear message."""
    from sqlalchemy.exc import SQLAlchemyError

    from server.store.db import DatabaseError, describe

    try:
        return await coro
    except BrokenPipeError:
        raise  # stdout closed by the reader, not the database
    except (OSError, SQLAlchemyError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise DatabaseError(f"database {describe(settings.database_url)}: {reason}") from exc


async def _with_services(settings: Settings, work: Any) -> Any:
    from server.runs.services import open_services

    services = await open_services(settings)
    try:
        return await work(services)
    finally:
        await services.close()


def run_async(settings: Settings, work: Any) -> Any:
    """``await work(services)`` with the services open, database errors as one line."""
    return run(database_errors(_with_services(settings, work), settings))


async def _with_engine(settings: Settings, work: Any) -> Any:
    from server.store.connect import open_database

    engine = await open_database(settings)
    try:
        return await work(engine)
    finally:
        await engine.dispose()


def run_with_engine(settings: Settings, work: Any) -> Any:
    """``await work(engine)`` on the database alone: for commands that only read, which
    need neither the queue nor Redis (and start faster without them)."""
    return run(database_errors(_with_engine(settings, work), settings))


def load_matches(paths: Sequence[str]) -> pd.DataFrame:
    """Parse every CSV under ``paths``; rejected rows are reported on stderr."""
    import pandas as pd

    from core.errors import FPEError
    from server.formats.footballdata import find_csv_files, read_file

    frames = []
    for path in find_csv_files(paths):
        parsed = read_file(path)
        for problem in parsed.problems:
            print(f"{path}:{problem.line}: skipped: {problem.reason}", file=sys.stderr)
        frames.append(parsed.matches)
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if frame.empty:
        raise FPEError("no matches found in the given files")
    return frame


def with_country(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each league's country, by which the walk-forward is split."""
    from server.formats.leagues import league_info

    countries = {code: league_info(code).country for code in frame["league"].unique()}
    return frame.assign(country=frame["league"].map(countries))


async def ingest_files(settings: Settings, paths: Sequence[str]) -> list[FileReport]:
    from server.cli.terminal import ProgressBar
    from server.store.connect import open_database
    from server.store.ingest import ingest_paths

    engine = await open_database(settings)
    bar = ProgressBar("ingest")
    waited: list[str] = []

    def on_wait(source: str) -> None:  # said once: two ingests take turns file by file
        if not waited:
            print(
                f"fpe: {source}: waiting for another ingest to finish writing (the two take "
                "turns, file by file)",
                file=sys.stderr,
            )
        waited.append(source)

    try:
        return await ingest_paths(
            engine,
            paths,
            on_file=lambda r, i, n: bar.update(i / n, f"{i}/{n} {r.source}"),
            on_wait=on_wait,
        )
    finally:
        bar.close()
        await engine.dispose()


def report_files(reports: list[FileReport], as_json: bool) -> int:
    import dataclasses

    for report in reports:
        for problem in report.problems:
            print(f"{report.source}:{problem.line}: rejected: {problem.reason}", file=sys.stderr)
        for note in report.notes:
            print(f"{report.source}: note: {note}", file=sys.stderr)
    if as_json:
        print(json.dumps([dataclasses.asdict(r) for r in reports], indent=2, default=str))
    else:
        for report in reports:
            print(report.summary())
        ok = [r for r in reports if r.ok]
        print(
            f"{len(reports)} files: inserted {sum(r.inserted for r in ok)}, updated "
            f"{sum(r.updated for r in ok)}, unchanged {sum(r.unchanged for r in ok)}, "
            f"rejected {sum(r.rejected for r in reports)}, failed files "
            f"{sum(not r.ok for r in reports)}"
        )
    return 0 if all(r.ok for r in reports) else EXIT_DATA


def markets_json(m: Markets) -> dict[str, Any]:
    """Every market of one grid as ``--json`` prints it."""
    return {
        "home_win": m.outcomes.home,
        "draw": m.outcomes.draw,
        "away_win": m.outcomes.away,
        "expected_goals": {"home": m.expected_goals.home, "away": m.expected_goals.away},
        "rho": m.rho,
        "score_grid": [list(row) for row in m.score_grid],
        "totals": {str(line): {"over": t.over, "under": t.under} for line, t in m.totals.items()},
        "btts": {"yes": m.btts, "no": 1.0 - m.btts},
        "asian_handicap": {
            f"{line:+g}": {"win": h.win, "push": h.push, "lose": h.lose}
            for line, h in m.asian_handicap.items()
        },
    }


def print_markets(outcomes: Outcomes, m: Markets) -> None:
    """The 1X2 ``outcomes`` and the main markets and score grid of ``m``."""
    print(f"home {outcomes.home:.3f}   draw {outcomes.draw:.3f}   away {outcomes.away:.3f}")
    xg = m.expected_goals
    print(
        f"expected goals {xg.home:.2f} - {xg.away:.2f}   over 2.5 "
        f"{m.totals[2.5].over:.3f}   both score {m.btts:.3f}   "
        f"home -0.5/-1 AH win {m.asian_handicap[-0.5].win:.3f}/"
        f"{m.asian_handicap[-1.0].win:.3f}"
    )
    grid = m.score_grid
    print("score grid (home goals down, away across), %:")
    print("     " + "".join(f"{j:>6}" for j in range(6)))
    for i in range(6):
        print(f"{i:>5}" + "".join(f"{100 * grid[i][j]:>6.1f}" for j in range(6)))


def print_listing(
    fetch: Callable[[Any], Awaitable[list[dict[str, Any]]]],
    as_json: bool,
    header: str,
    line: Callable[[dict[str, Any]], str],
) -> int:
    """A listing from ``await fetch(engine)``: JSON, or a header and one ``line(row)`` each."""
    from server.base.config import Settings
    from server.runs.serialize import json_ready

    async def work(services: Any) -> int:
        rows = await fetch(services.engine)
        if as_json:
            print(json.dumps(json_ready(rows), indent=2))
            return 0
        print(header)
        for row in rows:
            print(line(row))
        return 0

    return run_async(Settings.from_env(), work)
