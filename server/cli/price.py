"""``fpe price``: a fair score grid and every market from bookmaker odds alone (1X2, and
over/under when given).

Examples::

    fpe price --odds 2.1 3.5 3.6
    fpe price --odds 2.1 3.5 3.6 --over-under 1.9 1.95 --margin shin --json
"""

from __future__ import annotations

import argparse
import json

from server.cli.common import markets_json, print_markets
from server.cli.options import add_command, add_margin, add_prices

__all__ = ["add_parser", "price"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, __name__, __doc__, handler=price)
    add_prices(parser, required=True)
    add_margin(parser)
    parser.add_argument(
        "--rho",
        type=float,
        default=0.0,
        help="the grid's low-score dependence without totals odds (default 0)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def price(args: argparse.Namespace) -> int:
    from server.runs import pricing  # no database, pandas or model fitting: a fast start

    m = pricing.price(
        tuple(args.odds),
        tuple(args.over_under) if args.over_under else None,
        line=args.line,
        margin=args.margin,
        rho=args.rho,
    )
    if args.json:
        p = {"odds": list(args.odds), "over_under": args.over_under and list(args.over_under)}
        print(json.dumps(p | markets_json(m), indent=2))
        return 0
    totals = ""
    if args.over_under:
        totals = f", over/under {args.line:g} {' '.join(f'{o:g}' for o in args.over_under)}"
    print(
        f"fair prices from odds {' '.join(f'{o:g}' for o in args.odds)}{totals}"
        f" ({args.margin} margin removal, rho {m.rho:+.4f})"
    )
    print_markets(m.outcomes, m)
    return 0
