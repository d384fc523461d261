"""Where runs go to be executed: arq on Redis (workers on any machine), or in-process."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import Job, JobStatus

from core.errors import FPEError
from server.runs import runstate
from server.runs.keys import Keys
from server.runs.runner import RunContext, execute_run, oldest_heartbeat, reap_stale_runs
from server.store.tables import ModelStatus, TrainingRun

__all__ = [
    "ArqQueue",
    "InProcessQueue",
    "JobQueue",
    "QueueUnavailableError",
    "dumps",
    "loads",
    "requeue_lost_runs",
]

log = logging.getLogger("fpe.queue")


class QueueUnavailableError(FPEError):
    """The job queue (Redis) cannot be reached; nothing was started."""

    code = "SERVICE_UNAVAILABLE"
    http_status = 503


def dumps(value: Any) -> bytes:
    """arq job serialiser: JSON, never pickle."""
    return json.dumps(value, default=str).encode()


def loads(data: bytes) -> Any:
    return json.loads(data)


class JobQueue(Protocol):
    async def check(self) -> None:
        """Raise :class:`QueueUnavailableError` when jobs cannot be queued now."""

    async def enqueue(self, task_id: str) -> None: ...

    async def close(self) -> None: ...


class ArqQueue:
    def __init__(self, pool: ArqRedis, keys: Keys) -> None:
        self.pool = pool
        self.keys = keys

    @classmethod
    async def connect(cls, redis_url: str, keys: Keys) -> ArqQueue:
        try:
            pool = await create_pool(
                RedisSettings.from_dsn(redis_url),
                job_serializer=dumps,
                job_deserializer=loads,
                default_queue_name=keys.queue,
            )
            await pool.ping()
        except (OSError, ConnectionError) as exc:
            raise QueueUnavailableError(f"cannot reach Redis at {redis_url}: {exc}") from exc
        except Exception as exc:  # redis' own connection errors
            raise QueueUnavailableError(f"cannot reach Redis at {redis_url}: {exc}") from exc
        return cls(pool, keys)

    async def check(self) -> None:
        try:
            await self.pool.ping()
        except Exception as exc:  # the detail (host, port) is for the log, not for users
            log.warning("Redis is unavailable: %s: %s", type(exc).__name__, exc)
            raise QueueUnavailableError("Redis is unavailable") from exc

    async def enqueue(self, task_id: str) -> None:
        try:
            await self.pool.enqueue_job(
                "train", task_id, _job_id=self.keys.job_id(task_id), _queue_name=self.keys.queue
            )
        except Exception as exc:
            log.warning("could not queue a run: %s: %s", type(exc).__name__, exc)
            raise QueueUnavailableError(
                "could not queue the run: Redis is unavailable; try again later"
            ) from exc

    async def close(self) -> None:
        await self.pool.aclose()


async def requeue_lost_runs(
    ctx: RunContext, pool: ArqRedis, keys: Keys, older_than: float = 30.0
) -> list[str]:
    """Queue again every run that has been ``queued`` for over ``older_than`` seconds
    while arq has no live job for it: the job vanished (Redis restarted empty) or ended
    without claiming the run.  Such a run never started, so running it is safe; arq's job
    id is the run's, and the claim is a conditional update, so it still runs once.
    Returns their task ids."""
    runs = TrainingRun.__table__
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
    async with ctx.engine.connect() as conn:
        queued = (
            (
                await conn.execute(
                    sa.select(runs.c.task_id).where(
                        runs.c.status == ModelStatus.QUEUED, runs.c.created_at < cutoff
                    )
                )
            )
            .scalars()
            .all()
        )
    requeued = []
    for task_id in queued:
        job_id = keys.job_id(task_id)
        status = await Job(job_id, pool, _queue_name=keys.queue, _deserializer=loads).status()
        if status not in (JobStatus.not_found, JobStatus.complete):
            continue
        await pool.delete(job_key_prefix + job_id, result_key_prefix + job_id)
        job = await pool.enqueue_job("train", task_id, _job_id=job_id, _queue_name=keys.queue)
        if job is None:  # queued by someone else meanwhile
            continue
        log.warning("run %s was queued but its job was lost: queued again", task_id)
        await runstate.move(
            ctx.engine,
            ctx.events,
            task_id,
            ModelStatus.QUEUED,
            runstate.REQUEUED,
            event={"progress": 0.0},
        )
        requeued.append(task_id)
    return requeued


class InProcessQueue:
    """The embedded default: the same job function, as tasks of this event loop (the
    pipeline itself runs in a thread), with a reaper every ``reap_every`` seconds."""

    def __init__(self, ctx: RunContext, stale_after: float = 30.0, reap_every: float = 10.0):
        self.ctx = ctx
        self.stale_after = stale_after
        self.reap_every = reap_every
        self._tasks: set[asyncio.Task] = set()
        self._reaper: asyncio.Task | None = None
        self._first_reap = asyncio.Event()

    async def check(self) -> None:
        return None

    async def start_reaper(self) -> None:
        """Reap now (a server restarted after a crash), then keep reaping in the background.
        ``fpe serve`` calls it at start-up; otherwise the first enqueue starts it."""
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap_forever())
        await self._first_reap.wait()

    async def enqueue(self, task_id: str) -> None:
        await self.start_reaper()
        task = asyncio.create_task(execute_run(self.ctx, task_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def join(self) -> None:
        """Wait for every queued run to finish."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _reap(self) -> float:
        """Reap; returns the seconds until the next run in training could go stale (so a
        run a crash left behind fails within ``stale_after`` of its last heartbeat)."""
        try:
            await reap_stale_runs(self.ctx, self.stale_after)
            oldest = await oldest_heartbeat(self.ctx)
        except Exception:
            log.exception("reaper failed")
            return self.reap_every
        if oldest is None:
            return self.reap_every
        due = (oldest - datetime.now(UTC)).total_seconds() + self.stale_after + 0.05
        return min(self.reap_every, max(due, 0.05))

    async def _reap_forever(self) -> None:
        while True:
            wait = await self._reap()
            self._first_reap.set()
            await asyncio.sleep(wait)

    async def close(self) -> None:
        await self.join()
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
