"""``fpe models``: model versions and their validation metrics, newest first."""

from __future__ import annotations

import argparse
from typing import Any

from server.cli import modelfiles
from server.cli.common import print_listing
from server.cli.options import add_command, add_listing_options
from server.cli.values import MODEL_STATES, MODEL_TYPES

__all__ = ["add_parser", "models"]

HEADER = (
    f"{'version':<40}{'status':<10}{'matches':>8}{'RPS':>9}{'log loss':>10}{'Brier':>9}  leagues"
)


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "models",
        "model versions, newest first",
        [
            "fpe models",
            "fpe models --type full --status active --json",
            "fpe models export full-20251126T190302Z-1a2b3c backups/  # Model/full/<version>.json",
            "fpe models import backups/Model/full/full-20251126T190302Z-1a2b3c.json",
        ],
    )
    parser.add_argument(
        "--type", choices=MODEL_TYPES, default=None, help="only the models of this type"
    )
    add_listing_options(
        parser,
        "models",
        MODEL_STATES,
        "only the active models (one per type, used by predict) or the archived ones",
    )
    parser.set_defaults(handler=models)
    actions = parser.add_subparsers(
        dest="action", metavar="ACTION", help="export or import a version (default: list)"
    )
    modelfiles.add_parsers(actions)


def _line(m: dict[str, Any]) -> str:
    def metric(key: str) -> str:
        return "-" if m[key] is None else f"{m[key]:.5f}"

    return (
        f"{m['version']:<40}{m['status']:<10}{m['training_matches'] or 0:>8}"
        f"{metric('rps'):>9}{metric('log_loss'):>10}{metric('brier_score'):>9}  "
        f"{','.join(m['training_leagues'] or [])}"
    )


def models(args: argparse.Namespace) -> int:
    from server.runs import registry

    return print_listing(
        lambda engine: registry.list_models(engine, args.status, args.type, args.limit),
        args.json,
        HEADER,
        _line,
    )
