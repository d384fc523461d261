"""The ``fpe`` command line: a thin adapter over the service functions.

Every command reports bad input as one line on stderr and exits non-zero; tracebacks are
reserved for bugs.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from core import DixonColes, evaluation
from core.backtest import DEFAULT_L2, DEFAULT_XI
from core.errors import FPEError
from core.odds import METHODS
from server import migrations
from server.config import Settings
from server.db import DatabaseError, create_engine, describe, open_database
from server.download import download, season_code, validate_league
from server.footballdata import find_csv_files, read_file
from server.ingest import FileReport, ingest_paths
from server.terminal import ProgressBar

EXIT_USAGE = 2
EXIT_DATA = 1


def _load(paths: Sequence[str]) -> pd.DataFrame:
    """Parse every CSV under ``paths``; rejected rows are reported on stderr."""
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


def _cmd_backtest(args: argparse.Namespace) -> int:
    frame = _load(args.paths)
    report = evaluation.backtest_report(
        frame,
        xi=args.xi,
        l2=args.l2,
        refit_days=args.refit_days,
        window_days=args.window_days,
        start=args.start,
        burn_in_days=args.burn_in_days,
        margin=args.margin,
    )
    if args.predictions:
        report.predictions.to_csv(args.predictions, index=False)
    if args.json:
        print(json.dumps(report.summary, indent=2))
    else:
        print(evaluation.format_report(report.summary))
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    frame = _load(args.paths)
    model = DixonColes(rho=not args.no_rho, xi=args.xi).fit(frame)
    data = model.to_dict()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(
        f"{model.n_matches_} matches, {len(model.teams_)} teams, log-likelihood "
        f"{model.loglik_:.3f}, {model.n_iter_} Newton iterations"
    )
    print(f"home advantage x{data['home_advantage']:.3f}   rho {model.rho_:+.4f}")
    order = np.argsort(-(model.attack_ + model.defence_))
    print(f"{'team':<24}{'attack':>9}{'defense':>9}")
    for i in order:
        team = str(model.teams_[i])
        print(f"{team:<24}{np.exp(model.attack_[i]):>9.3f}{np.exp(model.defence_[i]):>9.3f}")
    return 0


def _cmd_db(args: argparse.Namespace) -> int:
    settings = Settings.from_env()

    async def run() -> int:
        engine = create_engine(settings.database_url)
        try:
            if args.db_command == "upgrade":
                applied = await migrations.upgrade(engine)
                for m in applied:
                    print(f"applied {m.version:04d}_{m.name}")
            state = await migrations.status(engine)
        finally:
            await engine.dispose()
        pending = ", ".join(f"{m.version:04d}_{m.name}" for m in state.pending) or "none"
        print(
            f"{describe(settings.database_url)}: schema version {state.current}, pending: {pending}"
        )
        return 0

    return asyncio.run(_database_errors(run(), settings))


async def _database_errors(coro: Any, settings: Settings) -> Any:
    """Turn driver-level failures (server down, refused login) into one clear message."""
    try:
        return await coro
    except (OSError, SQLAlchemyError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise DatabaseError(f"database {describe(settings.database_url)}: {reason}") from exc


def _report_files(reports: list[FileReport], as_json: bool) -> int:
    for report in reports:
        for problem in report.problems:
            print(f"{report.source}:{problem.line}: rejected: {problem.reason}", file=sys.stderr)
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


async def _ingest(settings: Settings, paths: Sequence[str]) -> list[FileReport]:
    engine = await open_database(settings)
    bar = ProgressBar("ingest")
    try:
        return await ingest_paths(
            engine, paths, on_file=lambda r, i, n: bar.update(i / n, f"{i}/{n} {r.source}")
        )
    finally:
        bar.close()
        await engine.dispose()


def _cmd_ingest(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    reports = asyncio.run(_database_errors(_ingest(settings, args.paths), settings))
    return _report_files(reports, args.json)


def _cmd_download(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    leagues = [validate_league(x) for x in args.league]
    seasons = [season_code(x) for x in args.season]
    base = args.base_url or settings.download_base_url
    paths = asyncio.run(download(base, settings.data_dir, leagues, seasons))
    for path in paths:
        print(f"saved {path}", file=sys.stderr)
    if args.no_ingest:
        return 0
    reports = asyncio.run(_database_errors(_ingest(settings, [str(p) for p in paths]), settings))
    return _report_files(reports, args.json)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fpe", description="Football Probability Engine: goal models, backtests, registry."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    bt = sub.add_parser(
        "backtest",
        help="walk-forward Dixon-Coles versus the closing market on football-data.co.uk files",
    )
    bt.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    bt.add_argument(
        "--xi",
        type=_non_negative,
        default=DEFAULT_XI,
        help=f"time decay PER DAY (default {DEFAULT_XI}; Dixon-Coles' 0.0065 per "
        "half-week is 0.00186 per day)",
    )
    bt.add_argument(
        "--l2",
        type=_non_negative,
        default=DEFAULT_L2,
        help=f"prior precision on team strengths (default {DEFAULT_L2})",
    )
    bt.add_argument(
        "--refit-days",
        type=_positive_int,
        default=7,
        help="refit the model every N days (default 7)",
    )
    bt.add_argument(
        "--window-days",
        type=_positive_int,
        default=None,
        help="train only on the last N days (default: all history)",
    )
    bt.add_argument(
        "--start",
        metavar="YYYY-MM-DD",
        default=None,
        help="first date to predict (default: the first match plus the burn-in)",
    )
    bt.add_argument(
        "--burn-in-days",
        type=_positive_int,
        default=365,
        help="days of data that only train the model when --start is not given (default 365)",
    )
    bt.add_argument(
        "--margin",
        choices=METHODS,
        default="power",
        help="how to remove the bookmaker margin (default power)",
    )
    bt.add_argument(
        "--predictions",
        metavar="CSV",
        help="write per-match model and market probabilities, with the odds "
        "source used, to this CSV file",
    )
    bt.add_argument("--json", action="store_true", help="print one JSON object")
    bt.set_defaults(func=_cmd_backtest)

    fit = sub.add_parser("fit", help="fit Dixon-Coles to football-data.co.uk files")
    fit.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    fit.add_argument("--xi", type=_non_negative, default=0.0, help="time decay PER DAY")
    fit.add_argument("--no-rho", action="store_true", help="independent Poisson (rho = 0)")
    fit.add_argument("--json", action="store_true", help="print the model as JSON")
    fit.set_defaults(func=_cmd_fit)

    db = sub.add_parser("db", help="database schema: upgrade or status")
    db.add_argument("db_command", choices=["upgrade", "status"])
    db.set_defaults(func=_cmd_db)

    ingest = sub.add_parser(
        "ingest", help="load football-data.co.uk files into the database (idempotent)"
    )
    ingest.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    ingest.add_argument("--json", action="store_true", help="print the per-file reports as JSON")
    ingest.set_defaults(func=_cmd_ingest)

    dl = sub.add_parser(
        "download", help="fetch season files from football-data.co.uk, keep them, ingest them"
    )
    dl.add_argument(
        "--league",
        action="append",
        required=True,
        metavar="CODE",
        help="division code such as E0 (repeatable)",
    )
    dl.add_argument(
        "--season",
        action="append",
        required=True,
        metavar="CODE",
        help="season code such as 2324 (repeatable; every league x every season)",
    )
    dl.add_argument(
        "--base-url",
        default=None,
        help="file root (default: FPE_DOWNLOAD_BASE_URL or football-data.co.uk)",
    )
    dl.add_argument("--no-ingest", action="store_true", help="only download")
    dl.add_argument("--json", action="store_true", help="print the per-file reports as JSON")
    dl.set_defaults(func=_cmd_download)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except FPEError as exc:
        print(f"fpe: error: {exc}", file=sys.stderr)
        return EXIT_DATA
    except KeyboardInterrupt:
        print("fpe: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
