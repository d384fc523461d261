"""``fpe cancel``: stop a queued or running training run.

Examples::

    fpe cancel 37e8ceec40424ebea273d1a054c5579f   # a task id from fpe runs
"""

from __future__ import annotations

import argparse
from typing import Any

from server.cli.common import run_async
from server.cli.options import add_command

__all__ = ["add_parser", "cancel"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, __name__, __doc__, handler=cancel)
    parser.add_argument("task_id", help="the run's task id, as fpe train and fpe runs print it")


def cancel(args: argparse.Namespace) -> int:
    from server.base.config import Settings
    from server.runs.services import cancel_training

    async def work(services: Any) -> int:
        run = await cancel_training(services, args.task_id)
        print(
            f"run {run['task_id']}: {run['status']}"
            + (" (stopping)" if run["status"] == "training" else "")
        )
        return 0

    return run_async(Settings.from_env(), work)
