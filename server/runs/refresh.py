"""The scheduled refresh that keeps the served models current (``FPE_REFRESH``).

Each time it is due it downloads the current season's file of every league an active model
covers, ingests the files, and retrains every active model with its own configuration,
extended to today (``date_to`` today; the current season added when the model names its
seasons).  The runs it starts are marked ``scheduled``.  It is run by an arq cron job on the
workers (:mod:`server.runs.worker`; arq's unique job id lets one worker of many run it), or
by a timer in ``fpe serve`` when there is no Redis (:func:`run_timer`).  Time comes from a
:class:`Clock`, so tests move it by hand.

Each retraining is started with an idempotency key made of the day, the model type and its
leagues, so a refresh that runs twice on a day (a retried job, a second process) starts
each run once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import httpx
import sqlalchemy as sa

from core.errors import FPEError
from server.base.config import Settings
from server.runs import registry, runconfig
from server.runs.services import start_training
from server.store import catalog
from server.store.db import begin_write
from server.store.download import download
from server.store.ingest import ingest_paths
from server.store.tables import TrainingRun

__all__ = [
    "ACTIVATE",
    "Clock",
    "Schedule",
    "SystemClock",
    "current_season",
    "refresh",
    "refresh_config",
    "run_timer",
    "status",
]

log = logging.getLogger("fpe.refresh")

ACTIVATE = "auto"
"""How the refresh's runs are promoted: activated only when not worse than the model they
replace (or fitted on later matches when too few validation matches are common)."""

_RUNS = TrainingRun.__table__


class Clock(Protocol):
    """Where the refresh gets its time (tests pass one they move by hand)."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class Schedule:
    """When the refresh runs: ``every`` ``off``, ``daily`` or ``weekly`` (Mondays), at
    ``hour``:``minute`` UTC."""

    every: str = "off"
    hour: int = 5
    minute: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Schedule:
        return cls(settings.refresh, *settings.refresh_at)

    @property
    def enabled(self) -> bool:
        return self.every != "off"

    def next_due(self, now: datetime) -> datetime | None:
        """The first time strictly after ``now`` the refresh is due (None: off)."""
        if not self.enabled:
            return None
        now = now.astimezone(UTC)
        due = now.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        if due <= now:
            due += timedelta(days=1)
        if self.every == "weekly":
            due += timedelta(days=(7 - due.weekday()) % 7)
        return due

    def cron_fields(self) -> dict[str, Any]:
        """arq's ``cron`` arguments for this schedule (UTC)."""
        fields: dict[str, Any] = {"hour": self.hour, "minute": self.minute, "second": 0}
        if self.every == "weekly":
            fields["weekday"] = 0
        return fields

    def describe(self) -> str:
        if not self.enabled:
            return "off"
        when = "Mondays" if self.every == "weekly" else "daily"
        return f"{when} at {self.hour:02d}:{self.minute:02d} UTC"


def current_season(day: date) -> str:
    """The season code of ``day`` (seasons start in July): 2025-03-01 is ``2425``."""
    start = day.year if day.month >= 7 else day.year - 1
    return f"{start % 100:02d}{(start + 1) % 100:02d}"


def refresh_config(
    config: dict[str, Any], today: date, seasons_in_db: set[str], activate: str | None
) -> dict[str, Any]:
    """A model's stored configuration extended to ``today``: the training request of its
    retraining (``activate`` added when given)."""
    data = {k: config.get(k) for k in runconfig.FIELDS if k in config}
    hyper = data.get("hyperparameters") or {}
    data["hyperparameters"] = {k: v for k, v in hyper.items() if k in runconfig.HYPERPARAMETERS}
    data["date_to"] = today.isoformat()
    seasons = list(data.get("seasons") or [])
    season = current_season(today)
    if seasons and season not in seasons and season in seasons_in_db:
        seasons.append(season)
    data["seasons"] = seasons
    if activate is not None:
        data["activate"] = activate
    return data


async def refresh(
    services: Any,
    *,
    today: date,
    activate: str | None = ACTIVATE,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Any]:
    """Download, ingest and retrain (see the module).  Returns ``{season, downloaded,
    ingested, failed, runs}``: a league whose file cannot be fetched is listed in
    ``failed`` and its models are still retrained on what the database has."""
    engine, settings = services.engine, services.settings
    active = await registry.list_models(engine, status="active", limit=500)
    leagues = sorted({lg for m in active for lg in (m["training_leagues"] or [])})
    season = current_season(today)
    report: dict[str, Any] = {"season": season, "downloaded": [], "failed": {}, "runs": []}
    paths = []
    for league in leagues:
        try:
            paths += await download(
                settings.download_base_url, settings.data_dir, [league], [season],
                transport=transport,
            )  # fmt: skip
            report["downloaded"].append(league)
        except FPEError as exc:
            report["failed"][league] = str(exc)
            log.warning("refresh: %s %s not downloaded: %s", league, season, exc)
    files = await ingest_paths(engine, paths) if paths else []
    report["ingested"] = [f.summary() for f in files]
    seasons = {lg["code"]: set(lg["seasons"]) for lg in await catalog.list_leagues(engine)}
    for model in active:
        config = model["config"] or {}
        covered = [seasons.get(lg, set()) for lg in config.get("leagues") or []]
        in_db = set.intersection(*covered) if covered else set()
        data = refresh_config(config, today, in_db, activate)
        scope = "+".join(sorted(config.get("leagues") or []))
        key = f"refresh-{today.isoformat()}-{model['model_type']}-{scope}"[:255]
        try:
            run = await start_training(services, data, idempotency_key=key)
        except FPEError as exc:
            report["runs"].append({"model": model["version"], "error": str(exc)})
            log.warning("refresh: %s not retrained: %s", model["version"], exc)
            continue
        await _mark_scheduled(engine, run["task_id"])
        report["runs"].append({"model": model["version"], "task_id": run["task_id"]})
    log.info("refresh for %s: %s", today, report)
    return report


async def _mark_scheduled(engine: Any, task_id: str) -> None:
    async with begin_write(engine) as conn:
        await conn.execute(
            sa.update(_RUNS).where(_RUNS.c.task_id == task_id).values(scheduled=True)
        )


async def run_timer(
    services: Any,
    schedule: Schedule,
    clock: Clock | None = None,
    *,
    times: int | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """The embedded mode's timer: sleep until the refresh is due, run it, repeat (``times``
    refreshes, or forever).  A failed refresh is logged; the timer goes on."""
    clock = clock or SystemClock()
    done = 0
    while schedule.enabled and (times is None or done < times):
        due = schedule.next_due(clock.now())
        assert due is not None
        while (left := (due - clock.now()).total_seconds()) > 0:
            await clock.sleep(min(left, 3600.0))  # wakes hourly: a changed clock is seen
        started = time.monotonic()
        try:
            await refresh(services, today=due.date(), transport=transport)
        except Exception:
            log.exception("the scheduled refresh failed")
        log.info("refresh took %.1f s", time.monotonic() - started)
        done += 1


async def status(engine: Any, schedule: Schedule, now: datetime) -> dict[str, Any]:
    """The schedule, when the refresh is next due, and its latest run (for the page)."""
    async with engine.connect() as conn:
        last = (
            await conn.execute(
                sa.select(_RUNS.c.task_id, _RUNS.c.created_at, _RUNS.c.status)
                .where(_RUNS.c.scheduled.is_(True))
                .order_by(_RUNS.c.created_at.desc(), _RUNS.c.id.desc())
                .limit(1)
            )
        ).first()
    return {
        "enabled": schedule.enabled,
        "every": schedule.every,
        "at": f"{schedule.hour:02d}:{schedule.minute:02d}",
        "description": schedule.describe(),
        "next_due": schedule.next_due(now),
        "last_run_at": None if last is None else last.created_at,
        "last_task_id": None if last is None else last.task_id,
    }
