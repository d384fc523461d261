"""``fpe serve``: the page, the GraphQL API, GraphiQL and the REST shim, under uvicorn.

Examples::

    fpe serve   # then open http://127.0.0.1:8000/
    FPE_REDIS_URL=redis://localhost:6379 fpe serve --host 0.0.0.0 --workers 4
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from server.cli.options import add_command
from server.cli.values import positive_int

__all__ = ["add_parser", "serve"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, __name__, __doc__, handler=serve)
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=positive_int, default=8000, help="port to listen on (default 8000)"
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="server processes sharing the port (with Redis only)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="the least severe log lines written (default info)",
    )


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.api.app import create_app
    from server.api.observability import configure_logging, logging_config, multiprocess_metrics
    from server.api.serving import uvicorn_options
    from server.base.config import ConfigError, Settings
    from server.store.db import describe

    settings = Settings.from_env()
    if args.workers > 1 and not settings.redis_url:
        raise ConfigError(
            "--workers > 1 needs FPE_REDIS_URL: embedded training runs inside the one "
            "server process"
        )
    configure_logging(args.log_level, settings.log_json)
    mode = "arq workers via Redis" if settings.redis_url else "in-process training (embedded)"
    logging.getLogger("fpe.serve").info(
        "serving http://%s:%s/ (page, /graphql, /api) on %s; %s",
        args.host,
        args.port,
        describe(settings.database_url),
        mode,
    )
    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "lifespan": "on",
        "log_level": args.log_level,
        "log_config": logging_config(args.log_level, settings.log_json),  # in every process
        "access_log": False,  # RequestMetrics writes the access lines
        "ws": "websockets-sansio",
        # a worker process answers uvicorn's health check only once its imports are done
        "timeout_worker_healthcheck": 60,
        **uvicorn_options(settings),  # header timeout, connection cap
    }
    with multiprocess_metrics(args.workers):
        if args.workers > 1:  # processes share the port; each has its own event hub
            uvicorn.run("server.api.app:create_app", factory=True, workers=args.workers, **common)
        else:
            uvicorn.run(create_app(settings), **common)
    return 0
