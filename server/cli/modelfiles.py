"""``fpe models export VERSION [FILE]`` and ``fpe models import FILE``: a model version as
a JSON file (see :mod:`server.runs.modelfiles`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from server.cli.common import run_async

__all__ = ["add_parsers", "export", "import_"]


def add_parsers(actions: argparse._SubParsersAction) -> None:
    """``export`` and ``import`` under ``fpe models``."""
    ex = actions.add_parser(
        "export",
        help="write VERSION to a JSON file (default <data dir>/Model/<type>/<version>.json)",
    )
    ex.add_argument("version", metavar="VERSION", help="the model version to export")
    ex.add_argument(
        "file",
        metavar="FILE",
        nargs="?",
        help="the file to write, '-' for stdout, or a directory: written there as "
        "Model/<type>/<version>.json",
    )
    ex.set_defaults(handler=export)
    im = actions.add_parser("import", help="add the version in FILE to this database")
    im.add_argument("file", metavar="FILE", help="a file written by fpe models export")
    im.add_argument(
        "--no-create-teams",
        action="store_true",
        help="refuse a file naming teams this database lacks (default: create them)",
    )
    im.add_argument("--activate", action="store_true", help="make it the active model")
    im.add_argument("--json", action="store_true", help="print the result as JSON")
    im.set_defaults(handler=import_)


def export(args: argparse.Namespace) -> int:
    from server.base.config import Settings
    from server.runs import modelfiles

    settings = Settings.from_env()

    async def work(services: Any) -> int:
        file = await modelfiles.export_model(services.engine, args.version)
        text = modelfiles.dumps(file)
        if args.file == "-":
            sys.stdout.write(text)
            return 0
        model = file["model"]
        target = Path(args.file) if args.file else settings.data_dir
        if not args.file or target.is_dir() or args.file.endswith(("/", os.sep)):
            target = modelfiles.default_path(target, model["model_type"], model["version"])
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f".{target.name}.part")
        part.write_text(text, encoding="utf-8")
        part.replace(target)
        print(f"exported {model['version']} ({len(model['teams'])} teams) to {target}")
        return 0

    return run_async(settings, work)


def import_(args: argparse.Namespace) -> int:
    from core.errors import InvalidInputError
    from server.base.config import Settings, max_file_bytes
    from server.runs import modelfiles

    path = Path(args.file)
    if not path.is_file():
        raise InvalidInputError(f"{args.file}: no such file")
    if path.stat().st_size > max_file_bytes():
        raise InvalidInputError(f"{args.file}: larger than FPE_MAX_FILE_BYTES")
    data = path.read_bytes()

    async def work(services: Any) -> int:
        out = await modelfiles.import_model(
            services.engine, data, create_teams=not args.no_create_teams, activate=args.activate
        )
        if args.json:
            print(json.dumps(out, indent=2))
            return 0
        print(f"imported {out['version']} ({out['model_type']}, {out['status']})")
        if out["created_teams"]:
            print(f"created teams: {', '.join(out['created_teams'])}")
        if out["created_leagues"]:
            print(f"created leagues: {', '.join(out['created_leagues'])}")
        return 0

    try:
        return run_async(Settings.from_env(), work)
    except modelfiles.ModelFileError as exc:
        raise modelfiles.ModelFileError(f"{args.file}: {exc}") from None
