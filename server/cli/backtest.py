"""``fpe backtest``: the engine's walk-forward forecast against the pre-match market, from
football-data.co.uk files.

Examples::

    fpe backtest football-data/2324/E0.csv --burn-in-days 60   # one season
    fpe backtest football-data/ --refit-days 14 --predictions forecasts.csv
    fpe backtest E0-2223.csv E0-2324.csv --market close --json
"""

from __future__ import annotations

import argparse
import json

from server.cli.common import load_matches, with_country
from server.cli.options import PATHS_HELP, add_command, add_margin, add_market
from server.cli.values import (
    DEFAULT_L2,
    DEFAULT_XI,
    MARKET_L2,
    MARKET_XI,
    non_negative,
    positive_int,
    share,
)

__all__ = ["SETTINGS", "add_parser", "backtest"]

SETTINGS = [
    "xi",
    "l2",
    "refit_days",
    "window_days",
    "start",
    "burn_in_days",
    "margin",
    "market",
    "shots",
    "market_xi",
    "market_l2",
    "with_odds",
]
"""The options that are :func:`core.evaluation.backtest_report`'s settings, same names."""


def add_parser(commands: argparse._SubParsersAction) -> None:
    bt = add_command(commands, __name__, __doc__, handler=backtest)
    bt.add_argument("paths", nargs="+", metavar="FILE_OR_DIR", help=PATHS_HELP)
    bt.add_argument(
        "--xi",
        type=non_negative,
        default=DEFAULT_XI,
        help=f"time decay PER DAY (default {DEFAULT_XI}; Dixon-Coles' 0.0065 per "
        "half-week is 0.00186 per day)",
    )
    bt.add_argument(
        "--l2",
        type=non_negative,
        default=DEFAULT_L2,
        help=f"prior precision on team strengths (default {DEFAULT_L2})",
    )
    bt.add_argument(
        "--refit-days",
        type=positive_int,
        default=7,
        help="refit the model every N days (default 7)",
    )
    bt.add_argument(
        "--window-days",
        type=positive_int,
        default=None,
        help="train only on the last N days (default: all history)",
    )
    bt.add_argument(
        "--start",
        metavar="YYYY-MM-DD",
        default=None,
        help="first date to predict (default: the first match plus the burn-in)",
    )
    bt.add_argument(
        "--burn-in-days",
        type=positive_int,
        default=365,
        help="days of data that only train the model when --start is not given (default 365)",
    )
    add_margin(bt)
    add_market(bt)
    bt.add_argument(
        "--market-xi",
        type=non_negative,
        default=None,
        help=f"time decay PER DAY of the market-implied ratings (default {MARKET_XI})",
    )
    bt.add_argument(
        "--market-l2",
        type=non_negative,
        default=None,
        help=f"prior precision of the market-implied ratings (default {MARKET_L2})",
    )
    bt.add_argument(
        "--shots",
        type=share,
        default=None,
        metavar="GOALS_SHARE",
        help="fit Dixon-Coles to goals mixed with shots on target, this share on goals "
        "(for example 0.7; default: goals only)",
    )
    bt.add_argument(
        "--predictions",
        metavar="CSV",
        help="write per-match model and market probabilities, with the odds "
        "source used, to this CSV file",
    )
    bt.add_argument(
        "--with-odds",
        action="store_true",
        help="also score the forecast combined with each match's own prices from the "
        "scored source (pre-match with --market pre; price, market-implied ratings and "
        "Dixon-Coles pooled, weights walk-forward) against that same source",
    )
    bt.add_argument("--json", action="store_true", help="print one JSON object")


def backtest(args: argparse.Namespace) -> int:
    from core import evaluation
    from server.cli.terminal import ProgressBar

    frame = with_country(load_matches(args.paths))
    bar = ProgressBar("backtest")
    settings = {name: getattr(args, name) for name in SETTINGS}
    report = evaluation.backtest_report(frame, **settings, progress=bar.update)
    bar.close()
    if args.predictions:
        report.predictions.to_csv(args.predictions, index=False)
    if args.json:
        print(json.dumps(report.summary, indent=2))
    else:
        print(evaluation.format_report(report.summary))
    return 0
