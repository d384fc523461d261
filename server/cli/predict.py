"""``fpe predict``: probabilities and markets for one fixture (``--home``/``--away``), or
for every row of a fixtures file (``--fixtures``) with edges against its best prices."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from server.cli.common import EXIT_DATA, EXIT_USAGE, print_markets, run_with_engine
from server.cli.options import add_command, add_totals_options

__all__ = ["FIXTURE_COLUMNS", "add_parser", "predict"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    pr = add_command(
        commands,
        "predict",
        "probabilities and markets for one fixture, or every row of a fixtures file",
        [
            "fpe predict --home Arsenal --away Chelsea",
            "fpe predict --home Arsenal --away Chelsea --odds 2.1 3.5 3.6 --over-under 1.9 1.95",
            "fpe predict --fixtures fixtures.csv --csv > predictions.csv",
        ],
    )
    pr.add_argument("--home", help="the home team, as the data names it (e.g. Arsenal)")
    pr.add_argument("--away", help="the away team, as the data names it")
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
    add_totals_options(pr)
    pr_format = pr.add_mutually_exclusive_group()
    pr_format.add_argument("--json", action="store_true", help="print JSON")
    pr_format.add_argument("--csv", action="store_true", help="with --fixtures: CSV rows")
    pr.set_defaults(handler=predict)


def _check(args: argparse.Namespace) -> None:
    def usage(message: str) -> None:
        sys.stderr.write(f"fpe predict: error: {message}\n")
        raise SystemExit(EXIT_USAGE)

    if args.fixtures and (args.home or args.away or args.odds):
        usage("--fixtures reads teams and odds from the file: drop --home, --away, --odds")
    if not args.fixtures and not (args.home and args.away):
        usage("give --home and --away, or --fixtures FILE")
    if args.csv and not args.fixtures:
        usage("--csv needs --fixtures")


def predict(args: argparse.Namespace) -> int:
    _check(args)
    from server.base.config import Settings
    from server.runs import predictions

    if args.fixtures:
        return _predict_fixtures(args)

    async def work(engine: Any) -> int:
        p = await predictions.predict(
            engine,
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
        print_markets(p)
        return 0

    return run_with_engine(Settings.from_env(), work)


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

    async def work(engine: Any) -> list[dict[str, Any]]:
        fixtures = [r.fixture for r in usable]
        if args.league:
            fixtures = [f | {"league": f["league"] or args.league} for f in fixtures]
        return await predictions.predict_fixtures(engine, fixtures, args.model)

    results = iter(run_with_engine(Settings.from_env(), work) if usable else [])
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
