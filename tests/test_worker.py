"""arq workers against real PostgreSQL and Redis: every model type, concurrency,
cancellation, duplicate delivery, a worker killed with SIGKILL, Redis going away."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from server.base.config import Settings
from server.runs import registry, training
from server.runs.queue import ArqQueue, QueueUnavailableError
from server.runs.runner import RunContext, execute_run, reap_stale_runs
from server.runs.services import cancel_training, follow_run, open_services, start_training
from server.runs.worker import create_worker
from server.store.tables import Model, ModelStatus, TrainingRun

E0_RECENT = {"leagues": ["E0"], "seasons": ["2122", "2223", "2324", "2425"]}


@pytest.fixture
async def stack(seeded_url, redis_url, redis_prefix, tmp_path):
    settings = Settings(
        database_url=await seeded_url("postgresql"),
        data_dir=tmp_path,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        heartbeat_seconds=0.2,
        stale_seconds=2.0,
    )
    services = await open_services(settings)
    assert not services.in_process
    yield settings, services
    await services.close()


async def burst(settings: Settings) -> None:
    worker = create_worker(settings, burst=True, poll_delay=0.05, handle_signals=False)
    try:
        await worker.main()
    finally:
        await worker.close()


async def runs_by_status(engine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(TrainingRun.status, sa.func.count()).group_by(TrainingRun.status)
        )
        return {ModelStatus(s).value: n for s, n in rows}


async def test_every_model_type_end_to_end(stack):
    settings, services = stack
    runs = [
        await start_training(services, {"model_type": t, **E0_RECENT})
        for t in ("poisson", "blending", "calibration", "full")
    ]
    await burst(settings)
    for run in runs:
        done = await training.get_run(services.engine, run["task_id"])
        assert done["status"] == "completed", done["error_message"]
        assert done["model_version"].startswith(run["run_type"])
        events = await services.events.read(run["task_id"])
        assert events[0][1]["status"] == "queued" and events[-1][1]["status"] == "completed"
        assert any(e["type"] == "progress" for _, e in events)
    models = await registry.list_models(services.engine)
    assert sorted(m["model_type"] for m in models if m["status"] == "active") == [
        "blending",
        "calibration",
        "full",
        "poisson",
    ]
    every = await services.events.read_all("0")
    assert {e["status"] for _, e in every} >= {"queued", "training", "completed"}


async def test_ten_concurrent_runs_end_with_unique_versions_and_one_active_per_scope(stack):
    settings, services = stack
    e1 = {"leagues": ["E1"], "seasons": ["2223", "2324", "2425"]}
    requests = (
        [{"model_type": "poisson", **E0_RECENT}] * 3
        + [{"model_type": "poisson", **e1}] * 2
        + [{"model_type": "full", **E0_RECENT}] * 3
        + [{"model_type": "full", **e1}] * 2
    )
    # activate: always, so that every completion is a promotion racing the others
    await asyncio.gather(*(start_training(services, r | {"activate": "always"}) for r in requests))
    await asyncio.gather(burst(settings), burst(settings))  # two workers share the queue
    assert await runs_by_status(services.engine) == {"completed": 10}
    async with services.engine.connect() as conn:
        versions = [r[0] for r in await conn.execute(sa.select(Model.version))]
        active = (
            await conn.execute(
                sa.select(Model.model_type, Model.scope, sa.func.count())
                .where(Model.status == "active")
                .group_by(Model.model_type, Model.scope)
            )
        ).all()
    assert len(versions) == len(set(versions)) == 10
    assert {(t, s): n for t, s, n in active} == {
        ("poisson", "E0"): 1,
        ("poisson", "E1"): 1,
        ("full", "E0"): 1,
        ("full", "E1"): 1,
    }


async def test_cancel_stops_a_run_on_a_live_worker_mid_way(stack):
    settings, services = stack
    run = await start_training(
        services,
        {"model_type": "full", "leagues": ["E0", "E1"], "hyperparameters": {"refit_days": 1}},
    )
    worker = asyncio.create_task(burst(settings))  # takes the job; exits when it is done
    async for _, event in follow_run(services, run["task_id"]):
        if event.get("type") == "progress" and event["progress"] > 3:
            at_cancel = event["progress"]
            break
    await cancel_training(services, run["task_id"])
    final = [e async for _, e in follow_run(services, run["task_id"])][-1]
    await worker
    assert final["status"] == "cancelled"
    stopped = await training.get_run(services.engine, run["task_id"])
    assert stopped["progress"] - at_cancel < 20  # stopped at the next check
    assert stopped["model_id"] is None


async def test_a_job_delivered_twice_runs_once(stack):
    settings, services = stack
    run = await start_training(services, {"model_type": "poisson", **E0_RECENT})
    await services.queue.enqueue(run["task_id"])  # arq keeps one job per id
    await burst(settings)
    ctx = RunContext(services.engine, services.events)
    assert await execute_run(ctx, run["task_id"]) == "skipped"  # a late second delivery
    async with services.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(Model))).scalar() == 1


async def test_redis_unavailable_is_a_clear_error_and_leaves_no_row(stack, tmp_path):
    settings, services = stack
    dead = settings.__class__(**{**settings.__dict__, "redis_url": "redis://127.0.0.1:1/0"})
    with pytest.raises(QueueUnavailableError, match="cannot reach Redis"):
        await open_services(dead)
    # Redis disappearing after start-up: the run is refused and not left behind
    live_queue = services.queue
    services.queue = await _unreachable_queue(settings)
    try:
        with pytest.raises(QueueUnavailableError, match="Redis"):
            await start_training(services, {"model_type": "poisson", **E0_RECENT})
    finally:
        await services.queue.close()
        services.queue = live_queue
    assert await runs_by_status(services.engine) == {}


async def _unreachable_queue(settings: Settings) -> ArqQueue:
    from arq.connections import ArqRedis

    from server.runs.keys import Keys

    pool = ArqRedis.from_url("redis://127.0.0.1:1/0")
    return ArqQueue(pool, Keys(settings.redis_prefix))


async def test_a_worker_killed_mid_run_leaves_no_run_in_training(stack):
    settings, services = stack
    env = {
        **os.environ,
        "FPE_DATABASE_URL": settings.database_url,
        "FPE_REDIS_URL": settings.redis_url,
        "FPE_REDIS_PREFIX": settings.redis_prefix,
        "FPE_HEARTBEAT_SECONDS": "0.2",
        "FPE_STALE_SECONDS": "2",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        run = await start_training(
            services,
            {"model_type": "full", "leagues": ["E0", "E1"], "hyperparameters": {"refit_days": 1}},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            current = await training.get_run(services.engine, run["task_id"])
            if current["status"] == "training" and current["progress"] > 1:
                break
            await asyncio.sleep(0.2)
        assert current["status"] == "training", "the worker never started the run"
        os.kill(proc.pid, signal.SIGKILL)
        killed = time.monotonic()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # any surviving worker's reaper (every 10 s in production) finds it once its heartbeat
    # is older than FPE_STALE_SECONDS; the loop gives up after the 60 s
    ctx = RunContext(services.engine, services.events)
    while time.monotonic() - killed < 60:
        if run["task_id"] in await reap_stale_runs(ctx, settings.stale_seconds):
            break
        await asyncio.sleep(0.5)
    done = await training.get_run(services.engine, run["task_id"])
    assert done["status"] == "failed" and "lost" in done["error_message"]
    final = [e async for _, e in follow_run(services, run["task_id"])][-1]
    assert final["status"] == "failed"
