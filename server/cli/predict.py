"""``fpe predict``: probabilities and markets for one fixture (--home/--away), or for every row
of a fixtures file (--fixtures) with edges against its best prices.

Examples::

    fpe predict --home Arsenal --away Chelsea
    fpe predict --home Arsenal --away Chelsea --odds 2.1 3.5 3.6 --over-under 1.9 1.95
    fpe predict --fixtures fixtures.csv --csv > predictions.csv
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from server.cli.common import (
    EXIT_DATA,
    EXIT_USAGE,
    markets_json,
    print_markets,
    run,
    run_with_engine,
)
from server.cli.options import add_command, add_prices

if TYPE_CHECKING:
    from server.runs.predictions import FixtureResult

__all__ = ["FIXTURE_COLUMNS", "add_parser", "predict"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    pr = add_command(commands, __name__, __doc__, handler=predict)
    pr.add_argument("--home", help="the home team, as the data names it (e.g. Arsenal)")
    pr.add_argument("--away", help="the away team, as the data names it")
    pr.add_argument(
        "--fixtures",
        metavar="FILE",
        help="a football-data.co.uk fixtures.csv: one row per fixture with edges against "
        "its best pre-match prices",
    )
    pr.add_argument("--league", default=None, help="needed when a name exists in two countries")
    pr.add_argument(
        "--date",
        type=_iso_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="the match's date (refused when more than two years from today)",
    )
    pr.add_argument("--model", default=None, help="a version (default: the active full model)")
    add_prices(pr, required=False, use=" for the market blend")
    pr_format = pr.add_mutually_exclusive_group()
    pr_format.add_argument("--json", action="store_true", help="print JSON")
    pr_format.add_argument("--csv", action="store_true", help="with --fixtures: CSV rows")


def _iso_date(text: str) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _check(args: argparse.Namespace) -> None:
    def usage(message: str) -> None:
        sys.stderr.write(f"fpe predict: error: {message}\n")
        raise SystemExit(EXIT_USAGE)

    if args.fixtures and (args.home or args.away or args.odds or args.date):
        usage(
            "--fixtures reads teams, dates and odds from the file: drop --home, --away, "
            "--date, --odds"
        )
    if not args.fixtures and not (args.home and args.away):
        usage("give --home and --away, or --fixtures FILE")
    if args.csv and not args.fixtures:
        usage("--csv needs --fixtures")


def predict(args: argparse.Namespace) -> int:
    _check(args)
    from server.base.config import Settings
    from server.runs import predictions
    from server.store.lite import LiteReader

    if args.fixtures:
        return _predict_fixtures(args)

    async def work(engine: Any) -> int:
        result = await predictions.predict(
            engine,
            args.home,
            args.away,
            args.league,
            args.model,
            tuple(args.odds) if args.odds else None,
            over_under=tuple(args.over_under) if args.over_under else None,
            line=args.line,
            day=args.date,
        )
        p = result.prediction
        assert p is not None
        if args.json:
            print(json.dumps(_prediction_json(result), indent=2))
            return 0
        print(f"{result.home_team} v {result.away_team}  (model {p.model_version})")
        print_markets(p.outcomes, p.markets)
        return 0

    settings = Settings.from_env()
    reader = LiteReader.open(settings.database_url)
    if reader is None:  # PostgreSQL, or an embedded file to create or upgrade first
        return run_with_engine(settings, work)
    try:  # the embedded file as it is, read without SQLAlchemy: a fast answer
        return run(work(reader))
    finally:
        reader.close()


def _prediction_json(result: FixtureResult) -> dict[str, Any]:
    """One fixture's ``--json``: the markets of the grid, the final 1X2 and the goal
    model's own."""
    p = result.prediction
    assert p is not None
    out: dict[str, Any] = {
        "model_version": p.model_version,
        "model_type": p.model_type,
        "home_team": result.home_team,
        "away_team": result.away_team,
        **markets_json(p.markets),
    }
    out.update(home_win=p.outcomes.home, draw=p.outcomes.draw, away_win=p.outcomes.away)
    out["used_odds"] = p.used_odds
    out["goal_model"] = {
        "home_win": p.goal_model.home,
        "draw": p.goal_model.draw,
        "away_win": p.goal_model.away,
        "expected_goals": {"home": p.goal_model_xg.home, "away": p.goal_model_xg.away},
    }
    return out


FIXTURE_COLUMNS = (
    "line", "date", "league", "home", "away", "p_home", "p_draw", "p_away", "xg_home",
    "xg_away", "over25", "btts", "best_home", "best_draw", "best_away", "edge_home",
    "edge_draw", "edge_away", "edge_over25", "edge_under25", "model", "error", "notes",
)  # fmt: skip


def _fixture_record(line: int, result: FixtureResult) -> dict[str, Any]:
    f = result.fixture
    date = f["date"].isoformat() if f.get("date") else None
    record: dict[str, Any] = dict.fromkeys(FIXTURE_COLUMNS)
    record.update(line=line, date=date, league=f.get("league"), home=f["home"], away=f["away"])
    record["notes"] = "; ".join(result.notes) or None
    p = result.prediction
    if p is None:
        record["error"] = result.error
        return record
    m = p.markets
    record.update(model=p.model_version, home=result.home_team, away=result.away_team)
    record.update(xg_home=m.expected_goals.home, xg_away=m.expected_goals.away)
    record.update(over25=m.totals[2.5].over, btts=m.btts)
    for k in ("home", "draw", "away"):
        record[f"p_{k}"] = getattr(p.outcomes, k)
        record[f"best_{k}"] = None if p.edge_odds is None else getattr(p.edge_odds, k)
        record[f"edge_{k}"] = None if p.edge is None else getattr(p.edge, k)
    if p.edge_over_under is not None:
        record["edge_over25"] = p.edge_over_under.over
        record["edge_under25"] = p.edge_over_under.under
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

    async def work(engine: Any) -> list[tuple[int, FixtureResult]]:
        return await predictions.predict_fixture_rows(
            engine, rows, args.model, args.league, args.fixtures
        )

    records = []
    for line, result in run_with_engine(Settings.from_env(), work):
        record = _fixture_record(line, result)
        where = f"{args.fixtures}:{line}: {record['home']} v {record['away']}"
        for note in result.notes:
            print(f"{where}: note: {note}", file=sys.stderr)
        if record["error"]:
            print(f"{where}: {record['error']}", file=sys.stderr)
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
