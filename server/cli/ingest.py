"""``fpe ingest``: football-data.co.uk files into the database, idempotently."""

from __future__ import annotations

import argparse

from server.cli.common import database_errors, ingest_files, report_files, run

__all__ = ["add_parser", "ingest"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "ingest", help="load football-data.co.uk files into the database (idempotent)"
    )
    parser.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    parser.add_argument("--json", action="store_true", help="print the per-file reports as JSON")
    parser.set_defaults(handler=ingest)


def ingest(args: argparse.Namespace) -> int:
    from server.base.config import Settings

    settings = Settings.from_env()
    reports = run(database_errors(ingest_files(settings, args.paths), settings))
    return report_files(reports, args.json)
