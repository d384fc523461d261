"""``fpe leagues``: the leagues in the database and how fresh their data is: the last match, and
when a file of each was last ingested.

Examples::

    fpe leagues
    fpe leagues --json
"""

from __future__ import annotations

import argparse

from server.cli.common import print_listing
from server.cli.options import add_command

__all__ = ["add_parser", "leagues"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, __name__, __doc__, handler=leagues)
    parser.add_argument("--json", action="store_true", help="print the leagues as JSON")


HEADER = (
    f"{'code':<6}{'league':<20}{'country':<13}{'matches':>8}  {'seasons':<12}"
    f"{'last match':<12}last ingest (UTC)"
)


def _line(r: dict) -> str:
    seasons = r["seasons"]
    span = f"{seasons[-1]}-{seasons[0]}" if seasons else "-"
    last = r["last_match_date"].isoformat() if r["last_match_date"] else "-"
    ingest = f"{r['last_ingest_at']:%Y-%m-%d %H:%M}" if r["last_ingest_at"] else "-"
    return (
        f"{r['code']:<6}{r['name'][:19]:<20}{r['country'][:12]:<13}{r['match_count']:>8}  "
        f"{span:<12}{last:<12}{ingest}"
    )


def leagues(args: argparse.Namespace) -> int:
    from server.store import catalog

    return print_listing(catalog.list_leagues, args.json, HEADER, _line)
