"""``fpe models``: model versions and their validation metrics, newest first; show one, compare
two, export or import one.

Examples::

    fpe models
    fpe models --type full --status active --json
    fpe models --league E1 --status candidate
    fpe models show full-20251126T190302Z-1a2b3c
    fpe models compare full-20251126T190302Z-1a2b3c full-20251203T081500Z-9f8e7d
    fpe models export full-20251126T190302Z-1a2b3c backups/  # Model/full/<version>.json
    fpe models import backups/Model/full/full-20251126T190302Z-1a2b3c.json
"""

from __future__ import annotations

import argparse
from typing import Any

from server.cli import compare, modelfiles
from server.cli.common import print_listing
from server.cli.options import add_command, add_listing_options
from server.cli.values import MODEL_STATES, MODEL_TYPES, league

__all__ = ["add_parser", "models"]

# the model's matches: fitted on (the whole selection, after validation), validated on
HEADER = (
    f"{'version':<40}{'status':<10}{'fitted':>8}{'validated':>10}{'RPS':>9}{'log loss':>10}"
    f"{'Brier':>9}  {'data to':<11}leagues"
)
CANDIDATE = "candidate"  # a completed version that was not activated


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, __name__, __doc__, handler=models)
    parser.add_argument(
        "--type", choices=MODEL_TYPES, default=None, help="only the models of this type"
    )
    parser.add_argument(
        "--league", type=league, default=None, help="only the models whose leagues include it"
    )
    add_listing_options(
        parser,
        "models",
        (*MODEL_STATES, CANDIDATE),
        "only the active models (one per type and league set, used by predict), the "
        "archived ones, or the candidates (trained, not activated)",
    )
    actions = parser.add_subparsers(
        dest="action",
        metavar="ACTION",
        help="show VERSION, compare A B, export VERSION [FILE] or import FILE (default: list)",
    )
    compare.add_parsers(actions)
    modelfiles.add_parsers(actions)


def _line(m: dict[str, Any]) -> str:
    def metric(key: str) -> str:
        return "-" if m[key] is None else f"{m[key]:.5f}"

    status = CANDIDATE if m["status"] == "completed" else m["status"]
    validated = (m.get("metrics") or {}).get("n")
    return (
        f"{m['version']:<40}{status:<10}{m['training_matches'] or 0:>8}"
        f"{'-' if validated is None else validated:>10}{metric('rps'):>9}"
        f"{metric('log_loss'):>10}{metric('brier_score'):>9}  "
        f"{m.get('data_to') or '-'!s:<11}{','.join(m['training_leagues'] or [])}"
    )


def models(args: argparse.Namespace) -> int:
    from server.runs import registry

    status = "completed" if args.status == CANDIDATE else args.status
    return print_listing(
        lambda engine: registry.list_models(
            engine, status, args.type, args.limit, league=args.league
        ),
        args.json,
        HEADER,
        _line,
    )
