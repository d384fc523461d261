"""The service layer's wiring and its entry points for starting and cancelling runs.

:func:`open_services` builds the database engine, the event stream and the job queue from
the settings: Redis streams and arq when ``FPE_REDIS_URL`` is set, else an in-memory
stream and an in-process runner.  Adapters (GraphQL, REST, CLI) hold one
:class:`Services` and call the functions here and in :mod:`server.training`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from server import training
from server.config import Settings
from server.db import open_database
from server.events import TERMINAL, EventHub, EventStream, MemoryEventStream, RedisEventStream
from server.keys import Keys
from server.queue import ArqQueue, InProcessQueue, JobQueue, QueueUnavailableError
from server.runner import RunContext
from server.training import json_ready

__all__ = ["Services", "cancel_training", "follow_run", "open_services", "start_training"]


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    events: EventStream
    queue: JobQueue
    keys: Keys
    hub: EventHub | None = None

    def __post_init__(self) -> None:
        if self.hub is None:
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
            events: EventStream = RedisEventStream(Redis.from_url(settings.redis_url), keys)
        else:
            events = MemoryEventStream()
            queue = InProcessQueue(
                RunContext(engine, events, heartbeat=settings.heartbeat_seconds),
                stale_after=settings.stale_seconds,
            )
    except BaseException:
        await engine.dispose()
        raise
    return Services(settings, engine, events, queue, keys)


async def start_training(services: Services, data: dict[str, Any]) -> dict[str, Any]:
    """Validate, create the run (queued) and queue it.  When the queue is unreachable the
    run is not created (or is removed again): no orphan rows."""
    config = training.parse_config(data)
    match_count = await training.validate_config(services.engine, config)
    await services.queue.check()
    run = await training.create_run(services.engine, config, match_count)
    try:
        await services.queue.enqueue(run["task_id"])
    except QueueUnavailableError:
        await training.delete_queued_run(services.engine, run["task_id"])
        raise
    await services.events.publish(
        run["task_id"],
        json_ready(
            {
                "type": "state",
                "task_id": run["task_id"],
                "status": "queued",
                "phase": "queued",
                "progress": 0.0,
                "message": "waiting for a worker",
            }
        ),
        state_change=True,
    )
    return run


async def cancel_training(services: Services, task_id: str) -> dict[str, Any]:
    run = await training.cancel_run(services.engine, task_id)
    if run["status"] == "cancelled" and run["started_at"] is None:
        await services.events.publish(
            task_id,
            {
                "type": "state",
                "task_id": task_id,
                "status": "cancelled",
                "phase": "cancelled",
                "progress": 0.0,
                "message": "cancelled before it started",
            },
            state_change=True,
        )
    return run


async def follow_run(
    services: Services, task_id: str, after: str = "0"
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
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
