"""``fpe runs``: the training history, newest first.

Examples::

    fpe runs
    fpe runs --status failed --limit 5 --json
"""

from __future__ import annotations

import argparse
from typing import Any

from server.cli.common import print_listing
from server.cli.options import add_command, add_listing_options
from server.cli.values import RUN_STATES

__all__ = ["add_parser", "runs"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, __name__, __doc__, handler=runs)
    add_listing_options(parser, "runs", RUN_STATES, "only the runs in this state")


# a run's matches: those its selection holds (the model fits on the part before the
# validation period: `fpe models` shows both)
HEADER = (
    f"{'task id':<34}{'type':<13}{'status':<11}{'selected':>9}{'RPS':>9}  "
    f"{'created (UTC)':<20}model / error"
)


def _line(r: dict[str, Any]) -> str:
    rps = "-" if r["rps"] is None else f"{r['rps']:.5f}"
    tail = r["model_version"] or r["error_message"] or r["message"] or ""
    return (
        f"{r['task_id']:<34}{r['run_type']:<13}{r['status']:<11}"
        f"{r['match_count'] or 0:>9}{rps:>9}  {r['created_at']:%Y-%m-%d %H:%M:%S}   "
        f"{tail[:60]}"
    )


def runs(args: argparse.Namespace) -> int:
    from server.runs import training

    return print_listing(
        lambda engine: training.list_runs(engine, args.status, args.limit), args.json, HEADER, _line
    )
