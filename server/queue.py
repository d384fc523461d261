"""Where runs go to be executed: arq on Redis (workers on any machine), or in-process."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Protocol

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from core.errors import FPEError
from server.keys import Keys
from server.runner import RunContext, execute_run, reap_stale_runs

__all__ = ["ArqQueue", "InProcessQueue", "JobQueue", "QueueUnavailableError", "dumps", "loads"]

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


class InProcessQueue:
    """The embedded default: the same job function, as tasks of this event loop (the
    pipeline itself runs in a thread), with a reaper every ``reap_every`` seconds."""

    def __init__(self, ctx: RunContext, stale_after: float = 30.0, reap_every: float = 10.0):
        self.ctx = ctx
        self.stale_after = stale_after
        self.reap_every = reap_every
        self._tasks: set[asyncio.Task] = set()
        self._reaper: asyncio.Task | None = None

    async def check(self) -> None:
        return None

    async def enqueue(self, task_id: str) -> None:
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap_forever())
        task = asyncio.create_task(execute_run(self.ctx, task_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def join(self) -> None:
        """Wait for every queued run to finish."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _reap_forever(self) -> None:
        while True:
            try:
                await reap_stale_runs(self.ctx, self.stale_after)
            except Exception:
                log.exception("reaper failed")
            await asyncio.sleep(self.reap_every)

    async def close(self) -> None:
        await self.join()
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
