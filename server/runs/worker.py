"""The arq worker: ``fpe worker`` (or ``arq server.runs.worker.WorkerSettings``).

Start as many as you like, on as many machines as share the database and Redis: each takes
runs from the queue.  Jobs are JSON, never pickle.  Every 10 seconds each worker also reaps
runs whose worker died (no heartbeat for ``FPE_STALE_SECONDS``) and queues again the runs
whose queued job was lost (Redis restarted empty).  With ``FPE_REFRESH`` set, a cron job
runs the scheduled refresh (:mod:`server.runs.refresh`) on one of the workers.  A worker
rides out a Redis outage: it logs it, retries with backoff and resumes; running jobs go on
meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC
from typing import Any

from arq import cron
from arq import worker as arq_worker
from arq.connections import RedisSettings
from arq.worker import func
from redis.exceptions import RedisError

from server.base.config import ConfigError, Settings
from server.runs.events import RedisEventStream
from server.runs.keys import Keys
from server.runs.queue import dumps, loads, requeue_lost_runs
from server.runs.refresh import Schedule, SystemClock, refresh
from server.runs.runner import RunContext, execute_run, reap_stale_runs
from server.store.connect import open_database
from server.store.db import describe_error, is_disk_full, is_transient

__all__ = [
    "Worker",
    "WorkerSettings",
    "create_worker",
    "cron_jobs",
    "reap_job",
    "refresh_job",
    "shutdown",
    "startup",
    "train_job",
]

log = logging.getLogger("fpe.worker")
_REDIS_DOWN = (RedisError, OSError, asyncio.TimeoutError)


class Worker(arq_worker.Worker):
    """arq's worker, riding out Redis outages instead of exiting: a poll that fails is
    logged and retried with exponential backoff (0.5 s doubling to 2 s); jobs already
    running go on, and the worker resumes polling once Redis answers."""

    max_backoff = 2.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.backoff = 0.0
        self.outages = 0

    async def main(self) -> None:
        while True:
            try:
                return await super().main()
            except _REDIS_DOWN as exc:
                if "run" in self.ctx:  # started: a failure past start-up is not ours
                    raise
                await self._wait_for_redis(exc)

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except _REDIS_DOWN as exc:
            if await self._redis_answers():  # a job that ended in the outage raised it
                log.warning("a job's end could not be recorded in Redis: %s", exc)
            else:
                await self._wait_for_redis(exc)
                return
        if self.backoff:
            log.warning("Redis is reachable again: resuming (outage %d)", self.outages)
            self.backoff = 0.0

    async def _redis_answers(self) -> bool:
        try:
            return bool(await self.pool.ping())
        except _REDIS_DOWN:
            return False

    async def _wait_for_redis(self, exc: BaseException) -> None:
        if not self.backoff:
            self.outages += 1
        self.backoff = min(max(self.backoff * 2, 0.5), self.max_backoff)
        log.warning(
            "Redis is unavailable (%s: %s); retrying in %.1f s",
            type(exc).__name__,
            exc,
            self.backoff,
        )
        await asyncio.sleep(self.backoff)


async def train_job(ctx: dict[str, Any], task_id: str) -> str:
    return await execute_run(ctx["run"], task_id)


async def reap_job(ctx: dict[str, Any]) -> list[str]:
    """Reap dead workers' runs and queue lost jobs again; an outage (of the database or
    Redis) is logged in one line and retried at the next tick."""
    settings: Settings = ctx["settings"]
    try:
        reaped = await reap_stale_runs(ctx["run"], settings.stale_seconds)
        requeued = await requeue_lost_runs(
            ctx["run"], ctx["redis"], Keys(settings.redis_prefix), settings.stale_seconds
        )
    except Exception as exc:
        if not (is_transient(exc) or is_disk_full(exc) or isinstance(exc, _REDIS_DOWN)):
            raise
        log.warning("reaping skipped: %s", describe_error(exc))
        return []
    return reaped + requeued


async def refresh_job(ctx: dict[str, Any]) -> dict[str, Any]:
    """The scheduled refresh (``FPE_REFRESH``): today from the worker's clock (``ctx``'s
    ``clock``, a :class:`~server.runs.refresh.Clock`), the training runs queued for any
    worker."""
    from server.runs.services import open_services

    settings: Settings = ctx["settings"]
    clock = ctx.get("clock") or SystemClock()
    services = await open_services(settings)
    try:
        return await refresh(services, today=clock.now().date())
    finally:
        await services.close()


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or Settings.from_env()
    ctx["settings"] = settings
    engine = await open_database(settings)
    events = RedisEventStream(ctx["redis"], Keys(settings.redis_prefix))
    ctx["run"] = RunContext.from_settings(engine, events, settings)


async def shutdown(ctx: dict[str, Any]) -> None:
    if "run" in ctx:
        await ctx["run"].engine.dispose()


_FUNCTIONS = [func(train_job, name="train", max_tries=1, timeout=6 * 3600)]
_CRON = [cron(reap_job, second=set(range(0, 60, 10)), run_at_startup=True, unique=False)]


def cron_jobs(schedule: Schedule) -> list[Any]:
    """The reaper, and the refresh when it is switched on (one worker of many runs each
    refresh: arq's cron job ids are unique per scheduled time)."""
    if not schedule.enabled:
        return list(_CRON)
    refresh_cron = cron(refresh_job, name="refresh", timeout=6 * 3600, **schedule.cron_fields())
    return [*_CRON, refresh_cron]


def _options(settings: Settings) -> dict[str, Any]:
    if not settings.redis_url:
        raise ConfigError(
            "FPE_REDIS_URL is not set: without Redis, runs execute in-process (fpe train, "
            "fpe serve) and no worker is needed"
        )
    return {
        "functions": _FUNCTIONS,
        "cron_jobs": cron_jobs(Schedule.from_settings(settings)),
        "timezone": UTC,  # the refresh's time of day is UTC
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
    """For ``arq server.runs.worker.WorkerSettings``: the same options, from the environment."""

    functions = _FUNCTIONS
    cron_jobs = cron_jobs(
        Schedule.from_settings(
            Settings.from_env({k: os.environ.get(k, "") for k in ("FPE_REFRESH", "FPE_REFRESH_AT")})
        )
    )
    timezone = UTC
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
