"""Option values: the core's choices and defaults, mirrored so that ``fpe --help``
imports nothing heavy (tests/test_cli.py checks they agree), and the types that turn a
command-line word into a value or reject it with a usage error."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections.abc import Callable
from typing import TypeVar

__all__ = [
    "DEFAULT_L2",
    "DEFAULT_XI",
    "MARGIN_METHODS",
    "MARKET_L2",
    "MARKET_XI",
    "MODEL_STATES",
    "MODEL_TYPES",
    "RUN_STATES",
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
MARKET_XI = 0.04
MARKET_L2 = 0.01
RUN_STATES = ("queued", "training", "completed", "failed", "cancelled")
MODEL_STATES = ("active", "archived")

T = TypeVar("T")


def _convert(text: str, convert: Callable[[str], T], what: str) -> T:
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def positive_int(text: str) -> int:
    value = _convert(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def non_negative(text: str) -> float:
    value = _convert(text, float, "a number")
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value


def date(text: str) -> dt.date:
    return _convert(text.strip(), dt.date.fromisoformat, "a date (YYYY-MM-DD)")


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
