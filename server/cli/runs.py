"""``fpe runs``: the training history, newest first."""

from __future__ import annotations

import argparse
import json
from typing import Any

from server.cli.common import run_async
from server.cli.options import STATUSES, positive_int

__all__ = ["add_parser", "runs"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("runs", help="training run history, newest first")
    parser.add_argument("--status", choices=STATUSES, default=None)
    parser.add_argument("--limit", type=positive_int, default=20)
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=runs)


def runs(args: argparse.Namespace) -> int:
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

    return run_async(Settings.from_env(), work)
