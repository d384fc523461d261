"""``fpe evaluate``: a stored model against the market on chosen matches.

Examples::

    fpe evaluate --league E0 --season 2425
    fpe evaluate --league E0 --date-from 2025-01-01 --model VERSION --market close
    fpe evaluate --league E0 --model VERSION --held-out
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from server.cli.common import run_async
from server.cli.options import add_command, add_dates, add_margin, add_market, add_selection

__all__ = ["add_parser", "evaluate"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    ev = add_command(commands, __name__, __doc__, handler=evaluate)
    ev.add_argument("--model", default=None, help="a version (default: the active full model)")
    add_selection(ev)
    add_dates(ev, "to evaluate on")
    add_margin(ev)
    add_market(ev)
    ev.add_argument(
        "--held-out",
        action="store_true",
        help="score the --model version's held-out forecasts of its validation matches (made "
        "by the fit on the data before them: out of sample) instead of the stored model, "
        "which was refitted on them; selected matches without one are not scored",
    )
    ev.add_argument("--json", action="store_true", help="print JSON")


def evaluate(args: argparse.Namespace) -> int:
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
            services.engine,
            args.model,
            selection,
            args.margin,
            args.market,
            held_out=True if args.held_out else None,
        )
        if args.json:
            print(json.dumps(json_ready(result), indent=2))
            return 0
        print(
            f"model {result['model_version']} on {result['n']} matches "
            f"({result['period']['from']} to {result['period']['to']})"
        )
        print(f"forecasts: {result['forecasts']}")
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
        from core.betting import format_betting

        for line in format_betting(result["betting"], "model"):
            print(line)
        if result["in_sample_matches"]:
            print(
                f"warning: {result['in_sample_matches']} of these matches are from the "
                "model's training period (in-sample)"
            )
        if result["skipped_without_forecast"]:
            print(
                f"skipped {result['skipped_without_forecast']} matches without a held-out "
                "forecast (outside the version's validation period)"
            )
        if result["skipped_unknown_teams"]:
            print(
                f"skipped {result['skipped_unknown_teams']} matches of teams the model "
                "does not know"
            )
        return 0

    return run_async(Settings.from_env(), work)
