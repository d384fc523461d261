"""``fpe refresh``: keep the models current: download this season's files of the active models'
leagues, ingest them and retrain every active model up to today (what FPE_REFRESH schedules);
--status shows the schedule.

Examples::

    fpe refresh
    fpe refresh --status --json
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from server.cli.common import run_async
from server.cli.options import add_command

__all__ = ["add_parser", "refresh"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, __name__, __doc__, handler=refresh)
    parser.add_argument(
        "--status",
        action="store_true",
        help="show the schedule (FPE_REFRESH, FPE_REFRESH_AT), the next refresh and the last",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def refresh(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from server.base.config import Settings
    from server.runs import refresh as service
    from server.runs.serialize import json_ready

    settings = Settings.from_env()

    async def work(services: Any) -> int:
        now = datetime.now(UTC)
        if args.status:
            out = await service.status(
                services.engine, service.Schedule.from_settings(settings), now
            )
            text = f"scheduled refresh: {out['description']}"
            if out["next_due"]:
                text += f"; next due {out['next_due']:%Y-%m-%d %H:%M} UTC"
            if out["last_run_at"]:
                text += f"; last run {out['last_run_at']:%Y-%m-%d %H:%M} UTC"
        else:
            out = await service.refresh(services, today=now.date())
            lines = [f"season {out['season']}: downloaded {', '.join(out['downloaded']) or '-'}"]
            lines += [f"  not downloaded {k}: {v}" for k, v in out["failed"].items()]
            lines += [f"  {line}" for line in out["ingested"]]
            for run in out["runs"]:
                lines.append(
                    f"retraining {run['model']}: "
                    + (f"task {run['task_id']}" if "task_id" in run else f"error: {run['error']}")
                )
            if not out["runs"]:
                lines.append("no active model: nothing to retrain")
            text = "\n".join(lines)
        print(json.dumps(json_ready(out), indent=2) if args.json else text)
        return 0

    return run_async(settings, work)
