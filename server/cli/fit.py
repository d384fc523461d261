"""``fpe fit``: one Dixon-Coles model fitted to every match in football-data.co.uk files.

Examples::

    fpe fit football-data/2324/E0.csv
    fpe fit football-data/2324/ --xi 0.0025 --json > model.json
"""

from __future__ import annotations

import argparse
import json

from server.cli.common import load_matches
from server.cli.options import PATHS_HELP, add_command
from server.cli.values import non_negative

__all__ = ["add_parser", "fit"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    fit_ = add_command(commands, __name__, __doc__, handler=fit)
    fit_.add_argument("paths", nargs="+", metavar="FILE_OR_DIR", help=PATHS_HELP)
    fit_.add_argument(
        "--xi", type=non_negative, default=0.0, help="time decay PER DAY (default 0: none)"
    )
    fit_.add_argument("--no-rho", action="store_true", help="independent Poisson (rho = 0)")
    fit_.add_argument("--json", action="store_true", help="print the model as JSON")


def fit(args: argparse.Namespace) -> int:
    import numpy as np

    from core import DixonColes

    frame = load_matches(args.paths)
    model = DixonColes(rho=not args.no_rho, xi=args.xi).fit(frame)
    data = model.to_dict()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(
        f"{model.n_matches_} matches, {len(model.teams_)} teams, log-likelihood "
        f"{model.loglik_:.3f}, {model.n_iter_} Newton iterations"
    )
    print(f"home advantage x{data['home_advantage']:.3f}   rho {model.rho_:+.4f}")
    order = np.argsort(-(model.attack_ + model.defence_))
    print(f"{'team':<24}{'attack':>9}{'defense':>9}")
    for i in order:
        team = str(model.teams_[i])
        print(f"{team:<24}{np.exp(model.attack_[i]):>9.3f}{np.exp(model.defence_[i]):>9.3f}")
    return 0
