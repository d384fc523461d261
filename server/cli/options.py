"""What the command parsers share: a command's parser with its summary and examples, and
the options several commands take, with one help text each."""

from __future__ import annotations

import argparse
import re
import textwrap
from collections.abc import Callable, Sequence

from server.cli.values import MARGIN_METHODS, date, league, positive_int, season

__all__ = [
    "PATHS_HELP",
    "add_command",
    "add_dates",
    "add_listing_options",
    "add_margin",
    "add_market",
    "add_prices",
    "add_selection",
]

_DOC = re.compile(r"^``fpe [a-z]+``: ")

PATHS_HELP = "football-data.co.uk CSV files, or folders searched for them recursively"


def add_command(
    commands: argparse._SubParsersAction,
    module: str,
    doc: str | None,
    handler: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    """The parser of the command that ``module`` (``__name__``) names, from the module's
    docstring ``doc``: its first paragraph after ``"``fpe NAME``: "`` is the summary, in
    the command list and atop the help; the indented lines after ``Examples::`` (command
    lines, each with an optional ``#`` remark) go at the bottom.  ``handler(args)`` runs
    the command."""
    name = module.rpartition(".")[2]
    first, _, rest = (doc or "").partition("\n\n")
    summary = _DOC.sub("", " ".join(first.split())).rstrip(".")
    lines = rest.partition("Examples::")[2].splitlines()
    examples = [line.strip() for line in lines if line.strip()]
    epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples) if examples else None
    parser = commands.add_parser(
        name,
        help=summary,
        description=textwrap.fill(summary, 79),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler)
    return parser


def add_selection(
    parser: argparse.ArgumentParser,
    *,
    leagues: tuple[bool, str] = (True, ""),
    seasons: tuple[bool, str] = (False, "; default: every season of the leagues"),
) -> None:
    """``--league`` and ``--season``, each repeatable: (required, what the default is)."""
    for flag, kind, what, (required, default) in (
        ("--league", league, "football-data.co.uk division code such as E0 or SP1", leagues),
        ("--season", season, "season code such as 2324 for 2023-24", seasons),
    ):
        parser.add_argument(
            flag,
            action="append",
            required=required,
            type=kind,
            metavar="CODE",
            help=f"{what} (repeatable{default})",
        )


def add_dates(parser: argparse.ArgumentParser, what: str) -> None:
    """``--date-from`` and ``--date-to``: the match dates ``what`` covers, both included."""
    for flag, end in (("--date-from", "first"), ("--date-to", "last")):
        parser.add_argument(
            flag, type=date, metavar="YYYY-MM-DD", help=f"the {end} match date {what}"
        )


def add_margin(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--margin",
        choices=MARGIN_METHODS,
        default="power",
        help="how to remove the bookmaker margin (default power)",
    )


def add_market(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--market",
        choices=("pre", "close"),
        default="pre",
        help="the market to compare with: pre-match (default; what a forecast issued before "
        "the match competes with) or closing (the ceiling)",
    )


def add_prices(parser: argparse.ArgumentParser, *, required: bool, use: str = "") -> None:
    """A fixture's prices: ``--odds`` (1X2, ``required`` or not, ``use`` says what for),
    ``--over-under`` and its ``--line``."""
    parser.add_argument(
        "--odds",
        type=float,
        nargs=3,
        required=required,
        metavar=("HOME", "DRAW", "AWAY"),
        help=f"decimal 1X2 odds{use}",
    )
    parser.add_argument(
        "--over-under",
        type=float,
        nargs=2,
        metavar=("OVER", "UNDER"),
        help="decimal over/under odds: the score grid reproduces them too",
    )
    parser.add_argument("--line", type=float, default=2.5, help="the totals line (2.5)")


def add_listing_options(
    parser: argparse.ArgumentParser, rows: str, states: Sequence[str], state_help: str
) -> None:
    """``--status``, ``--limit`` and ``--json`` of a listing of ``rows`` (runs, models)."""
    parser.add_argument("--status", choices=states, default=None, help=state_help)
    parser.add_argument(
        "--limit",
        type=positive_int,
        default=20,
        help=f"how many {rows} to show (default 20, up to 500)",
    )
    parser.add_argument("--json", action="store_true", help=f"print the {rows} as JSON")
