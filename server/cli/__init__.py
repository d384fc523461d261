"""The ``fpe`` command line: a thin adapter over the service functions.

Bad command lines (unknown options, malformed values, a date range backwards) exit 2 with
argparse's usage message; failures while running (unreadable files, unknown teams, an
unreachable database) print one line and exit 1.  Tracebacks are reserved for bugs.

Start-up is kept fast: numpy, pandas, LightGBM, SQLAlchemy and Strawberry are imported by
the commands that use them, so ``fpe --help`` and ``fpe --version`` import none of them
(``benchmarks/cli_startup.py``).  The choices below mirror the core's and a test keeps
them equal.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from server.base.config import Settings
    from server.store.ingest import FileReport

EXIT_USAGE = 2
EXIT_DATA = 1

# mirrors of core.pipeline.MODEL_TYPES, core.odds.METHODS, core.backtest.DEFAULT_XI /
# DEFAULT_L2, core.forecast.MARKET_XI / MARKET_L2 and server.store.tables.ModelStatus
# (tests/test_cli.py checks they agree)
MODEL_TYPES = ("poisson", "blending", "calibration", "draw", "full")
MARGIN_METHODS = ("multiplicative", "power", "shin")
DEFAULT_XI = 0.0025
DEFAULT_L2 = 4.0
MARKET_XI = 0.02
MARKET_L2 = 0.1
STATUSES = ("active", "archived", "failed", "training", "queued", "completed", "cancelled")


__all__ = ["build_parser", "main"]


def _load(paths: Sequence[str]) -> pd.DataFrame:
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


def _cmd_backtest(args: argparse.Namespace) -> int:
    from core import evaluation
    from server.cli.terminal import ProgressBar

    frame = _load(args.paths)
    bar = ProgressBar("backtest")
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
        progress=bar.update,  # (fraction, message)
    )
    bar.close()
    if args.predictions:
        report.predictions.to_csv(args.predictions, index=False)
    if args.json:
        print(json.dumps(report.summary, indent=2))
    else:
        print(evaluation.format_report(report.summary))
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    import numpy as np

    from core import DixonColes

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
    from server.base.config import Settings
    from server.store import migrations
    from server.store.db import create_engine, describe

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

    return _run(_database_errors(run(), settings))


async def _database_errors(coro: Any, settings: Settings) -> Any:
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


def _report_files(reports: list[FileReport], as_json: bool) -> int:
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


async def _ingest(settings: Settings, paths: Sequence[str]) -> list[FileReport]:
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


def _cmd_ingest(args: argparse.Namespace) -> int:
    from server.base.config import Settings

    settings = Settings.from_env()
    reports = _run(_database_errors(_ingest(settings, args.paths), settings))
    return _report_files(reports, args.json)


def _cmd_download(args: argparse.Namespace) -> int:
    from server.base.config import Settings
    from server.store.download import download

    settings = Settings.from_env()
    leagues, seasons = args.league, args.season
    base = args.base_url or settings.download_base_url
    paths = _run(download(base, settings.data_dir, leagues, seasons))
    for path in paths:
        print(f"saved {path}", file=sys.stderr)
    if args.no_ingest:
        return 0
    reports = _run(_database_errors(_ingest(settings, [str(p) for p in paths]), settings))
    return _report_files(reports, args.json)


async def _with_services(settings: Settings, work: Any) -> Any:
    from server.runs.services import open_services

    services = await open_services(settings)
    try:
        return await work(services)
    finally:
        await services.close()


def _run_async(settings: Settings, work: Any) -> Any:
    return _run(_database_errors(_with_services(settings, work), settings))


def _cmd_train(args: argparse.Namespace) -> int:
    from server.base.config import Settings
    from server.cli.terminal import ProgressBar
    from server.runs import training
    from server.runs.serialize import json_ready
    from server.runs.services import follow_run, start_training

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
        if m.get("draw"):
            lines.extend(_describe_draws(m["draw"]))
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


def _describe_draws(d: dict[str, Any]) -> list[str]:
    """The draw block of a draw model's metrics: calibration and accuracy per forecast."""
    lines = [
        f"draws{'':<10}{'predicted':>10}{'observed':>9}{'Brier':>9}{'log loss':>10}"
        f"{'cal err':>9}{'draw acc':>9}"
    ]
    names = (
        ("model", "model"),
        ("model_without_odds", "model, no odds"),
        ("dixon_coles", "Dixon-Coles"),
        ("poisson", "Poisson"),
        ("model_priced", "model*"),
        ("market", "market*"),
    )
    for key, label in names:
        if not d.get(key):
            continue
        b = d[key]
        acc = b.get("draw_accuracy")
        lines.append(
            f"{label:<15}{b['mean_predicted']:>10.4f}{b['observed_rate']:>9.4f}"
            f"{b['brier']:>9.5f}{b['log_loss']:>10.5f}{b['calibration_error']:>9.4f}"
            f"{'-' if acc is None else f'{acc:.4f}':>9}"
        )
    c = d["vs_dixon_coles"]
    lines.append(
        f"* on the {d['n_with_pre_match_odds']} matches with pre-match odds; RPS model - "
        f"Dixon-Coles: {c['rps_diff']:+.5f} (SE {c['rps_diff_se']:.5f})"
    )
    return lines


def _cmd_runs(args: argparse.Namespace) -> int:
    from server.base.config import Settings
    from server.runs import training
    from server.runs.serialize import json_ready

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
    from server.base.config import Settings
    from server.runs import registry
    from server.runs.serialize import json_ready

    async def work(services: Any) -> int:
        models = await registry.list_models(services.engine, args.status, args.type, args.limit)
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


def _print_markets(p: dict[str, Any]) -> None:
    print(f"home {p['home_win']:.3f}   draw {p['draw']:.3f}   away {p['away_win']:.3f}")
    xg = p["expected_goals"]
    print(
        f"expected goals {xg['home']:.2f} - {xg['away']:.2f}   over 2.5 "
        f"{p['totals']['2.5']['over']:.3f}   both score {p['btts']['yes']:.3f}   "
        f"home -0.5/-1 AH win {p['asian_handicap']['-0.5']['win']:.3f}/"
        f"{p['asian_handicap']['-1']['win']:.3f}"
    )
    grid = p["score_grid"]
    print("score grid (home goals down, away across), %:")
    print("     " + "".join(f"{j:>6}" for j in range(6)))
    for i in range(6):
        print(f"{i:>5}" + "".join(f"{100 * grid[i][j]:>6.1f}" for j in range(6)))


def _cmd_predict(args: argparse.Namespace) -> int:
    from server.base.config import Settings
    from server.runs import predictions

    if args.fixtures:
        return _predict_fixtures(args)

    async def work(services: Any) -> int:
        p = await predictions.predict(
            services.engine,
            args.home,
            args.away,
            args.league,
            args.model,
            tuple(args.odds) if args.odds else None,
            over_under=tuple(args.over_under) if args.over_under else None,
            line=args.line,
        )
        if args.json:
            print(json.dumps(p, indent=2))
            return 0
        print(f"{p['home_team']} v {p['away_team']}  (model {p['model_version']})")
        _print_markets(p)
        return 0

    return _run_async(Settings.from_env(), work)


def _cmd_price(args: argparse.Namespace) -> int:
    from server.runs import predictions

    p = predictions.price(
        tuple(args.odds),
        tuple(args.over_under) if args.over_under else None,
        line=args.line,
        margin=args.margin,
        rho=args.rho,
    )
    if args.json:
        print(json.dumps(p, indent=2))
        return 0
    totals = ""
    if args.over_under:
        totals = f", over/under {args.line:g} {' '.join(f'{o:g}' for o in args.over_under)}"
    print(
        f"fair prices from odds {' '.join(f'{o:g}' for o in args.odds)}{totals}"
        f" ({args.margin} margin removal, rho {p['rho']:+.4f})"
    )
    _print_markets(p)
    return 0


FIXTURE_COLUMNS = (
    "line", "date", "league", "home", "away", "p_home", "p_draw", "p_away", "xg_home",
    "xg_away", "over25", "btts", "best_home", "best_draw", "best_away", "edge_home",
    "edge_draw", "edge_away", "edge_over25", "edge_under25", "model", "error",
)  # fmt: skip


def _fixture_record(line: int, p: dict[str, Any]) -> dict[str, Any]:
    f = p["fixture"]
    date = f["date"].isoformat() if f.get("date") else None
    record: dict[str, Any] = dict.fromkeys(FIXTURE_COLUMNS)
    record.update(line=line, date=date, league=f.get("league"), home=f["home"], away=f["away"])
    if "error" in p:
        record["error"] = p["error"]
        return record
    record.update(
        model=p["model_version"],
        home=p["home_team"],
        away=p["away_team"],
        p_home=p["home_win"],
        p_draw=p["draw"],
        p_away=p["away_win"],
        xg_home=p["expected_goals"]["home"],
        xg_away=p["expected_goals"]["away"],
        over25=p["totals"]["2.5"]["over"],
        btts=p["btts"]["yes"],
    )
    best = p.get("edge_odds") or {}
    edge = p.get("edge") or {}
    for k in ("home", "draw", "away"):
        record[f"best_{k}"], record[f"edge_{k}"] = best.get(k), edge.get(k)
    if p.get("edge_over25"):
        record["edge_over25"] = p["edge_over25"]["over"]
        record["edge_under25"] = p["edge_over25"]["under"]
    return record


def _fixture_table(records: list[dict[str, Any]], model: str) -> str:
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}"

    def signed(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:+.1f}"

    lines = [
        f"{len(records)} fixtures, model {model}; probabilities and edges (model x best "
        "pre-match price - 1) in %",
        f"{'line':>4}  {'date':<10}  {'fixture':<34}{'home':>6}{'draw':>6}{'away':>6}"
        f"{'xG':>10}{'o2.5':>6}{'btts':>6}   {'edge H':>6}{'D':>6}{'A':>6}{'o2.5':>6}",
    ]
    for r in records:
        name = f"{r['home']} v {r['away']}"[:33]
        if r["error"]:
            lines.append(f"{r['line']:>4}  {r['date'] or '':<10}  {name:<34}error: {r['error']}")
            continue
        xg = f"{r['xg_home']:.2f}-{r['xg_away']:.2f}"
        lines.append(
            f"{r['line']:>4}  {r['date'] or '':<10}  {name:<34}{pct(r['p_home']):>6}"
            f"{pct(r['p_draw']):>6}{pct(r['p_away']):>6}{xg:>10}{pct(r['over25']):>6}"
            f"{pct(r['btts']):>6}   {signed(r['edge_home']):>6}{signed(r['edge_draw']):>6}"
            f"{signed(r['edge_away']):>6}{signed(r['edge_over25']):>6}"
        )
    return "\n".join(lines)


def _predict_fixtures(args: argparse.Namespace) -> int:
    """``fpe predict --fixtures FILE``: every row predicted in one pass; a row with an
    unknown team or league is reported with its line and the others still printed."""
    import csv

    from server.base.config import Settings
    from server.formats.fixtures import read_fixtures
    from server.runs import predictions

    rows = read_fixtures(args.fixtures)
    if not rows:
        print(f"fpe: error: {args.fixtures}: no fixtures in the file", file=sys.stderr)
        return EXIT_DATA
    if len(rows) > predictions.MAX_FIXTURES:
        from core.errors import InvalidInputError

        raise InvalidInputError(
            f"{args.fixtures}: {len(rows)} fixtures; at most {predictions.MAX_FIXTURES} "
            "per run: split the file"
        )
    usable = [r for r in rows if r.problem is None]

    async def work(services: Any) -> list[dict[str, Any]]:
        fixtures = [r.fixture for r in usable]
        if args.league:
            fixtures = [f | {"league": f["league"] or args.league} for f in fixtures]
        return await predictions.predict_fixtures(services.engine, fixtures, args.model)

    results = iter(_run_async(Settings.from_env(), work) if usable else [])
    records = []
    for r in rows:
        p = {"fixture": r.fixture, "error": r.problem} if r.problem else next(results)
        record = _fixture_record(r.line, p)
        if record["error"]:
            print(
                f"{args.fixtures}:{r.line}: {record['home']} v {record['away']}: {record['error']}",
                file=sys.stderr,
            )
        records.append(record)
    if args.json:
        print(json.dumps(records, indent=2))
    elif args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=FIXTURE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    else:
        model = next((r["model"] for r in records if r["model"]), args.model or "-")
        print(_fixture_table(records, model))
    return 0 if any(not r["error"] for r in records) else EXIT_DATA


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from server.base.config import Settings
    from server.runs import predictions
    from server.runs.serialize import json_ready

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
    from server.base.config import Settings
    from server.runs.services import cancel_training

    async def work(services: Any) -> int:
        run = await cancel_training(services, args.task_id)
        print(
            f"run {run['task_id']}: {run['status']}"
            + (" (stopping)" if run["status"] == "training" else "")
        )
        return 0

    return _run_async(Settings.from_env(), work)


def _cmd_worker(args: argparse.Namespace) -> int:
    from server.api.observability import configure_logging
    from server.base.config import Settings
    from server.runs.worker import create_worker

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
    from server.base.config import Settings
    from server.store import catalog
    from server.store.connect import open_database
    from server.store.download import DownloadError, download

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
            try:
                got = await download(base, settings.data_dir, args.league, args.season)
            except DownloadError as exc:
                raise DownloadError(
                    f"{exc}\nno internet? seed from local football-data.co.uk files instead: "
                    "scripts/run --from DIR (fpe seed --from DIR), or set FPE_SEED_DIR=DIR"
                ) from exc
            paths = [str(p) for p in got]
        reports = await _ingest(settings, paths)
        return _report_files(reports, as_json=False)

    return _run(_database_errors(run(), settings))


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.api.app import create_app
    from server.api.observability import configure_logging, logging_config, multiprocess_metrics
    from server.base.config import ConfigError, Settings
    from server.store.db import describe

    settings = Settings.from_env()
    if args.workers > 1 and not settings.redis_url:
        raise ConfigError(
            "--workers > 1 needs FPE_REDIS_URL: embedded training runs inside the one "
            "server process"
        )
    configure_logging(args.log_level, settings.log_json)
    mode = "arq workers via Redis" if settings.redis_url else "in-process training (embedded)"
    logging.getLogger("fpe.serve").info(
        "serving http://%s:%s/ (page, /graphql, /api) on %s; %s",
        args.host,
        args.port,
        describe(settings.database_url),
        mode,
    )
    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "lifespan": "on",
        "log_level": args.log_level,
        "log_config": logging_config(args.log_level, settings.log_json),  # in every process
        "access_log": False,  # RequestMetrics writes the access lines
        "ws": "websockets-sansio",
        # a worker process answers uvicorn's health check only once its imports are done
        "timeout_worker_healthcheck": 60,
    }
    with multiprocess_metrics(args.workers):
        if args.workers > 1:  # processes share the port; each has its own event hub
            uvicorn.run("server.api.app:create_app", factory=True, workers=args.workers, **common)
        else:
            uvicorn.run(create_app(settings), **common)
    return 0


def _add_totals_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--over-under",
        type=float,
        nargs=2,
        metavar=("OVER", "UNDER"),
        help="decimal over/under odds: the score grid reproduces them too",
    )
    parser.add_argument("--line", type=float, default=2.5, help="the totals line (2.5)")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _season(text: str) -> str:
    from core.errors import InvalidInputError
    from server.store.download import season_code

    try:
        return season_code(text)
    except InvalidInputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _league(text: str) -> str:
    code = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{1,3}\d?", code):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a football-data.co.uk code such as E0 or SP1"
        )
    return code


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


# a training configuration rejected on these fields is a bad command line (exit 2); on
# leagues and seasons it is about what the database holds (exit 1)
USAGE_FIELDS = {"model_type", "date_from", "date_to", "hyperparameters"}


def _flag_names(message: str) -> str:
    """Say ``--date-from`` where the service said ``date_from``."""
    return re.sub(
        r"\b(model_type|date_from|date_to|refit_days|validation_share|model_version)\b",
        lambda m: FLAGS[m[1]],
        message,
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
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
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fpe", description="Football Probability Engine: goal models, backtests, registry."
    )
    parser.add_argument("--version", action=_Version, help="print the version and exit")
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
        choices=MARGIN_METHODS,
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
        type=_league,
        metavar="CODE",
        help="division code such as E0 (repeatable)",
    )
    dl.add_argument(
        "--season",
        action="append",
        required=True,
        type=_season,
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
    tr.add_argument("--league", action="append", required=True, type=_league, metavar="CODE")
    tr.add_argument(
        "--season",
        action="append",
        type=_season,
        metavar="CODE",
        help="season codes such as 2324 (default: every season of the leagues)",
    )
    tr.add_argument("--date-from", type=_date, metavar="YYYY-MM-DD")
    tr.add_argument("--date-to", type=_date, metavar="YYYY-MM-DD")
    tr.add_argument("--xi", type=_non_negative, help="Dixon-Coles decay PER DAY")
    tr.add_argument("--l2", type=_non_negative, help="prior precision on team strengths")
    tr.add_argument("--refit-days", type=_positive_int, help="walk-forward refit interval")
    tr.add_argument("--validation-share", type=_non_negative, help="last share held out (0.05-0.5)")
    tr.add_argument("--wait", action="store_true", help="follow the run to its end")
    tr.add_argument("--json", action="store_true")
    tr.set_defaults(func=_cmd_train)

    runs = sub.add_parser("runs", help="training run history, newest first")
    runs.add_argument("--status", choices=STATUSES, default=None)
    runs.add_argument("--limit", type=_positive_int, default=20)
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(func=_cmd_runs)

    models = sub.add_parser("models", help="model versions, newest first")
    models.add_argument("--type", choices=MODEL_TYPES, default=None)
    models.add_argument("--status", choices=STATUSES, default=None)
    models.add_argument("--limit", type=_positive_int, default=20)
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=_cmd_models)

    pr = sub.add_parser(
        "predict",
        help="probabilities and markets for one fixture, or every row of a fixtures file",
    )
    pr.add_argument("--home")
    pr.add_argument("--away")
    pr.add_argument(
        "--fixtures",
        metavar="FILE",
        help="a football-data.co.uk fixtures.csv: one row per fixture with edges against "
        "its best pre-match prices",
    )
    pr.add_argument("--league", default=None, help="needed when a name exists in two countries")
    pr.add_argument("--model", default=None, help="a version (default: the active full model)")
    pr.add_argument(
        "--odds",
        type=float,
        nargs=3,
        metavar=("HOME", "DRAW", "AWAY"),
        help="decimal 1X2 odds for the market blend",
    )
    _add_totals_options(pr)
    pr_format = pr.add_mutually_exclusive_group()
    pr_format.add_argument("--json", action="store_true")
    pr_format.add_argument("--csv", action="store_true", help="with --fixtures: CSV rows")
    pr.set_defaults(func=_cmd_predict)

    price = sub.add_parser(
        "price", help="a fair score grid and every market from 1X2 (+ over/under) odds"
    )
    price.add_argument(
        "--odds",
        type=float,
        nargs=3,
        required=True,
        metavar=("HOME", "DRAW", "AWAY"),
        help="decimal 1X2 odds",
    )
    _add_totals_options(price)
    price.add_argument("--margin", choices=MARGIN_METHODS, default="power")
    price.add_argument(
        "--rho",
        type=float,
        default=0.0,
        help="the grid's low-score dependence without totals odds (default 0)",
    )
    price.add_argument("--json", action="store_true")
    price.set_defaults(func=_cmd_price)

    ev = sub.add_parser("evaluate", help="a model against the market on chosen matches")
    ev.add_argument("--model", default=None, help="a version (default: the active full model)")
    ev.add_argument("--league", action="append", required=True, type=_league, metavar="CODE")
    ev.add_argument("--season", action="append", type=_season, metavar="CODE")
    ev.add_argument("--date-from", type=_date, metavar="YYYY-MM-DD")
    ev.add_argument("--date-to", type=_date, metavar="YYYY-MM-DD")
    ev.add_argument("--margin", choices=MARGIN_METHODS, default="power")
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
    seed.add_argument("--league", action="append", default=None, type=_league, metavar="CODE")
    seed.add_argument("--season", action="append", default=None, type=_season, metavar="CODE")
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


def _run(coro: Any) -> Any:
    import asyncio

    return asyncio.run(coro)


class _Version(argparse.Action):
    """``--version``: the installed package's version (no heavy imports)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("football-probability-engine")
        except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
            number = "unknown (not installed)"
        print(f"fpe {number}")
        parser.exit()


def _check_ranges(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    date_from, date_to = getattr(args, "date_from", None), getattr(args, "date_to", None)
    if date_from and date_to and date_from > date_to:
        parser.exit(
            EXIT_USAGE,
            f"fpe {args.command}: error: --date-from {date_from} is after --date-to {date_to}\n",
        )


def _check_predict(args: argparse.Namespace) -> None:
    def usage(message: str) -> None:
        sys.stderr.write(f"fpe predict: error: {message}\n")
        raise SystemExit(EXIT_USAGE)

    if args.fixtures and (args.home or args.away or args.odds):
        usage("--fixtures reads teams and odds from the file: drop --home, --away, --odds")
    if not args.fixtures and not (args.home and args.away):
        usage("give --home and --away, or --fixtures FILE")
    if args.csv and not args.fixtures:
        usage("--csv needs --fixtures")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_ranges(parser, args)
    if args.command == "predict":
        _check_predict(args)
    if args.command == "seed":
        args.league = args.league or list(DEFAULT_SEED_LEAGUES)
        args.season = args.season or list(DEFAULT_SEED_SEASONS)
    from core.errors import FPEError

    try:
        return int(args.func(args))
    except FPEError as exc:
        message = _flag_names(str(exc))
        if getattr(exc, "field", None) in USAGE_FIELDS:  # a value no database would accept
            parser.exit(EXIT_USAGE, f"fpe {args.command}: error: {message}\n")
        print(f"fpe: error: {message}", file=sys.stderr)
        return EXIT_DATA
    except BrokenPipeError:
        # the reader went away (``fpe runs | head``): end quietly, as Python's docs advise
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_DATA
    except KeyboardInterrupt:
        print("fpe: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(
            f"fpe: error: out of memory in `fpe {args.command}`: the input is too large for "
            "this machine (FPE_MAX_FILE_BYTES limits each file)",
            file=sys.stderr,
        )
        return EXIT_DATA


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
