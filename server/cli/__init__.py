"""The ``fpe`` command line: a thin adapter over the service functions.

Each command lives in its own module (``server/cli/<command>.py``) with the function that
adds its parser and its handler; :func:`build_parser` assembles them and :func:`main` runs
one, turning errors into a line on stderr and an exit code.

Bad command lines (unknown options, malformed values, a date range backwards) exit 2 with
argparse's usage message; failures while running (unreadable files, unknown teams, an
unreachable database) print one line and exit 1.  Tracebacks are reserved for bugs.

Start-up is kept fast: numpy, pandas, LightGBM, SQLAlchemy and Strawberry are imported by
the handlers that use them, so ``fpe --help`` and ``fpe --version`` import none of them
(``benchmarks/cli_startup.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from server.cli import (
    aliases,
    backtest,
    cancel,
    db,
    download,
    evaluate,
    fit,
    ingest,
    leagues,
    models,
    predict,
    price,
    refresh,
    runs,
    seed,
    serve,
    train,
    worker,
)
from server.cli.common import EXIT_DATA, EXIT_USAGE, USAGE_FIELDS, flag_names
from server.cli.whereabouts import where_things_live

__all__ = ["build_parser", "main"]

# in the order ``fpe --help`` lists them
COMMANDS = (
    backtest,
    fit,
    db,
    ingest,
    download,
    leagues,
    train,
    runs,
    models,
    predict,
    aliases,
    price,
    evaluate,
    cancel,
    refresh,
    seed,
    serve,
    worker,
)

GETTING_STARTED = """\
getting started:
  fpe seed                                   load recent seasons of five big leagues
  fpe train --league E0 --wait               train a model on them; it becomes active
  fpe predict --home Arsenal --away Chelsea  its probabilities for a fixture
  fpe COMMAND --help                         a command's options, with examples"""


class _Version(argparse.Action):
    """``--version``: the installed package's version (no heavy imports)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("football-probability-engine")
        except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
            number = "unknown (not installed)"
        print(f"fpe {number}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fpe",
        description="Football Probability Engine: goal models, backtests, registry.",
        epilog=f"{GETTING_STARTED}\n\n{where_things_live()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def _check_ranges(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    date_from, date_to = getattr(args, "date_from", None), getattr(args, "date_to", None)
    if date_from and date_to and date_from > date_to:
        parser.exit(
            EXIT_USAGE,
            f"fpe {args.command}: error: --date-from {date_from} is after --date-to {date_to}\n",
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_ranges(parser, args)
    from core.errors import FPEError

    try:
        return int(args.handler(args))
    except FPEError as exc:
        message = flag_names(str(exc))
        if getattr(exc, "field", None) in USAGE_FIELDS:  # a value no database would accept
            parser.exit(EXIT_USAGE, f"fpe {args.command}: error: {message}\n")
        print(f"fpe: error: {message}", file=sys.stderr)
        return EXIT_DATA
    except BrokenPipeError:
        # the reader went away (``fpe runs | head``): end quietly, as Python's docs advise
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_DATA
    except KeyboardInterrupt:
        print("fpe: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(
            f"fpe: error: out of memory in `fpe {args.command}`: the input is too large for "
            "this machine (FPE_MAX_FILE_BYTES limits each file)",
            file=sys.stderr,
        )
        return EXIT_DATA


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
