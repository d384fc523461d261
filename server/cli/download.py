"""``fpe download``: season files fetched from football-data.co.uk, kept, then ingested.

Examples::

    fpe download --league E0 --season 2425
    fpe download --league E0 --league SP1 --season 2324 --season 2425 --no-ingest
"""

from __future__ import annotations

import argparse
import sys

from server.cli.common import database_errors, ingest_files, report_files, run
from server.cli.options import add_command, add_selection

__all__ = ["add_parser", "download"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    dl = add_command(commands, __name__, __doc__, handler=download)
    add_selection(dl, seasons=(True, "; every league x every season"))
    dl.add_argument(
        "--base-url",
        default=None,
        help="file root (default: FPE_DOWNLOAD_BASE_URL or football-data.co.uk)",
    )
    dl.add_argument("--no-ingest", action="store_true", help="only download")
    dl.add_argument("--json", action="store_true", help="print the per-file reports as JSON")


def download(args: argparse.Namespace) -> int:
    from server.base.config import Settings
    from server.store import download as files

    settings = Settings.from_env()
    leagues, seasons = args.league, args.season
    base = args.base_url or settings.download_base_url
    paths = run(files.download(base, settings.data_dir, leagues, seasons))
    for path in paths:
        print(f"saved {path}", file=sys.stderr)
    if args.no_ingest:
        return 0
    reports = run(database_errors(ingest_files(settings, [str(p) for p in paths]), settings))
    return report_files(reports, args.json)
