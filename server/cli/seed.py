"""``fpe seed``: first-run data into an empty database, from a local folder or recent seasons of
the big leagues, downloaded.

Examples::

    fpe seed
    fpe seed --from ~/football-data
    fpe seed --league E0 --season 2425 --force
"""

from __future__ import annotations

import argparse
import os
import sys

from server.cli.common import database_errors, ingest_files, report_files, run
from server.cli.options import add_command, add_selection

__all__ = ["DEFAULT_SEED_LEAGUES", "DEFAULT_SEED_SEASONS", "add_parser", "seed"]

DEFAULT_SEED_LEAGUES = ("E0", "SP1", "D1", "I1", "F1")
DEFAULT_SEED_SEASONS = ("2324", "2425")


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, __name__, __doc__, handler=seed)
    parser.add_argument(
        "--from",
        dest="source",
        metavar="DIR",
        help="ingest this folder instead of downloading (or FPE_SEED_DIR)",
    )
    add_selection(
        parser,
        leagues=(False, f"; default {' '.join(DEFAULT_SEED_LEAGUES)}"),
        seasons=(False, f"; default {' '.join(DEFAULT_SEED_SEASONS)}"),
    )
    parser.add_argument("--force", action="store_true", help="load even if there are matches")


def seed(args: argparse.Namespace) -> int:
    """First-run data: a local folder, or a few recent seasons downloaded; a database that
    already has matches is left alone (unless --force)."""
    from server.base.config import Settings
    from server.store import catalog
    from server.store.connect import open_database
    from server.store.download import DownloadError, download

    league_codes = args.league or list(DEFAULT_SEED_LEAGUES)
    season_codes = args.season or list(DEFAULT_SEED_SEASONS)
    settings = Settings.from_env()
    source = args.source or os.environ.get("FPE_SEED_DIR")

    async def load() -> int:
        engine = await open_database(settings)
        try:
            leagues = await catalog.list_leagues(engine)
        finally:
            await engine.dispose()
        present = sum(lg["match_count"] for lg in leagues)
        if present and not args.force:
            print(
                f"the database already has {present} matches: nothing to seed "
                "(--force to load anyway)",
                file=sys.stderr,
            )
            return 0
        if source:
            paths = [source]
        else:
            base = settings.download_base_url
            print(
                f"downloading {', '.join(league_codes)} x {', '.join(season_codes)} from {base}",
                file=sys.stderr,
            )
            try:
                got = await download(base, settings.data_dir, league_codes, season_codes)
            except DownloadError as exc:
                raise DownloadError(
                    f"{exc}\nno internet? seed from local football-data.co.uk files instead: "
                    "scripts/run --from DIR (fpe seed --from DIR), or set FPE_SEED_DIR=DIR"
                ) from exc
            paths = [str(p) for p in got]
        reports = await ingest_files(settings, paths)
        return report_files(reports, as_json=False)

    return run(database_errors(load(), settings))
