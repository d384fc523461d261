"""The scheduled refresh with a clock the tests move: when it is due, what it downloads,
ingests and retrains, the embedded timer, and the arq cron path against real Redis."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from server.base.config import ConfigError, Settings
from server.runs import refresh
from server.runs.refresh import Schedule, current_season
from server.runs.services import open_services, start_training
from server.runs.worker import create_worker, cron_jobs
from server.store import catalog, migrations
from server.store.db import create_engine
from server.store.ingest import ingest_paths
from server.store.tables import Model, ModelStatus, TrainingRun
from tests.conftest import FOOTBALL_DATA

EARLY = ["2122", "2223", "2324"]
TODAY = date(2025, 3, 1)


class FakeClock:
    """Time that moves only when the code under test sleeps; after ``budget`` seconds of
    sleep it blocks (so a timer in the background stops after its first refresh)."""

    def __init__(self, start: datetime, budget: float = float("inf")) -> None:
        self.at, self.budget, self.slept = start, budget, 0.0

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        if self.slept + seconds > self.budget:
            await asyncio.Event().wait()  # never set: the timer waits here until cancelled
        self.slept += seconds
        self.at += timedelta(seconds=seconds)
        await asyncio.sleep(0)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("every", "now", "due"),
    [
        ("daily", "2025-03-01 04:00", "2025-03-01 05:00"),
        ("daily", "2025-03-01 05:00", "2025-03-02 05:00"),
        ("daily", "2025-12-31 23:59", "2026-01-01 05:00"),
        ("weekly", "2025-03-05 10:00", "2025-03-10 05:00"),  # a Wednesday: next Monday
        ("weekly", "2025-03-10 04:59", "2025-03-10 05:00"),  # a Monday, before the time
        ("weekly", "2025-03-10 05:01", "2025-03-17 05:00"),
    ],
)
def test_when_the_refresh_is_due(every, now, due):
    assert Schedule(every, 5, 0).next_due(at(now)) == at(due)


def test_the_schedule_comes_from_the_configuration():
    assert Schedule.from_settings(Settings.from_env({})).next_due(at("2025-03-01 00:00")) is None
    s = Schedule.from_settings(
        Settings.from_env({"FPE_REFRESH": "Weekly", "FPE_REFRESH_AT": "3:30"})
    )
    assert (s.every, s.hour, s.minute) == ("weekly", 3, 30)
    assert s.describe() == "Mondays at 03:30 UTC"
    assert s.cron_fields() == {"hour": 3, "minute": 30, "second": 0, "weekday": 0}
    with pytest.raises(ConfigError, match="FPE_REFRESH='hourly'"):
        Settings.from_env({"FPE_REFRESH": "hourly"})
    with pytest.raises(ConfigError, match="FPE_REFRESH_AT='25:00'"):
        Settings.from_env({"FPE_REFRESH_AT": "25:00"})
    assert [j.name for j in cron_jobs(Schedule())] == ["cron:reap_job"]
    assert [j.name for j in cron_jobs(s)] == ["cron:reap_job", "refresh"]


def test_season_of_a_day():
    assert [current_season(date(y, m, 1)) for y, m in [(2025, 3), (2025, 7), (1999, 8)]] == [
        "2425",
        "2526",
        "9900",
    ]


def test_a_models_configuration_extended_to_today():
    config = {
        "model_type": "full",
        "leagues": ["E0"],
        "seasons": EARLY,
        "date_from": None,
        "date_to": "2024-05-19",
        "hyperparameters": {"xi": 0.003, "l2": 4.0, "unknown_since": 1},
    }
    data = refresh.refresh_config(config, TODAY, {"2425", *EARLY}, "auto")
    assert data["date_to"] == "2025-03-01" and data["seasons"] == [*EARLY, "2425"]
    assert data["hyperparameters"] == {"xi": 0.003, "l2": 4.0} and data["activate"] == "auto"
    # every season (none named) stays every season; a season not in the database is not added
    assert refresh.refresh_config({**config, "seasons": []}, TODAY, set(), None)["seasons"] == []
    assert refresh.refresh_config(config, TODAY, set(EARLY), None)["seasons"] == EARLY
    assert "activate" not in refresh.refresh_config(config, TODAY, set(), None)


# --- in-process: the refresh itself and the embedded timer --------------------------------------


@pytest.fixture(params=["postgresql", "sqlite"])
async def early(request, database_url, football_data_server, tmp_path):
    """Services on a database holding E0 up to 2023/24 with an active poisson model; the
    download server has 2024/25 too."""
    url = await database_url(request.param)
    engine = create_engine(url)
    await migrations.upgrade(engine)
    reports = await ingest_paths(engine, [FOOTBALL_DATA / s / "E0.csv" for s in EARLY])
    assert all(r.ok for r in reports)
    await engine.dispose()
    settings = Settings(
        database_url=url,
        data_dir=tmp_path,
        download_base_url=football_data_server,
        refresh="daily",
        heartbeat_seconds=0.2,
    )
    services = await open_services(settings)
    await start_training(services, {"model_type": "poisson", "leagues": ["E0"], "seasons": EARLY})
    await services.queue.join()
    yield services
    await services.close()


async def scheduled_runs(engine) -> list[dict]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(TrainingRun.status, TrainingRun.config, TrainingRun.scheduled).order_by(
                TrainingRun.id
            )
        )
        return [dict(r._mapping) for r in rows if r.scheduled]


async def test_refresh_downloads_ingests_and_retrains_up_to_today(early):
    services = early
    report = await refresh.refresh(services, today=TODAY)
    assert report["season"] == "2425" and report["downloaded"] == ["E0"]
    assert "inserted 380" in report["ingested"][0] and len(report["runs"]) == 1
    await services.queue.join()
    (run,) = await scheduled_runs(services.engine)
    assert run["status"] == ModelStatus.COMPLETED
    assert run["config"]["date_to"] == "2025-03-01"
    assert run["config"]["seasons"] == [*EARLY, "2425"]
    async with services.engine.connect() as conn:
        active = (
            await conn.execute(sa.select(Model.config).where(Model.status == ModelStatus.ACTIVE))
        ).scalar_one()
    assert active["date_to"] == "2025-03-01"
    (league,) = await catalog.list_leagues(services.engine)
    assert league["last_match_date"] == date(2025, 5, 25) and league["last_ingest_at"] is not None

    # the same day again (a retried job): the file is unchanged, no second run
    again = await refresh.refresh(services, today=TODAY)
    assert "unchanged 380" in again["ingested"][0]
    assert len(await scheduled_runs(services.engine)) == 1
    status = await refresh.status(services.engine, Schedule("daily"), at("2025-03-01 06:00"))
    assert status["next_due"] == at("2025-03-02 05:00") and status["last_run_at"] is not None


async def test_a_league_whose_file_is_missing_is_reported_and_still_retrained(early):
    report = await refresh.refresh(early, today=date(2026, 9, 1))  # 2627: not on the server
    assert report["downloaded"] == [] and "404" in report["failed"]["E0"]
    assert len(report["runs"]) == 1 and "task_id" in report["runs"][0]
    await early.queue.join()


async def test_the_embedded_timer_waits_for_its_time_then_refreshes(early):
    clock = FakeClock(at("2025-02-28 12:00"), budget=17 * 3600)
    await refresh.run_timer(early, Schedule("daily", 5, 0), clock, times=1)
    assert clock.slept == 17 * 3600  # from 12:00 to 05:00 the next day
    await early.queue.join()
    (run,) = await scheduled_runs(early.engine)
    assert run["config"]["date_to"] == "2025-03-01"


async def test_fpe_serve_without_redis_runs_the_timer(early, tmp_path):
    """The app's lifespan starts the timer with the clock it is given, and stops it."""
    import httpx

    from server.api.app import create_app

    clock = FakeClock(at("2025-02-28 23:00"), budget=6 * 3600)
    app = create_app(early.settings, clock=clock)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")
        )
        for _ in range(300):
            if await scheduled_runs(early.engine):
                break
            await asyncio.sleep(0.1)
        await app.state.services.queue.join()
        (run,) = await scheduled_runs(early.engine)
        assert run["config"]["date_to"] == "2025-03-01"
        out = (
            await client.post(
                "/graphql",
                json={"query": "{ refreshSchedule { enabled description nextDue lastRunAt } }"},
            )
        ).json()["data"]["refreshSchedule"]
        assert out["enabled"] and out["description"] == "daily at 05:00 UTC"
        assert out["nextDue"].endswith("05:00:00+00:00") and out["lastRunAt"]


# --- the workers' cron, against real Redis and PostgreSQL ---------------------------------------


async def test_the_worker_cron_enqueues_one_refresh_that_retrains(
    seeded_url, redis_url, redis_prefix, football_data_server, tmp_path
):
    settings = Settings(
        database_url=await seeded_url("postgresql"),
        data_dir=tmp_path,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        download_base_url=football_data_server,
        refresh="daily",
        refresh_at=(5, 0),
        heartbeat_seconds=0.2,
        stale_seconds=5.0,
    )
    services = await open_services(settings)
    clock = FakeClock(at("2025-03-01 05:00"))
    try:
        await start_training(
            services, {"model_type": "poisson", "leagues": ["E0"], "seasons": EARLY}
        )

        def make_worker():
            return create_worker(
                settings,
                burst=True,
                poll_delay=0.05,
                handle_signals=False,
                ctx={"settings": settings, "clock": clock},
            )

        async def burst() -> None:
            worker = make_worker()
            try:
                await worker.main()
            finally:
                await worker.close()

        await burst()  # trains the model the refresh will retrain
        # two workers reach 05:00 on the clock: arq's unique job id lets one refresh through
        before = at("2025-03-01 04:59:59.5")
        for _ in range(2):
            worker = make_worker()
            try:
                await worker.main()  # connects (burst: returns at once)
                (job,) = [j for j in worker.cron_jobs if j.name == "refresh"]
                job.next_run = None  # forget the real clock's next run
                await worker.run_cron(before - timedelta(seconds=5), 0.5)  # schedules 05:00
                await worker.run_cron(before, 0.5)  # due within the window: enqueued
            finally:
                await worker.close()
        # the second worker may have run the refresh already; these finish what is queued
        await burst()
        await burst()
        runs = await scheduled_runs(services.engine)
        assert len(runs) == 1, runs
        assert runs[0]["status"] == ModelStatus.COMPLETED
        assert runs[0]["config"]["date_to"] == "2025-03-01"
        assert runs[0]["config"]["seasons"] == [*EARLY, "2425"]
    finally:
        await services.close()
