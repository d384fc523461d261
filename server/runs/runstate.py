"""Every change of a run's state, in one place: the conditional update of its row and the
matching event, together (in the spirit of arq's ``Worker.finish_job``).

- The row is the truth.  :func:`move` changes it only from the states a change may start
  from (a run is claimed only while ``queued``, finished only while ``training``), and
  publishes the event only when the row changed, so a lost race publishes nothing.
- Publishing is best effort: an event that cannot be sent (Redis down, at ``maxclients``)
  is logged, and subscribers still see the change when they look at the row (they do when
  their stream is quiet).  A change that happened is never reported as a failure.
- :func:`retrying` repeats a database write through a short outage with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.runs.events import EventStream
from server.runs.serialize import json_ready
from server.store.db import begin_write, describe_error, is_transient
from server.store.tables import ModelStatus, TrainingRun

__all__ = [
    "FROM",
    "PHASE",
    "announce",
    "move",
    "retrying",
    "state_event",
    "write",
]

log = logging.getLogger("fpe.runs")
_RUNS = TrainingRun.__table__
T = TypeVar("T")

_S = ModelStatus
#: the states each state may be entered from
FROM: dict[ModelStatus, tuple[ModelStatus, ...]] = {
    _S.QUEUED: (_S.QUEUED,),  # re-queued after its job was lost
    _S.TRAINING: (_S.QUEUED,),
    _S.COMPLETED: (_S.TRAINING,),
    _S.FAILED: (_S.QUEUED, _S.TRAINING),
    _S.CANCELLED: (_S.QUEUED, _S.TRAINING),
}
#: the phase a run shows on entering each state
PHASE: dict[ModelStatus, str] = {
    _S.QUEUED: "queued",
    _S.TRAINING: "starting",
    _S.COMPLETED: "done",
    _S.FAILED: "failed",
    _S.CANCELLED: "cancelled",
}


# what a run says on entering a state (the reaper's "worker lost" names the worker)
REQUEUED = "its queued job was lost (Redis restarted?); queued again"
CLAIMED = "claimed by a worker"
CANCELLED_BEFORE_START = "cancelled before it started"
CANCELLED = "cancelled on request"


def _now() -> datetime:
    return datetime.now(UTC)


def state_event(
    task_id: str,
    status: ModelStatus,
    message: str,
    *,
    error: str | None = None,
    progress: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The event that announces ``status`` (JSON-ready)."""
    event = {
        "type": "state",
        "task_id": task_id,
        "ts": _now().isoformat(),
        "status": status.value,
        "phase": PHASE[status],
        "message": message,
        **extra,
    }
    if progress is not None:
        event["progress"] = progress
    if error is not None:
        event["error"] = error
    return json_ready(event)


async def write(
    conn: AsyncConnection,
    task_id: str,
    status: ModelStatus,
    message: str,
    *,
    error: str | None = None,
    only_from: tuple[ModelStatus, ...] | None = None,
    **values: Any,
) -> bool:
    """The row part of a change, inside the caller's transaction; False when the run was
    not in a state ``status`` may be entered from (``only_from`` narrows them; nothing is
    written then)."""
    now = _now()
    row: dict[str, Any] = {"status": status, "phase": PHASE[status], "message": message}
    if status == _S.TRAINING:
        row |= {"started_at": now, "heartbeat_at": now, "progress": 0.0}
    elif status in (_S.COMPLETED, _S.FAILED, _S.CANCELLED):
        row |= {"completed_at": now, "error_message": error}
    if status == _S.COMPLETED:
        row["progress"] = 100.0
    changed = await conn.execute(
        sa.update(_RUNS)
        .where(_RUNS.c.task_id == task_id, _RUNS.c.status.in_(only_from or FROM[status]))
        .values(**(row | values))
        .returning(_RUNS.c.id)
    )
    return changed.first() is not None


async def announce(events: EventStream, event: dict[str, Any]) -> None:
    """Publish a state event; a failure is logged, never raised (the row is the truth)."""
    try:
        await events.publish(event["task_id"], event, state_change=True)
    except Exception as exc:
        log.warning(
            "could not publish the %s event of run %s: %s: %s",
            event.get("status"),
            event["task_id"],
            type(exc).__name__,
            exc,
        )


async def move(
    engine: AsyncEngine,
    events: EventStream,
    task_id: str,
    status: ModelStatus,
    message: str,
    *,
    error: str | None = None,
    only_from: tuple[ModelStatus, ...] | None = None,
    event: dict[str, Any] | None = None,
    **values: Any,
) -> bool:
    """Change the run to ``status`` (if it may) and announce it; True when it changed.
    ``event`` adds fields to the event; ``values`` to the row."""
    async with begin_write(engine) as conn:
        changed = await write(
            conn, task_id, status, message, error=error, only_from=only_from, **values
        )
    if changed:
        extra = dict(event or {})
        progress = extra.pop(
            "progress", 100.0 if status == _S.COMPLETED else values.get("progress")
        )
        await announce(
            events, state_event(task_id, status, message, error=error, progress=progress, **extra)
        )
    return changed


async def retrying(
    operation: Callable[[], Awaitable[T]],
    what: str,
    *,
    budget: float,
    first_delay: float = 0.2,
    max_delay: float = 5.0,
) -> T:
    """``operation()``, retried with exponential backoff while it fails with a transient
    database error, for about ``budget`` seconds; then the last error is raised."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget
    delay = first_delay
    attempt = 1
    while True:
        try:
            return await operation()
        except Exception as exc:
            if not is_transient(exc) or loop.time() + delay > deadline:
                raise
            log.warning(
                "%s failed (attempt %d: %s); retrying in %.1f s",
                what,
                attempt,
                describe_error(exc),
                delay,
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)
        attempt += 1
