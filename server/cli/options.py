"""What the command parsers share: the core's choices and defaults (mirrored so that
``fpe --help`` imports nothing heavy; tests/test_cli.py checks they agree), value types
that reject bad input with a usage error, a command's parser with its examples, and the
options several commands take."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import textwrap
from collections.abc import Sequence

__all__ = [
    "DEFAULT_L2",
    "DEFAULT_XI",
    "MARGIN_METHODS",
    "MARKET_L2",
    "MARKET_XI",
    "MODEL_STATES",
    "MODEL_TYPES",
    "PATHS_HELP",
    "RUN_STATES",
    "add_command",
    "add_dates",
    "add_leagues",
    "add_seasons",
    "add_totals_options",
    "date",
    "league",
    "non_negative",
    "positive_int",
    "season",
    "share",
]

# mirrors of core.pipeline.MODEL_TYPES, core.odds.METHODS, core.backtest.DEFAULT_XI /
# DEFAULT_L2, core.forecast.MARKET_XI / MARKET_L2, and of server.store.tables.ModelStatus:
# a run is in one of RUN_STATES (server.runs.runstate.PHASE); a model row is written
# active and archived when another replaces it (server.runs.runner, registry)
MODEL_TYPES = ("poisson", "blending", "calibration", "draw", "full")
MARGIN_METHODS = ("multiplicative", "power", "shin")
DEFAULT_XI = 0.0025
DEFAULT_L2 = 4.0
MARKET_XI = 0.02
MARKET_L2 = 0.1
RUN_STATES = ("queued", "training", "completed", "failed", "cancelled")
MODEL_STATES = ("active", "archived")

PATHS_HELP = "football-data.co.uk CSV files, or folders searched for them recursively"


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value


def non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def season(text: str) -> str:
    from core.errors import InvalidInputError
    from server.store.download import season_code

    try:
        return season_code(text)
    except InvalidInputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def league(text: str) -> str:
    code = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{1,3}\d?", code):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a football-data.co.uk code such as E0 or SP1"
        )
    return code


def add_totals_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--over-under",
        type=float,
        nargs=2,
        metavar=("OVER", "UNDER"),
        help="decimal over/under odds: the score grid reproduces them too",
    )
    parser.add_argument("--line", type=float, default=2.5, help="the totals line (2.5)")


def add_command(
    commands: argparse._SubParsersAction, name: str, summary: str, examples: Sequence[str]
) -> argparse.ArgumentParser:
    """The parser of ``fpe NAME``: ``summary`` in the command list and atop its help,
    ``examples`` (command lines, each with an optional ``#`` remark) at the bottom."""
    epilog = "examples:\n" + "\n".join(f"  {example}" for example in examples)
    return commands.add_parser(
        name,
        help=summary,
        description=textwrap.fill(summary, 79),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_leagues(parser: argparse.ArgumentParser, *, required: bool, default: str) -> None:
    parser.add_argument(
        "--league",
        action="append",
        required=required,
        type=league,
        metavar="CODE",
        help=f"football-data.co.uk division code such as E0 or SP1 (repeatable{default})",
    )


def add_seasons(parser: argparse.ArgumentParser, *, required: bool, default: str) -> None:
    parser.add_argument(
        "--season",
        action="append",
        required=required,
        type=season,
        metavar="CODE",
        help=f"season code such as 2324 for 2023-24 (repeatable{default})",
    )


def add_dates(parser: argparse.ArgumentParser, what: str) -> None:
    """``--date-from`` and ``--date-to``: the match dates ``what`` covers, both included."""
    for flag, end in (("--date-from", "first"), ("--date-to", "last")):
        parser.add_argument(
            flag, type=date, metavar="YYYY-MM-DD", help=f"the {end} match date {what}"
        )
