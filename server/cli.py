"""The ``fpe`` command line: a thin adapter over the service functions.

Every command reports bad input as one line on stderr and exits non-zero; tracebacks are
reserved for bugs.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from core import DixonColes, evaluation
from core.backtest import DEFAULT_L2, DEFAULT_XI
from core.errors import FPEError
from core.forecast import MARKET_L2, MARKET_XI
from core.odds import METHODS
from core.pipeline import MODEL_TYPES
from server import catalog, migrations, predictions, training
from server.config import ConfigError, Settings
from server.db import DatabaseError, create_engine, describe, open_database
from server.download import download, season_code, validate_league
from server.footballdata import find_csv_files, read_file
from server.ingest import FileReport, ingest_paths
from server.observability import configure_logging
from server.services import cancel_training, follow_run, open_services, start_training
from server.terminal import ProgressBar
from server.training import json_ready

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
        market=args.market,
        shots=args.shots,
        market_xi=args.market_xi,
        market_l2=args.market_l2,
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


async def _with_services(settings: Settings, work: Any) -> Any:
    services = await open_services(settings)
    try:
        return await work(services)
    finally:
        await services.close()


def _run_async(settings: Settings, work: Any) -> Any:
    return asyncio.run(_database_errors(_with_services(settings, work), settings))


def _cmd_train(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    hyper = {
        k: v
        for k, v in (
            ("xi", args.xi),
            ("l2", args.l2),
            ("refit_days", args.refit_days),
            ("validation_share", args.validation_share),
        )
        if v is not None
    }
    request = {
        "model_type": args.type,
        "leagues": args.league,
        "seasons": args.season or [],
        "date_from": args.date_from,
        "date_to": args.date_to,
        "hyperparameters": hyper,
    }

    async def work(services: Any) -> int:
        run = await start_training(services, request)
        task_id = run["task_id"]
        print(f"run {task_id} queued: {run['match_count']} matches", file=sys.stderr)
        if not (args.wait or services.in_process):
            print(task_id)
            return 0
        bar = ProgressBar(args.type)
        final: dict[str, Any] = {}
        async for _, event in follow_run(services, task_id):
            if event.get("progress") is not None:
                bar.update(float(event["progress"]) / 100, event.get("message") or "")
            final = event
        bar.close()
        run = await training.get_run(services.engine, task_id)
        if args.json:
            print(json.dumps(json_ready(run), indent=2))
        else:
            print(_describe_run(run))
        return 0 if final.get("status") == "completed" else EXIT_DATA

    return _run_async(settings, work)


def _describe_run(run: dict[str, Any]) -> str:
    lines = [
        f"run {run['task_id']}: {run['status']} ({run['run_type']}, {run['match_count']} matches)"
    ]
    if run["status"] == "completed":
        m = run["metrics"]
        lines.append(
            f"model {run['model_version']} is active; validation from "
            f"{m.get('validation_start')}: {m['n']} matches"
        )
        lines.append(f"{'':<8}{'RPS':>9}{'log loss':>10}{'Brier':>9}{'accuracy':>10}")
        lines.append(
            f"{'model':<8}{m['rps']:>9.5f}{m['log_loss']:>10.5f}{m['brier']:>9.5f}"
            f"{m['accuracy']:>10.4f}"
        )
        if m.get("market"):
            k = m["market"]
            source = f", pre-match {m['market_source']}" if m.get("market_source") else ""
            lines.append(
                f"{'market':<8}{k['rps']:>9.5f}{k['log_loss']:>10.5f}"
                f"{k['brier']:>9.5f}{k['accuracy']:>10.4f}   (on {k['n']} priced{source})"
            )
            c = m["comparison"]
            lines.append(
                f"RPS model - market on the priced matches: {c['rps_diff']:+.5f} "
                f"(SE {c['rps_diff_se']:.5f}); goals RMSE {m['rmse_goals']:.3f}"
            )
            if m.get("ceiling"):
                ceiling = m["ceiling"]
                lines.append(
                    f"ceiling, closing market ({ceiling['market_source']}): RPS "
                    f"{ceiling['market']['rps']:.5f}; model - closing "
                    f"{ceiling['rps_diff']:+.5f} (SE {ceiling['rps_diff_se']:.5f})"
                )
        lines.extend(f"  {line}" for line in run["logs"] or [])
    elif run["error_message"]:
        lines.append(f"error: {run['error_message']}")
    return "\n".join(lines)


def _cmd_runs(args: argparse.Namespace) -> int:
    async def work(services: Any) -> int:
        runs = await training.list_runs(services.engine, args.status, args.limit)
        if args.json:
            print(json.dumps(json_ready(runs), indent=2))
            return 0
        print(
            f"{'task id':<34}{'type':<13}{'status':<11}{'matches':>8}{'RPS':>9}  "
            f"{'created (UTC)':<20}model / error"
        )
        for r in runs:
            rps = "-" if r["rps"] is None else f"{r['rps']:.5f}"
            tail = r["model_version"] or r["error_message"] or r["message"] or ""
            print(
                f"{r['task_id']:<34}{r['run_type']:<13}{r['status']:<11}"
                f"{r['match_count'] or 0:>8}{rps:>9}  {r['created_at']:%Y-%m-%d %H:%M:%S}   "
                f"{tail[:60]}"
            )
        return 0

    return _run_async(Settings.from_env(), work)


def _cmd_models(args: argparse.Namespace) -> int:
    async def work(services: Any) -> int:
        models = await training.list_models(services.engine, args.status, args.type, args.limit)
        if args.json:
            print(json.dumps(json_ready(models), indent=2))
            return 0
        print(
            f"{'version':<40}{'status':<10}{'matches':>8}{'RPS':>9}{'log loss':>10}"
            f"{'Brier':>9}  leagues"
        )
        for m in models:
            rps = "-" if m["rps"] is None else f"{m['rps']:.5f}"
            ll = "-" if m["log_loss"] is None else f"{m['log_loss']:.5f}"
            br = "-" if m["brier_score"] is None else f"{m['brier_score']:.5f}"
            print(
                f"{m['version']:<40}{m['status']:<10}{m['training_matches'] or 0:>8}"
                f"{rps:>9}{ll:>10}{br:>9}  {','.join(m['training_leagues'] or [])}"
            )
        return 0

    return _run_async(Settings.from_env(), work)


def _cmd_predict(args: argparse.Namespace) -> int:
    async def work(services: Any) -> int:
        p = await predictions.predict(
            services.engine,
            args.home,
            args.away,
            args.league,
            args.model,
            tuple(args.odds) if args.odds else None,
        )
        if args.json:
            print(json.dumps(p, indent=2))
            return 0
        print(f"{p['home_team']} v {p['away_team']}  (model {p['model_version']})")
        print(f"home {p['home_win']:.3f}   draw {p['draw']:.3f}   away {p['away_win']:.3f}")
        xg = p["expected_goals"]
        print(
            f"expected goals {xg['home']:.2f} - {xg['away']:.2f}   over 2.5 "
            f"{p['totals']['2.5']['over']:.3f}   both score {p['btts']['yes']:.3f}"
        )
        grid = p["score_grid"]
        print("score grid (home goals down, away across), %:")
        print("     " + "".join(f"{j:>6}" for j in range(6)))
        for i in range(6):
            print(f"{i:>5}" + "".join(f"{100 * grid[i][j]:>6.1f}" for j in range(6)))
        return 0

    return _run_async(Settings.from_env(), work)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    selection = {
        "leagues": args.league,
        "seasons": args.season or [],
        "date_from": args.date_from,
        "date_to": args.date_to,
    }

    async def work(services: Any) -> int:
        result = await predictions.evaluate(
            services.engine, args.model, selection, args.margin, args.market
        )
        if args.json:
            print(json.dumps(json_ready(result), indent=2))
            return 0
        print(
            f"model {result['model_version']} on {result['n']} matches "
            f"({result['period']['from']} to {result['period']['to']})"
        )
        kind = "pre-match" if result["market_kind"] == "pre" else "closing"
        print(f"market: {kind} prices from {result['market_source']}")
        for name in ("model", "market"):
            s = result[name]
            print(
                f"{name:<8}RPS {s['rps']:.5f}  log loss {s['log_loss']:.5f}  "
                f"Brier {s['brier']:.5f}  accuracy {s['accuracy']:.4f}"
            )
        print(f"RPS model - market: {result['rps_diff']:+.5f} (SE {result['rps_diff_se']:.5f})")
        if "ceiling" in result:
            c = result["ceiling"]
            print(
                f"ceiling, closing market ({c['market_source']}): RPS {c['market']['rps']:.5f}; "
                f"model - closing {c['rps_diff']:+.5f} (SE {c['rps_diff_se']:.5f})"
            )
        if result["matches_without_market"]:
            print(
                f"{result['matches_without_market']} matches without "
                f"{result['market_source']} prices (not scored)"
            )
        if result["in_sample_matches"]:
            print(
                f"warning: {result['in_sample_matches']} of these matches are from the "
                "model's training period (in-sample)"
            )
        if result["skipped_unknown_teams"]:
            print(
                f"skipped {result['skipped_unknown_teams']} matches of teams the model "
                "does not know"
            )
        return 0

    return _run_async(Settings.from_env(), work)


def _cmd_cancel(args: argparse.Namespace) -> int:
    async def work(services: Any) -> int:
        run = await cancel_training(services, args.task_id)
        print(
            f"run {run['task_id']}: {run['status']}"
            + (" (stopping)" if run["status"] == "training" else "")
        )
        return 0

    return _run_async(Settings.from_env(), work)


def _cmd_worker(args: argparse.Namespace) -> int:
    from server.worker import create_worker

    settings = Settings.from_env()
    worker = create_worker(settings, burst=args.burst)  # a configuration error stops here
    configure_logging("info", settings.log_json)
    worker.run()
    return 0


DEFAULT_SEED_LEAGUES = ("E0", "SP1", "D1", "I1", "F1")
DEFAULT_SEED_SEASONS = ("2324", "2425")


def _cmd_seed(args: argparse.Namespace) -> int:
    """First-run data: a local folder, or a few recent seasons downloaded; a database that
    already has matches is left alone (unless --force)."""
    settings = Settings.from_env()
    source = args.source or os.environ.get("FPE_SEED_DIR")

    async def run() -> int:
        engine = await open_database(settings)
        try:
            leagues = await catalog.list_leagues(engine)
        finally:
            await engine.dispose()
        present = sum(lg["match_count"] for lg in leagues)
        if present and not args.force:
            print(
                f"the database already has {present} matches: nothing to seed "
                "(--force to load anyway)",
                file=sys.stderr,
            )
            return 0
        if source:
            paths = [source]
        else:
            base = settings.download_base_url
            print(
                f"downloading {', '.join(args.league)} x {', '.join(args.season)} from {base}",
                file=sys.stderr,
            )
            paths = [
                str(p) for p in await download(base, settings.data_dir, args.league, args.season)
            ]
        reports = await _ingest(settings, paths)
        return _report_files(reports, as_json=False)

    return asyncio.run(_database_errors(run(), settings))


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app

    settings = Settings.from_env()
    if args.workers > 1 and not settings.redis_url:
        raise ConfigError(
            "--workers > 1 needs FPE_REDIS_URL: embedded training runs inside the one "
            "server process"
        )
    configure_logging(args.log_level, settings.log_json)
    mode = "arq workers via Redis" if settings.redis_url else "in-process training (embedded)"
    print(
        f"serving http://{args.host}:{args.port}/ (page, /graphql, /api) on "
        f"{describe(settings.database_url)}; {mode}",
        file=sys.stderr,
    )
    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "lifespan": "on",
        "log_level": args.log_level,
        "ws": "websockets-sansio",
    }
    if args.workers > 1:  # processes share the port; each has its own event hub
        uvicorn.run("server.app:create_app", factory=True, workers=args.workers, **common)
    else:
        uvicorn.run(create_app(settings), **common)
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
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
        help="the engine's walk-forward forecast versus the pre-match market on "
        "football-data.co.uk files",
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
        "--market",
        choices=("pre", "close"),
        default="pre",
        help="the market to compare with: pre-match (default; what a forecast issued before "
        "the match competes with) or closing (the ceiling)",
    )
    bt.add_argument(
        "--market-xi",
        type=_non_negative,
        default=None,
        help=f"time decay PER DAY of the market-implied ratings (default {MARKET_XI})",
    )
    bt.add_argument(
        "--market-l2",
        type=_non_negative,
        default=None,
        help=f"prior precision of the market-implied ratings (default {MARKET_L2})",
    )
    bt.add_argument(
        "--shots",
        type=_share,
        default=None,
        metavar="GOALS_SHARE",
        help="fit Dixon-Coles to goals mixed with shots on target, this share on goals "
        "(for example 0.7; default: goals only)",
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

    tr = sub.add_parser(
        "train",
        help="start a training run (queued for a worker, or run "
        "in-process when no Redis is configured)",
    )
    tr.add_argument("--type", choices=MODEL_TYPES, default="full")
    tr.add_argument("--league", action="append", required=True, metavar="CODE")
    tr.add_argument(
        "--season",
        action="append",
        metavar="CODE",
        help="season codes such as 2324 (default: every season of the leagues)",
    )
    tr.add_argument("--date-from", metavar="YYYY-MM-DD")
    tr.add_argument("--date-to", metavar="YYYY-MM-DD")
    tr.add_argument("--xi", type=_non_negative, help="Dixon-Coles decay PER DAY")
    tr.add_argument("--l2", type=_non_negative, help="prior precision on team strengths")
    tr.add_argument("--refit-days", type=_positive_int, help="walk-forward refit interval")
    tr.add_argument("--validation-share", type=float, help="last share held out (0.05-0.5)")
    tr.add_argument("--wait", action="store_true", help="follow the run to its end")
    tr.add_argument("--json", action="store_true")
    tr.set_defaults(func=_cmd_train)

    runs = sub.add_parser("runs", help="training run history, newest first")
    runs.add_argument("--status", default=None)
    runs.add_argument("--limit", type=_positive_int, default=20)
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(func=_cmd_runs)

    models = sub.add_parser("models", help="model versions, newest first")
    models.add_argument("--type", default=None)
    models.add_argument("--status", default=None)
    models.add_argument("--limit", type=_positive_int, default=20)
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=_cmd_models)

    pr = sub.add_parser("predict", help="probabilities and markets for one fixture")
    pr.add_argument("--home", required=True)
    pr.add_argument("--away", required=True)
    pr.add_argument("--league", default=None, help="needed when a name exists in two countries")
    pr.add_argument("--model", default=None, help="a version (default: the active full model)")
    pr.add_argument(
        "--odds",
        type=float,
        nargs=3,
        metavar=("HOME", "DRAW", "AWAY"),
        help="decimal 1X2 odds for the market blend",
    )
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=_cmd_predict)

    ev = sub.add_parser("evaluate", help="a model against the market on chosen matches")
    ev.add_argument("--model", default=None, help="a version (default: the active full model)")
    ev.add_argument("--league", action="append", required=True, metavar="CODE")
    ev.add_argument("--season", action="append", metavar="CODE")
    ev.add_argument("--date-from", metavar="YYYY-MM-DD")
    ev.add_argument("--date-to", metavar="YYYY-MM-DD")
    ev.add_argument("--margin", choices=METHODS, default="power")
    ev.add_argument(
        "--market",
        choices=("pre", "close"),
        default="pre",
        help="compare with the pre-match (default) or the closing market",
    )
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=_cmd_evaluate)

    cancel = sub.add_parser("cancel", help="stop a queued or running training run")
    cancel.add_argument("task_id")
    cancel.set_defaults(func=_cmd_cancel)

    seed = sub.add_parser(
        "seed",
        help="load first-run data into an empty database: a local "
        "folder, or recent seasons of the big leagues",
    )
    seed.add_argument(
        "--from",
        dest="source",
        metavar="DIR",
        help="ingest this folder instead of downloading (or FPE_SEED_DIR)",
    )
    seed.add_argument("--league", action="append", default=None, metavar="CODE")
    seed.add_argument("--season", action="append", default=None, metavar="CODE")
    seed.add_argument("--force", action="store_true", help="load even if there are matches")
    seed.set_defaults(func=_cmd_seed)

    serve = sub.add_parser("serve", help="the GraphQL API, GraphiQL and the REST shim")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_positive_int, default=8000)
    serve.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="server processes sharing the port (with Redis only)",
    )
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.set_defaults(func=_cmd_serve)

    worker = sub.add_parser("worker", help="run an arq worker (needs FPE_REDIS_URL)")
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    worker.set_defaults(func=_cmd_worker)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "seed":
        args.league = args.league or list(DEFAULT_SEED_LEAGUES)
        args.season = args.season or list(DEFAULT_SEED_SEASONS)
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
