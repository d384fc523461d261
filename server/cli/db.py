"""``fpe db``: the database schema's versioned SQL migrations: upgrade, or status.

Examples::

    fpe db upgrade   # apply the pending migrations, then show the status
    fpe db status
"""

from __future__ import annotations

import argparse

from server.cli.common import database_errors, run
from server.cli.options import add_command

__all__ = ["add_parser", "db"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, __name__, __doc__, handler=db)
    parser.add_argument(
        "db_command",
        choices=["upgrade", "status"],
        help="upgrade: apply the pending migrations; status: the schema version",
    )


def db(args: argparse.Namespace) -> int:
    from server.base.config import Settings
    from server.store import migrations
    from server.store.db import create_engine, describe

    settings = Settings.from_env()

    async def upgrade_or_status() -> int:
        engine = create_engine(settings.database_url)
        try:
            if args.db_command == "upgrade":
                applied = await migrations.upgrade(engine)
                for m in applied:
                    print(f"applied {m.version:04d}_{m.name}")
            state = await migrations.status(engine)
        finally:
            await engine.dispose()
        pending = ", ".join(f"{m.version:04d}_{m.name}" for m in state.pending) or "none"
        print(
            f"{describe(settings.database_url)}: schema version {state.current}, pending: {pending}"
        )
        return 0

    return run(database_errors(upgrade_or_status(), settings))
