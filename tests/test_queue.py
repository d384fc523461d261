"""The embedded (in-process) queue's reaper: a run a crash left in ``training`` is failed soon
after ``fpe serve`` starts again, without waiting for the next run to be queued."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa

from server.api.app import create_app
from server.base.config import Settings
from server.runs import runconfig, training
from server.store.db import create_engine
from server.store.tables import ModelStatus, TrainingRun

E0_RECENT = {"leagues": ["E0"], "seasons": ["2122", "2223", "2324", "2425"]}


async def _crashed_run(url: str, last_heartbeat: datetime) -> str:
    """A run in ``training`` whose process died at ``last_heartbeat``."""
    engine = create_engine(url)
    config = runconfig.parse_config({"model_type": "poisson", **E0_RECENT})
    run = await training.create_run(engine, config, 1520)
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(TrainingRun.__table__)
            .where(TrainingRun.__table__.c.task_id == run["task_id"])
            .values(
                status=ModelStatus.TRAINING,
                started_at=last_heartbeat,
                heartbeat_at=last_heartbeat,
                worker="host:4242",
                phase="dixon_coles",
            )
        )
    await engine.dispose()
    return run["task_id"]


async def test_a_crashed_run_fails_at_start_up_and_soon_after(seeded_url, tmp_path):
    url = await seeded_url("sqlite")
    now = datetime.now(UTC)
    long_dead = await _crashed_run(url, now - timedelta(minutes=10))
    just_died = await _crashed_run(url, now)  # its heartbeat goes stale 2 s from now
    settings = Settings(database_url=url, data_dir=tmp_path, stale_seconds=2.0)
    app = create_app(settings)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        engine = app.state.services.engine
        # reaped before the server answers its first request
        run = await training.get_run(engine, long_dead)
        assert run["status"] == "failed" and "worker was lost" in run["error_message"]
        assert (await training.get_run(engine, just_died))["status"] == "training"
        # the next reap is due when its heartbeat goes stale, well before the 10 s period
        for _ in range(80):
            await asyncio.sleep(0.1)
            if (await training.get_run(engine, just_died))["status"] == "failed":
                break
        assert (await training.get_run(engine, just_died))["status"] == "failed"
        # the polling page sees it fail
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")
        )
        task = (await client.get(f"/api/tasks/{just_died}")).json()["data"]
        assert task["status"] == "failed" and "lost" in task["error"]
