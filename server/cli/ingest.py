"""``fpe ingest``: football-data.co.uk files loaded into the database, idempotently.

Examples::

    fpe ingest football-data/2324/E0.csv
    fpe ingest football-data/   # every CSV below the folder
"""

from __future__ import annotations

import argparse

from server.cli.common import database_errors, ingest_files, report_files, run
from server.cli.options import PATHS_HELP, add_command

__all__ = ["add_parser", "ingest"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, __name__, __doc__, handler=ingest)
    parser.add_argument("paths", nargs="+", metavar="FILE_OR_DIR", help=PATHS_HELP)
    parser.add_argument("--json", action="store_true", help="print the per-file reports as JSON")


def ingest(args: argparse.Namespace) -> int:
    from server.base.config import Settings

    settings = Settings.from_env()
    reports = run(database_errors(ingest_files(settings, args.paths), settings))
    return report_files(reports, args.json)
