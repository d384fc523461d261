"""The service layer's wiring and its entry points for starting and cancelling runs.

:func:`open_services` builds the database engine, the event stream and the job queue from
the settings: Redis streams and arq when ``FPE_REDIS_URL`` is set, else an in-memory
stream and an in-process runner.  Adapters (GraphQL, REST, CLI) hold one
:class:`Services` and call the functions here and in :mod:`server.runs.training`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.base.config import Settings
from server.runs import runconfig, runstate, training
from server.runs.events import TERMINAL, EventHub, EventStream, MemoryEventStream, RedisEventStream
from server.runs.keys import Keys
from server.runs.queue import ArqQueue, InProcessQueue, JobQueue, QueueUnavailableError
from server.runs.runner import RunContext
from server.runs.serialize import json_ready
from server.store.connect import open_database
from server.store.db import begin_write
from server.store.tables import ModelStatus, TrainingRun

EVENT_CONNECTIONS = 16  # per process, for progress streams

__all__ = ["Services", "cancel_training", "follow_run", "open_services", "start_training"]


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    events: EventStream
    queue: JobQueue
    keys: Keys
    hub: EventHub = field(init=False)

    def __post_init__(self) -> None:
        self.hub = EventHub(self.events)

    @property
    def in_process(self) -> bool:
        return isinstance(self.queue, InProcessQueue)

    async def close(self) -> None:
        await self.hub.close()
        await self.queue.close()
        await self.events.close()
        await self.engine.dispose()


async def open_services(settings: Settings) -> Services:
    engine = await open_database(settings)
    keys = Keys(settings.redis_prefix)
    try:
        if settings.redis_url:
            queue: JobQueue = await ArqQueue.connect(settings.redis_url, keys)
            # a bounded pool: subscribers share one reader per stream (EventHub), and
            # however many arrive at once, they never open more connections than this
            redis = Redis.from_pool(
                BlockingConnectionPool.from_url(
                    settings.redis_url, max_connections=EVENT_CONNECTIONS, timeout=20
                )
            )
            events: EventStream = RedisEventStream(redis, keys)
        else:
            events = MemoryEventStream()
            queue = InProcessQueue(
                RunContext.from_settings(engine, events, settings),
                stale_after=settings.stale_seconds,
            )
    except BaseException:
        await engine.dispose()
        raise
    return Services(settings, engine, events, queue, keys)


async def start_training(
    services: Services, data: dict[str, Any], idempotency_key: str | None = None
) -> dict[str, Any]:
    """Validate, create the run (queued) and queue it; the answer is the run as it is.

    When the queue is unreachable the run is not created (or is removed again): no orphan
    rows.  A retry with the same ``idempotency_key`` returns the run the first call made
    instead of starting another."""
    _check_key(idempotency_key)
    config = runconfig.parse_config(data)
    match_count = await runconfig.validate_config(services.engine, config)
    await services.queue.check()
    if idempotency_key is not None:
        earlier = await training.run_for_key(services.engine, idempotency_key, config)
        if earlier is not None:
            return earlier
    try:
        run = await training.create_run(services.engine, config, match_count, idempotency_key)
    except IntegrityError:
        if idempotency_key is None:
            raise
        earlier = await training.run_for_key(services.engine, idempotency_key, config)
        if earlier is None:
            raise
        return earlier  # a concurrent twin created it
    try:
        await services.queue.enqueue(run["task_id"])
    except QueueUnavailableError:
        await training.delete_queued_run(services.engine, run["task_id"])
        raise
    await runstate.announce(
        services.events,
        runstate.state_event(run["task_id"], ModelStatus.QUEUED, training.WAITING, progress=0.0),
    )
    return run


def _check_key(key: str | None) -> None:
    if key is None:
        return
    if not 1 <= len(key) <= training.MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise runconfig.ValidationError(
            f"an idempotency key is 1 to {training.MAX_IDEMPOTENCY_KEY} printable characters",
            "idempotency_key",
        )


async def cancel_training(services: Services, task_id: str) -> dict[str, Any]:
    """Ask a run to stop.  A queued run is cancelled at once; a training one stops at its
    next check (within about a second); a finished one is left as it is."""
    await training.get_run(services.engine, task_id)  # an unknown id is an error
    cancelled = await runstate.move(
        services.engine,
        services.events,
        task_id,
        ModelStatus.CANCELLED,
        runstate.CANCELLED_BEFORE_START,
        only_from=(ModelStatus.QUEUED,),
        cancel_requested=True,
        event={"progress": 0.0},
    )
    if not cancelled:
        async with begin_write(services.engine) as conn:
            await conn.execute(
                sa.update(TrainingRun.__table__)
                .where(
                    TrainingRun.__table__.c.task_id == task_id,
                    TrainingRun.__table__.c.status == ModelStatus.TRAINING,
                )
                .values(cancel_requested=True)
            )
    return await training.get_run(services.engine, task_id)


async def follow_run(
    services: Services, task_id: str, after: str = "0"
) -> AsyncGenerator[tuple[str, dict[str, Any]]]:
    """Every event of a run after ``after`` (default: from the start), until it ends; then
    stops.  A run that ended without a readable final event (its stream expired) yields a
    final state built from its row."""
    await training.get_run(services.engine, task_id)  # an unknown id is an error
    events = services.hub.follow(task_id, after)
    last = after
    try:
        async for event_id, event in events:
            if event_id:
                last = event_id
                yield event_id, event
                if event.get("type") == "state" and event.get("status") in TERMINAL:
                    return
                continue
            run = await training.get_run(services.engine, task_id)  # quiet: check the row
            if run["status"] in TERMINAL:
                yield (
                    last,
                    json_ready(
                        {
                            "type": "state",
                            "task_id": task_id,
                            "status": run["status"],
                            "phase": run["phase"],
                            "progress": run["progress"],
                            "message": run["message"],
                            "error": run["error_message"],
                        }
                    ),
                )
                return
    finally:
        await events.aclose()
