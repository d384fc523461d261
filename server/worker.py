"""The arq worker: ``fpe worker`` (or ``arq server.worker.WorkerSettings``).

Start as many as you like, on as many machines as share the database and Redis: each takes
runs from the queue.  Jobs are JSON, never pickle.  Each worker also reaps runs whose
worker died (no heartbeat for ``FPE_STALE_SECONDS``) every 10 seconds.
"""

from __future__ import annotations

import os
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Worker, func

from server.config import ConfigError, Settings
from server.db import open_database
from server.events import RedisEventStream
from server.keys import Keys
from server.queue import dumps, loads
from server.runner import RunContext, execute_run, reap_stale_runs

__all__ = [
    "WorkerSettings",
    "create_worker",
    "reap_job",
    "shutdown",
    "startup",
    "train_job",
]


async def train_job(ctx: dict[str, Any], task_id: str) -> str:
    return await execute_run(ctx["run"], task_id)


async def reap_job(ctx: dict[str, Any]) -> list[str]:
    return await reap_stale_runs(ctx["run"], ctx["settings"].stale_seconds)


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or Settings.from_env()
    ctx["settings"] = settings
    engine = await open_database(settings)
    events = RedisEventStream(ctx["redis"], Keys(settings.redis_prefix))
    ctx["run"] = RunContext(engine, events, heartbeat=settings.heartbeat_seconds)


async def shutdown(ctx: dict[str, Any]) -> None:
    if "run" in ctx:
        await ctx["run"].engine.dispose()


_FUNCTIONS = [func(train_job, name="train", max_tries=1, timeout=6 * 3600)]
_CRON = [cron(reap_job, second=set(range(0, 60, 10)), run_at_startup=True, unique=False)]


def _options(settings: Settings) -> dict[str, Any]:
    if not settings.redis_url:
        raise ConfigError(
            "FPE_REDIS_URL is not set: without Redis, runs execute in-process (fpe train, "
            "fpe serve) and no worker is needed"
        )
    return {
        "functions": _FUNCTIONS,
        "cron_jobs": _CRON,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "queue_name": Keys(settings.redis_prefix).queue,
        "job_serializer": dumps,
        "job_deserializer": loads,
        "max_jobs": 2,
        "keep_result": 3600,
        "health_check_interval": 10,
    }


def create_worker(settings: Settings, *, burst: bool = False, **overrides: Any) -> Worker:
    options = _options(settings) | {"burst": burst, "ctx": {"settings": settings}} | overrides
    return Worker(**options)


class WorkerSettings:
    """For ``arq server.worker.WorkerSettings``: the same options, from the environment."""

    functions = _FUNCTIONS
    cron_jobs = _CRON
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(
        os.environ.get("FPE_REDIS_URL") or "redis://127.0.0.1:6379"
    )
    queue_name = Keys(os.environ.get("FPE_REDIS_PREFIX") or "fpe").queue
    job_serializer = staticmethod(dumps)
    job_deserializer = staticmethod(loads)
    max_jobs = 2
    keep_result = 3600
    health_check_interval = 10
