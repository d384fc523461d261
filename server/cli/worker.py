"""``fpe worker``: an arq worker that runs queued training runs (needs FPE_REDIS_URL).

Examples::

    FPE_REDIS_URL=redis://localhost:6379 fpe worker
    fpe worker --burst   # run what is queued, then exit
"""

from __future__ import annotations

import argparse

from server.cli.options import add_command

__all__ = ["add_parser", "worker"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, __name__, __doc__, handler=worker)
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")


def worker(args: argparse.Namespace) -> int:
    from server.api.observability import configure_logging
    from server.base.config import Settings
    from server.runs.worker import create_worker

    settings = Settings.from_env()
    arq_worker = create_worker(settings, burst=args.burst)  # a configuration error stops here
    configure_logging("info", settings.log_json)
    arq_worker.run()
    return 0
