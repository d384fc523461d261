"""Executing a training run: the one job function every worker kind calls.

- **Exactly once.**  A run is claimed by a conditional update (queued -> training); a
  second execution of the same run (arq may deliver a job twice) finds it claimed and
  returns.
- **Never on the event loop.**  The pipeline runs in a thread; the loop keeps publishing
  progress and writing a heartbeat every ``heartbeat`` seconds.
- **Cancellation.**  Each heartbeat reads ``cancel_requested``; the pipeline's progress
  callback, called between optimiser iterations, refits and trees, raises once it is set.
- **Faults.**  A run whose heartbeat is older than ``stale_after`` seconds, and whose
  worker has not marked it alive in Redis meanwhile, is marked failed by
  :func:`reap_stale_runs` (workers run it every 10 s, the embedded runner too), so a
  worker killed with SIGKILL leaves no run in ``training``.  The run is not retried: a run
  that killed its worker may well kill the next one; start it again explicitly.
- **All or nothing.**  The model version, its promotion (the archiving of the active model
  of its type and scope it replaces) and the run's completion are one transaction, and
  only if the run is still ``training``.
- **Promotion.**  ``activate: auto`` promotes the new version when no model of its type and
  scope is active, or when it is not worse than the active one on their common validation
  matches (:func:`core.comparison.promotion`); otherwise it is stored as a candidate
  (status ``completed``) with the reason in the run's logs.  ``always`` / ``never``.
  It is retried through a database outage (``write_budget`` seconds); after that the run
  fails with the database's error, not as "worker lost".
- **Only usable models.**  A model whose parameters, metrics or probabilities are not
  finite and valid (a diverged fit) is never stored: the run fails naming the cause.
- Every state change goes through :mod:`server.runs.runstate`.
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
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.comparison import promotion
from core.errors import FPEError
from core.pipeline import TrainedModel, train
from server.runs import runstate
from server.runs.events import EventStream
from server.runs.registry import check_usable, lock_model_scope, scope_of
from server.runs.runconfig import RunConfig
from server.runs.selection import load_matches, team_names
from server.runs.serialize import json_ready
from server.runs.training import new_version
from server.store import cache
from server.store.db import begin_write, describe_error, insert_row, is_disk_full, is_transient
from server.store.tables import Model, ModelStatus, TrainingRun

__all__ = [
    "ResultNotStoredError",
    "RunCancelled",
    "RunContext",
    "execute_run",
    "oldest_heartbeat",
    "reap_stale_runs",
]

log = logging.getLogger("fpe.runner")
_RUNS = TrainingRun.__table__
_MODELS = Model.__table__


class RunCancelled(Exception):
    """Raised inside the pipeline when the run was asked to stop."""


class ResultNotStoredError(FPEError):
    """The run trained, but the database stayed unreachable while storing its result."""

    code = "SERVICE_UNAVAILABLE"
    http_status = 503


@dataclass
class RunContext:
    engine: AsyncEngine
    events: EventStream
    heartbeat: float = 1.0
    worker: str = f"{socket.gethostname()}:{os.getpid()}"
    stale_after: float = 30.0  # how long "alive" lasts without a heartbeat
    write_budget: float = 60.0  # how long the final write is retried through an outage

    @classmethod
    def from_settings(cls, engine: AsyncEngine, events: EventStream, settings: Any) -> RunContext:
        return cls(
            engine,
            events,
            heartbeat=settings.heartbeat_seconds,
            stale_after=settings.stale_seconds,
            write_budget=settings.write_retry_seconds,
        )


def _now() -> datetime:
    return datetime.now(UTC)


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


async def execute_run(ctx: RunContext, task_id: str) -> str:
    """Run ``task_id`` to a terminal state; returns that state ('skipped' when another
    execution already claimed it)."""
    claimed = await runstate.move(
        ctx.engine,
        ctx.events,
        task_id,
        ModelStatus.TRAINING,
        runstate.CLAIMED,
        worker=ctx.worker,
        event={"progress": 0.0},
    )
    if not claimed:
        log.info("run %s is not queued any more: skipped (duplicate delivery)", task_id)
        return "skipped"
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    monitor = _Monitor(loop, queue)
    publisher = asyncio.create_task(_publish_progress(ctx, task_id, queue))
    ticker = asyncio.create_task(_heartbeat(ctx, task_id, monitor))
    started = time.monotonic()
    try:
        async with ctx.engine.connect() as conn:
            stored = (
                await conn.execute(sa.select(_RUNS.c.config).where(_RUNS.c.task_id == task_id))
            ).scalar_one()
        config = RunConfig.from_json(stored)
        frame = await load_matches(ctx.engine, config.selection)
        result = await asyncio.to_thread(train, frame, config.training_config(), monitor)
        if monitor.cancelled.is_set():
            raise RunCancelled
        await asyncio.to_thread(check_usable, result.weights, result.metrics)
        await queue.join()
        outcome = await _complete(ctx, task_id, config, result, frame, time.monotonic() - started)
    except RunCancelled:
        outcome = await _finish(ctx, task_id, ModelStatus.CANCELLED, runstate.CANCELLED, None)
    except ResultNotStoredError as exc:
        log.error("run %s: %s", task_id, exc)
        outcome = await _finish(ctx, task_id, ModelStatus.FAILED, str(exc), None)
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
        except Exception as exc:  # a lost progress event must not fail the run
            log.warning("could not publish a progress event of run %s: %s", task_id, exc)
        finally:
            queue.task_done()


async def _heartbeat(ctx: RunContext, task_id: str, monitor: _Monitor) -> None:
    while True:
        await asyncio.sleep(ctx.heartbeat)
        state = monitor.state
        try:  # in Redis too, so that a database outage does not look like a dead worker
            await ctx.events.mark_alive(task_id, ctx.stale_after)
        except Exception as exc:
            log.warning("run %s: could not mark it alive: %s", task_id, exc)
        try:
            async with begin_write(ctx.engine) as conn:
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
        except Exception as exc:
            log.warning("heartbeat of run %s failed: %s", task_id, describe_error(exc))
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
    """Store the model version, archive the previous active one and complete the run, in
    one transaction; retried through a database outage of up to ``ctx.write_budget``
    seconds, then :class:`ResultNotStoredError`."""
    names = await _retry(
        ctx,
        lambda: team_names(ctx.engine, sorted(set(frame["home_team"]) | set(frame["away_team"]))),
        f"run {task_id}: reading team names",
    )
    weights = json_ready({**result.weights, "teams": names})
    m = json_ready(result.metrics)

    window = result.window
    scope = scope_of(window.get("leagues") or config.leagues)
    forecasts = json_ready(result.validation_forecasts)

    async def store() -> tuple[str, str, int | None, str]:
        now = _now()
        version = new_version(config.model_type, task_id, now)
        async with begin_write(ctx.engine) as conn:
            run = (
                await conn.execute(
                    sa.select(_RUNS.c.status, _RUNS.c.started_at)
                    .where(_RUNS.c.task_id == task_id)
                    .with_for_update()
                )
            ).one()
            if run.status != ModelStatus.TRAINING:
                # reaped or cancelled meanwhile
                return ModelStatus(run.status).value, "", None, ""
            await lock_model_scope(conn, config.model_type, scope)
            data_to = _day(window.get("data_to"))
            activate, reason = await _promotion(conn, config, scope, forecasts, data_to)
            if activate:
                message = f"model {version} is active"
                await conn.execute(
                    sa.update(_MODELS)
                    .where(
                        _MODELS.c.model_type == config.model_type,
                        _MODELS.c.scope == scope,
                        _MODELS.c.status == ModelStatus.ACTIVE,
                    )
                    .values(status=ModelStatus.ARCHIVED)
                )
            else:
                message = f"model {version} is a candidate: {reason}"
            logs = [
                *result.logs,
                f"finished in {seconds:.1f} s; model version {version}",
                f"{'activated' if activate else 'kept as a candidate'}: {reason}",
            ]
            model_id = await insert_row(
                conn,
                _MODELS,
                version=version,
                model_type=config.model_type,
                status=ModelStatus.ACTIVE if activate else ModelStatus.COMPLETED,
                training_started_at=run.started_at,
                training_completed_at=now,
                training_matches=result.n_train,
                training_leagues=list(window.get("leagues") or config.leagues),
                training_seasons=list(window.get("seasons") or config.seasons),
                brier_score=m["brier"],
                log_loss=m["log_loss"],
                draw_accuracy=m["draw_accuracy"],
                overall_accuracy=m["accuracy"],
                model_weights=weights,
                rps=m["rps"],
                metrics=m,
                config=config.to_json(),
                scope=scope,
                data_from=_day(window.get("data_from")),
                data_to=_day(window.get("data_to")),
                validation_from=_day(window.get("validation_from")),
                validation_to=_day(window.get("validation_to")),
                validation_matches=result.n_validation,
                validation_forecasts=forecasts,
            )
            await runstate.write(
                conn,
                task_id,
                ModelStatus.COMPLETED,
                message,
                model_id=model_id,
                match_count=len(frame),
                brier_score=m["brier"],
                log_loss=m["log_loss"],
                validation_accuracy=m["accuracy"],
                rps=m["rps"],
                metrics=m,
                logs=logs,
                heartbeat_at=now,
            )
        return "completed", version, model_id, message

    outcome, version, model_id, message = await _retry(
        ctx, store, f"run {task_id}: storing the model"
    )
    if outcome != "completed":
        return outcome
    cache.invalidate(ctx.engine)  # a new active model serves predictions now
    await runstate.announce(
        ctx.events,
        runstate.state_event(
            task_id,
            ModelStatus.COMPLETED,
            message,
            progress=100.0,
            metrics=m,
            version=version,
            model_id=model_id,
        ),
    )
    return "completed"


def _day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


async def _promotion(
    conn: Any, config: RunConfig, scope: str, forecasts: dict[str, Any], data_to: date | None
) -> tuple[bool, str]:
    """Whether the new version becomes active, and why (under the scope's lock)."""
    if config.activate == "always":
        return True, "activate: always"
    if config.activate == "never":
        return False, "activate: never; activate it by hand"
    active = (
        await conn.execute(
            sa.select(_MODELS.c.version, _MODELS.c.validation_forecasts, _MODELS.c.data_to).where(
                _MODELS.c.model_type == config.model_type,
                _MODELS.c.scope == scope,
                _MODELS.c.status == ModelStatus.ACTIVE,
            )
        )
    ).first()
    if active is None:
        return True, f"no {config.model_type!r} model of {scope} was active"
    name = f"the active model {active.version}"
    if not active.validation_forecasts:
        return True, f"{name} has no held-out forecasts to compare with"
    # a few thousand numbers: quick enough for the event loop's thread, but kept off it
    fresher = data_to is not None and active.data_to is not None and data_to > active.data_to
    return await asyncio.to_thread(promotion, active.validation_forecasts, forecasts, name, fresher)


async def _retry(ctx: RunContext, operation: Any, what: str) -> Any:
    try:
        return await runstate.retrying(operation, what, budget=ctx.write_budget)
    except Exception as exc:
        if is_disk_full(exc):  # no retry: a minute frees no space
            raise ResultNotStoredError(
                f"the trained model could not be stored: the database's disk is full "
                f"({describe_error(exc)})"
            ) from exc
        if not is_transient(exc):
            raise
        raise ResultNotStoredError(
            f"the trained model could not be stored: the database was unreachable for "
            f"{ctx.write_budget:.0f} s ({describe_error(exc)})"
        ) from exc


async def _end(
    ctx: RunContext,
    task_id: str,
    status: ModelStatus,
    message: str,
    error: str | None,
    **values: Any,
) -> bool:
    """Move a run still training to its end ``status`` and announce it (False: it was no
    longer training); how the worker and the reaper both end a run."""
    return await runstate.move(
        ctx.engine,
        ctx.events,
        task_id,
        status,
        message,
        error=error,
        only_from=(ModelStatus.TRAINING,),
        **values,
    )


async def _finish(
    ctx: RunContext, task_id: str, status: ModelStatus, message: str, detail: str | None
) -> str:
    """End the run as ``status``; when even that cannot be written (the database is down),
    the event still tells subscribers and the reaper the real cause."""
    error = None if status == ModelStatus.CANCELLED else message
    logs = [message] if detail is None else [message, detail]
    try:
        await runstate.retrying(
            lambda: _end(ctx, task_id, status, message, error, logs=logs),
            f"run {task_id}: recording its end ({status.value})",
            budget=ctx.write_budget,
        )
    except Exception as exc:
        if not (is_transient(exc) or is_disk_full(exc)):
            raise
        log.error(
            "run %s: could not record it %s (%s); announcing it only",
            task_id,
            status.value,
            describe_error(exc),
        )
        await runstate.announce(
            ctx.events, runstate.state_event(task_id, status, message, error=error)
        )
    return status.value


async def reap_stale_runs(ctx: RunContext, stale_after: float = 30.0) -> list[str]:
    """Mark failed every run in ``training`` whose heartbeat is older than ``stale_after``
    seconds and whose worker is not alive (it died); returns their task ids.  A run whose
    worker announced its end but could not write it (the database was down) gets that end
    and its real cause instead of "worker lost"."""
    cutoff = _now() - timedelta(seconds=stale_after)
    async with ctx.engine.connect() as conn:
        stale = (
            await conn.execute(
                sa.select(_RUNS.c.task_id, _RUNS.c.heartbeat_at, _RUNS.c.worker).where(
                    _RUNS.c.status == ModelStatus.TRAINING, _RUNS.c.heartbeat_at < cutoff
                )
            )
        ).all()
    reaped = []
    for task_id, beat, worker in stale:
        if await _alive(ctx, task_id):
            continue
        announced = await _announced_end(ctx, task_id)
        if announced is not None:
            status = ModelStatus(announced["status"])
            message = announced.get("message") or status.value
            error = announced.get("error")
        else:
            status = ModelStatus.FAILED
            # the worker's host and pid stay in the server log, not in what users read
            log.warning("run %s: worker %s lost (no heartbeat since %s)", task_id, worker, beat)
            message = error = (
                f"its worker was lost: no heartbeat since {beat:%Y-%m-%d %H:%M:%S} UTC;"
                " start the run again"
            )
        if await _end(ctx, task_id, status, message, error):
            reaped.append(task_id)
    return reaped


async def _alive(ctx: RunContext, task_id: str) -> bool:
    try:
        return await ctx.events.is_alive(task_id)
    except Exception:  # cannot tell: the heartbeat's age decides
        return False


async def _announced_end(ctx: RunContext, task_id: str) -> dict[str, Any] | None:
    """The run's last state event when it announces a failure or cancellation."""
    last_state: dict[str, Any] | None = None
    after = "0"
    try:
        while batch := await ctx.events.read(task_id, after):
            after = batch[-1][0]
            states = [e for _, e in batch if e.get("type") == "state"]
            last_state = states[-1] if states else last_state
    except Exception:
        return None
    if last_state is not None and last_state.get("status") in ("failed", "cancelled"):
        return last_state
    return None


async def oldest_heartbeat(ctx: RunContext) -> datetime | None:
    """The oldest heartbeat of the runs in ``training`` (None when none is)."""
    async with ctx.engine.connect() as conn:
        beat = (
            await conn.execute(
                sa.select(sa.func.min(_RUNS.c.heartbeat_at)).where(
                    _RUNS.c.status == ModelStatus.TRAINING
                )
            )
        ).scalar_one()
    if beat is not None and beat.tzinfo is None:  # SQLite keeps naive UTC
        beat = beat.replace(tzinfo=UTC)
    return beat
