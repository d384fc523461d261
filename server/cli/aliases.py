"""``fpe aliases``: other names of teams ("Spurs" for Tottenham), used wherever a team is named:
list them, add one, remove one.

Examples::

    fpe aliases
    fpe aliases --json
    fpe aliases add 'The Toffees' Everton
    fpe aliases add Boro Middlesbrough --league E1
    fpe aliases remove 'The Toffees'
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from server.cli.common import run_async
from server.cli.options import add_command
from server.cli.values import league

__all__ = ["add_parser", "aliases"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, __name__, __doc__, handler=aliases)
    parser.add_argument("--json", action="store_true", help="print JSON")
    actions = parser.add_subparsers(
        dest="action", metavar="ACTION", help="add or remove (default: list the aliases)"
    )
    add = actions.add_parser("add", help="make ALIAS another name of TEAM")
    add.add_argument("alias", metavar="ALIAS", help="the other name")
    add.add_argument("team", metavar="TEAM", help="the team as the data names it")
    remove = actions.add_parser("remove", help="remove ALIAS")
    remove.add_argument("alias", metavar="ALIAS", help="the alias to remove")
    for sub in (add, remove):
        sub.add_argument(
            "--league",
            type=league,
            default=None,
            help="a league of the team's country (needed when the name exists in two)",
        )
        sub.add_argument("--json", action="store_true", help="print JSON")


def aliases(args: argparse.Namespace) -> int:
    from server.base.config import Settings
    from server.runs import teams
    from server.runs.serialize import json_ready

    async def work(services: Any) -> int:
        if args.action == "add":
            out: Any = await teams.add_alias(services.engine, args.alias, args.team, args.league)
            text = f"{out['alias']!r} now names {out['team']} ({out['country']})"
        elif args.action == "remove":
            n = await teams.remove_alias(services.engine, args.alias, args.league)
            out, text = {"removed": n}, f"removed {args.alias!r}"
        else:
            out = await teams.list_aliases(services.engine)
            width = max((len(a["alias"]) for a in out), default=5) + 2
            text = "\n".join(
                [f"{'alias':<{width}}{'team':<22}country"]
                + [f"{a['alias']:<{width}}{a['team']:<22}{a['country']}" for a in out]
            )
        print(json.dumps(json_ready(out), indent=2) if args.json else text)
        return 0

    return run_async(Settings.from_env(), work)
