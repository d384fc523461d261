"""``fpe models``: model versions and their validation metrics, newest first."""

from __future__ import annotations

import argparse
import json
from typing import Any

from server.cli.common import run_async
from server.cli.options import MODEL_TYPES, STATUSES, positive_int

__all__ = ["add_parser", "models"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("models", help="model versions, newest first")
    parser.add_argument("--type", choices=MODEL_TYPES, default=None)
    parser.add_argument("--status", choices=STATUSES, default=None)
    parser.add_argument("--limit", type=positive_int, default=20)
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=models)


def models(args: argparse.Namespace) -> int:
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

    return run_async(Settings.from_env(), work)
