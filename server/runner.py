"""Executing a training run: the one job function every worker kind calls.

- **Exactly once.**  A run is claimed by a conditional update (queued -> training); a
  second execution of the same run (arq may deliver a job twice) finds it claimed and
  returns.
- **Never on the event loop.**  The pipeline runs in a thread; the loop keeps publishing
  progress and writing a heartbeat every ``heartbeat`` seconds.
- **Cancellation.**  Each heartbeat reads ``cancel_requested``; the pipeline's progress
  callback, called between optimiser iterations, refits and trees, raises once it is set.
- **Faults.**  A run whose heartbeat is older than ``stale_after`` seconds is marked failed
  by :func:`reap_stale_runs` (workers run it every 10 s, the embedded runner too), so a
  worker killed with SIGKILL leaves no run in ``training``.  The run is not retried: a run
  that killed its worker may well kill the next one; start it again explicitly.
- **All or nothing.**  The model version, the archiving of the previous active model and
  the run's completion are one transaction, and only if the run is still ``training``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import FPEError
from core.pipeline import TrainedModel, train
from server import cache
from server.events import EventStream
from server.registry import lock_model_type
from server.tables import Model, ModelStatus, TrainingRun
from server.training import (
    RunConfig,
    json_ready,
    load_matches,
    new_version,
    team_names,
)

__all__ = ["RunCancelled", "RunContext", "execute_run", "reap_stale_runs"]

log = logging.getLogger("fpe.runner")
_RUNS = TrainingRun.__table__
_MODELS = Model.__table__


class RunCancelled(Exception):
    """Raised inside the pipeline when the run was asked to stop."""


@dataclass
class RunContext:
    engine: AsyncEngine
    events: EventStream
    heartbeat: float = 1.0
    worker: str = f"{socket.gethostname()}:{os.getpid()}"


def _now() -> datetime:
    return datetime.now(UTC)


async def _publish_state(ctx: RunContext, task_id: str, **fields: Any) -> None:
    event = {"type": "state", "task_id": task_id, "ts": _now().isoformat(), **fields}
    await ctx.events.publish(task_id, json_ready(event), state_change=True)


class _Monitor:
    """Shared between the pipeline thread and the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue) -> None:
        self.loop = loop
        self.queue = queue
        self.cancelled = threading.Event()
        self.state: dict[str, Any] = {"phase": "starting", "progress": 0.0, "message": ""}
        self._last_sent: tuple[str | None, float] = (None, 0.0)  # phase, time

    def __call__(
        self, phase: str, fraction: float, message: str, interim: dict[str, Any] | None
    ) -> None:
        if self.cancelled.is_set():
            raise RunCancelled
        progress = round(100.0 * fraction, 1)
        self.state = {"phase": phase, "progress": progress, "message": message}
        last_phase, last_time = self._last_sent
        now = time.monotonic()
        # Every event goes to every subscriber, so their number is what fan-out costs: at
        # most one every 0.5 s, or 0.25 s for a new phase (the last phases can pass within
        # milliseconds; the final state event always follows); interim metrics always go.
        gap = now - last_time
        if interim is not None or gap >= 0.5 or (gap >= 0.25 and phase != last_phase):
            self._last_sent = (phase, now)
            event = {"type": "progress", **self.state}
            if interim is not None:
                event["metrics"] = interim
            self.loop.call_soon_threadsafe(self.queue.put_nowait, event)


async def _claim(ctx: RunContext, task_id: str) -> dict[str, Any] | None:
    now = _now()
    async with ctx.engine.begin() as conn:
        row = (
            await conn.execute(
                sa.update(_RUNS)
                .where(_RUNS.c.task_id == task_id, _RUNS.c.status == ModelStatus.QUEUED)
                .values(
                    status=ModelStatus.TRAINING,
                    started_at=now,
                    heartbeat_at=now,
                    worker=ctx.worker,
                    phase="starting",
                    message="claimed by a worker",
                    progress=0.0,
                )
                .returning(_RUNS.c.id, _RUNS.c.config)
            )
        ).first()
    return None if row is None else {"id": row[0], "config": row[1]}


async def execute_run(ctx: RunContext, task_id: str) -> str:
    """Run ``task_id`` to a terminal state; returns that state ('skipped' when another
    execution already claimed it)."""
    claimed = await _claim(ctx, task_id)
    if claimed is None:
        log.info("run %s is not queued any more: skipped (duplicate delivery)", task_id)
        return "skipped"
    await _publish_state(
        ctx,
        task_id,
        status="training",
        phase="starting",
        progress=0.0,
        message="claimed by a worker",
    )
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    monitor = _Monitor(loop, queue)
    publisher = asyncio.create_task(_publish_progress(ctx, task_id, queue))
    ticker = asyncio.create_task(_heartbeat(ctx, task_id, monitor))
    started = time.monotonic()
    try:
        config = RunConfig.from_json(claimed["config"])
        frame = await load_matches(ctx.engine, config)
        result = await asyncio.to_thread(train, frame, config.training_config(), monitor)
        if monitor.cancelled.is_set():
            raise RunCancelled
        await queue.join()
        outcome = await _complete(ctx, task_id, config, result, frame, time.monotonic() - started)
    except RunCancelled:
        outcome = await _finish(ctx, task_id, ModelStatus.CANCELLED, "cancelled on request", None)
    except FPEError as exc:
        outcome = await _finish(ctx, task_id, ModelStatus.FAILED, str(exc), None)
    except Exception:  # a bug: the traceback goes to the server log, never to the run
        reference = uuid.uuid4().hex[:12]
        log.exception("run %s failed (reference %s)", task_id, reference)
        message = f"internal error (reference {reference}): the details are in the server log"
        outcome = await _finish(ctx, task_id, ModelStatus.FAILED, message, None)
    finally:
        ticker.cancel()
        await queue.join()
        publisher.cancel()
        await asyncio.gather(ticker, publisher, return_exceptions=True)
    return outcome


async def _publish_progress(ctx: RunContext, task_id: str, queue: asyncio.Queue) -> None:
    while True:
        event = await queue.get()
        try:
            await ctx.events.publish(
                task_id, json_ready({"task_id": task_id, "ts": _now().isoformat(), **event})
            )
        except Exception:  # a lost progress event must not fail the run
            log.exception("could not publish a progress event of run %s", task_id)
        finally:
            queue.task_done()


async def _heartbeat(ctx: RunContext, task_id: str, monitor: _Monitor) -> None:
    while True:
        await asyncio.sleep(ctx.heartbeat)
        state = monitor.state
        try:
            async with ctx.engine.begin() as conn:
                cancel = (
                    await conn.execute(
                        sa.update(_RUNS)
                        .where(_RUNS.c.task_id == task_id, _RUNS.c.status == ModelStatus.TRAINING)
                        .values(
                            heartbeat_at=_now(),
                            progress=min(state["progress"], 100.0),
                            phase=state["phase"],
                            message=state["message"][:2000],
                        )
                        .returning(_RUNS.c.cancel_requested)
                    )
                ).first()
        except Exception:
            log.exception("heartbeat of run %s failed", task_id)
            continue
        if cancel is None or cancel[0]:  # cancelled, or reaped by someone else
            monitor.cancelled.set()


async def _complete(
    ctx: RunContext,
    task_id: str,
    config: RunConfig,
    result: TrainedModel,
    frame: Any,
    seconds: float,
) -> str:
    now = _now()
    names = await team_names(ctx.engine, sorted(set(frame["home_team"]) | set(frame["away_team"])))
    weights = json_ready({**result.weights, "teams": names})
    m = json_ready(result.metrics)
    version = new_version(config.model_type, task_id, now)
    logs = [*result.logs, f"finished in {seconds:.1f} s; model version {version}"]
    async with ctx.engine.begin() as conn:
        run = (
            await conn.execute(
                sa.select(_RUNS.c.status, _RUNS.c.started_at)
                .where(_RUNS.c.task_id == task_id)
                .with_for_update()
            )
        ).one()
        if run.status != ModelStatus.TRAINING:
            return ModelStatus(run.status).value  # reaped or cancelled meanwhile: keep that
        await lock_model_type(conn, config.model_type)
        await conn.execute(
            sa.update(_MODELS)
            .where(
                _MODELS.c.model_type == config.model_type, _MODELS.c.status == ModelStatus.ACTIVE
            )
            .values(status=ModelStatus.ARCHIVED)
        )
        model_id = (
            await conn.execute(
                sa.insert(_MODELS)
                .values(
                    version=version,
                    model_type=config.model_type,
                    status=ModelStatus.ACTIVE,
                    training_started_at=run.started_at,
                    training_completed_at=now,
                    training_matches=result.n_train,
                    training_leagues=list(config.leagues),
                    training_seasons=list(config.seasons),
                    brier_score=m["brier"],
                    log_loss=m["log_loss"],
                    draw_accuracy=m["draw_accuracy"],
                    overall_accuracy=m["accuracy"],
                    model_weights=weights,
                    rps=m["rps"],
                    metrics=m,
                    config=config.to_json(),
                )
                .returning(_MODELS.c.id)
            )
        ).scalar_one()
        await conn.execute(
            sa.update(_RUNS)
            .where(_RUNS.c.task_id == task_id)
            .values(
                status=ModelStatus.COMPLETED,
                completed_at=now,
                model_id=model_id,
                match_count=len(frame),
                brier_score=m["brier"],
                log_loss=m["log_loss"],
                validation_accuracy=m["accuracy"],
                rps=m["rps"],
                metrics=m,
                logs=logs,
                progress=100.0,
                phase="done",
                message=f"model {version} is active",
                heartbeat_at=now,
            )
        )
    cache.invalidate(ctx.engine)  # the new active model serves predictions now
    await _publish_state(
        ctx,
        task_id,
        status="completed",
        phase="done",
        progress=100.0,
        message=f"model {version} is active",
        metrics=m,
        version=version,
        model_id=model_id,
    )
    return "completed"


async def _finish(
    ctx: RunContext, task_id: str, status: ModelStatus, message: str, detail: str | None
) -> str:
    logs = [message] if detail is None else [message, detail]
    async with ctx.engine.begin() as conn:
        await conn.execute(
            sa.update(_RUNS)
            .where(_RUNS.c.task_id == task_id, _RUNS.c.status == ModelStatus.TRAINING)
            .values(
                status=status,
                completed_at=_now(),
                phase=status.value,
                message=message,
                error_message=None if status == ModelStatus.CANCELLED else message,
                logs=logs,
            )
        )
    await _publish_state(
        ctx,
        task_id,
        status=status.value,
        phase=status.value,
        message=message,
        error=None if status == ModelStatus.CANCELLED else message,
    )
    return status.value


async def reap_stale_runs(ctx: RunContext, stale_after: float = 30.0) -> list[str]:
    """Mark failed every run in ``training`` whose heartbeat is older than ``stale_after``
    seconds (its worker died); returns their task ids."""
    cutoff = _now() - timedelta(seconds=stale_after)
    async with ctx.engine.begin() as conn:
        rows = await conn.execute(
            sa.select(_RUNS.c.task_id, _RUNS.c.heartbeat_at, _RUNS.c.worker).where(
                _RUNS.c.status == ModelStatus.TRAINING, _RUNS.c.heartbeat_at < cutoff
            )
        )
        stale = rows.all()
        for task_id, beat, worker in stale:
            message = (
                f"worker {worker} lost: no heartbeat since {beat:%Y-%m-%d %H:%M:%S} UTC;"
                " start the run again"
            )
            await conn.execute(
                sa.update(_RUNS)
                .where(_RUNS.c.task_id == task_id, _RUNS.c.status == ModelStatus.TRAINING)
                .values(
                    status=ModelStatus.FAILED,
                    completed_at=_now(),
                    error_message=message,
                    phase="failed",
                    message=message,
                )
            )
    for task_id, _beat, _worker in stale:
        await _publish_state(
            ctx,
            task_id,
            status="failed",
            phase="failed",
            message="worker lost",
            error="worker lost",
        )
    return [t for t, _, _ in stale]
