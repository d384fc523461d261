"""The training service with the embedded (in-process) runner, on PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from core.errors import InvalidInputError, UnknownTeamError
from server import predictions, runner, training
from server.config import Settings
from server.runner import RunContext, execute_run, reap_stale_runs
from server.services import cancel_training, follow_run, open_services, start_training
from server.tables import Model, ModelStatus, TrainingRun
from server.training import ValidationError

E0_RECENT = {"leagues": ["E0"], "seasons": ["2122", "2223", "2324", "2425"]}


@pytest.fixture(params=["postgresql", "sqlite"])
async def services(request, seeded_url, tmp_path):
    settings = Settings(
        database_url=await seeded_url(request.param),
        data_dir=tmp_path,
        heartbeat_seconds=0.2,
        stale_seconds=2.0,
    )
    svc = await open_services(settings)
    assert svc.in_process
    yield svc
    await svc.close()


async def count(engine, table) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()


@pytest.mark.parametrize(
    ("request_data", "field", "message"),
    [
        ({"model_type": "poisson", "leagues": ["XX"]}, "leagues", "unknown league"),
        (
            {"model_type": "poisson", "leagues": ["E0"], "seasons": ["9900"]},
            "seasons",
            "no matches for season",
        ),
        (
            {
                "model_type": "poisson",
                "leagues": ["E0"],
                "date_from": "2024-05-01",
                "date_to": "2023-05-01",
            },
            "date_from",
            "after date_to",
        ),
        ({"model_type": "poisson", "leagues": ["E0"], "seasons": ["2425"]}, "seasons", "too short"),
        (
            {"model_type": "poisson", "leagues": ["E0"], "date_from": "2025-01-01"},
            "seasons",
            "at least 300",
        ),
        ({"model_type": "neural", "leagues": ["E0"]}, "model_type", "unknown model type"),
        (
            {"model_type": "full", "leagues": ["E0"], "hyperparameters": {"depth": 3}},
            "hyperparameters",
            "unknown hyperparameter",
        ),
        (
            {"model_type": "full", "leagues": ["E0"], "hyperparameters": {"validation_share": 0.9}},
            "hyperparameters",
            "validation_share",
        ),
        ({"model_type": "full", "leagues": "E0"}, "leagues", "list"),
        ({"model_type": "full", "leagues": ["E0"], "colour": "red"}, "colour", "unknown field"),
        ({"model_type": "full", "leagues": ["E0"], "date_to": "soon"}, "date_to", "not a date"),
    ],
)
async def test_bad_configurations_are_refused_before_anything_is_queued(
    services, request_data, field, message
):
    with pytest.raises(ValidationError, match=message) as info:
        await start_training(services, request_data)
    assert info.value.field == field
    assert await count(services.engine, TrainingRun.__table__) == 0


async def test_a_poisson_run_from_queued_to_an_active_model(services):
    run = await start_training(services, {"model_type": "poisson", **E0_RECENT})
    assert run["status"] == "queued" and run["match_count"] == 1520
    events = [e async for _, e in follow_run(services, run["task_id"])]
    assert events[0]["status"] == "queued" and events[-1]["status"] == "completed"
    progress = [e["progress"] for e in events if e.get("progress") is not None]
    assert progress == sorted(progress) and progress[-1] == 100.0
    assert any(e["type"] == "progress" and "metrics" in e for e in events)  # interim
    done = await training.get_run(services.engine, run["task_id"])
    assert done["status"] == "completed" and done["progress"] == 100.0
    assert done["model_version"].startswith("poisson-")
    assert done["rps"] == done["metrics"]["rps"] and done["brier_score"] > 0
    model = await training.get_model(services.engine, model_type="poisson")
    assert model["version"] == done["model_version"] and model["status"] == "active"
    strengths = model["model_weights"]["team_strengths"]
    assert all(key.isdigit() for key in strengths)  # keyed by team id
    names = model["model_weights"]["teams"]
    assert "Arsenal" in names.values() and set(strengths) <= set(names)
    assert model["training_leagues"] == ["E0"]
    assert model["metrics"]["market"]["rps"] > 0
    # the engine's own forecast: both goal models and the pool's weights are stored
    weights = model["model_weights"]
    assert set(weights) >= {"dixon_coles", "market_implied", "pool", "home_advantage"}
    assert len(weights["pool"]["weights"]) == 2 and weights["pool"]["n_train"] > 300
    metrics = model["metrics"]
    assert metrics["market_kind"] == "pre" and metrics["market_source"] == "pinnacle_pre"
    assert metrics["ceiling"]["market_source"] == "pinnacle_close"
    assert set(metrics["components"]) == {"dixon_coles", "market_implied"}
    # it predicts through the service layer with no odds
    version = done["model_version"]
    p = await predictions.predict(services.engine, "Arsenal", "Chelsea", "E0", version)
    assert p["model_type"] == "poisson" and not p["used_odds"]
    assert abs(p["home_win"] + p["draw"] + p["away_win"] - 1) < 1e-9
    result = await predictions.evaluate(
        services.engine, version, {"leagues": ["E0"], "seasons": ["2425"]}, market="close"
    )
    assert result["market_kind"] == "close" and result["market_source"] == "pinnacle_close"
    assert "ceiling" not in result and result["n"] + result["matches_without_market"] == 380


async def test_a_second_run_archives_the_first_model(services):
    for _ in range(2):
        run = await start_training(services, {"model_type": "poisson", **E0_RECENT})
        await services.queue.join()
    models = await training.list_models(services.engine, model_type="poisson")
    assert [m["status"] for m in models] == ["active", "archived"]
    assert models[0]["version"] != models[1]["version"]
    assert (await training.get_run(services.engine, run["task_id"]))["model_version"] == models[0][
        "version"
    ]


async def test_cancelling_a_running_fit_stops_it_mid_way(services):
    slow = {"model_type": "full", "leagues": ["E0", "E1"], "hyperparameters": {"refit_days": 1}}
    run = await start_training(services, slow)
    async for _, event in follow_run(services, run["task_id"]):
        if event.get("type") == "progress" and event["progress"] > 3:
            at_cancel = event["progress"]
            break
    await cancel_training(services, run["task_id"])
    await services.queue.join()
    done = await training.get_run(services.engine, run["task_id"])
    assert done["status"] == "cancelled" and done["model_id"] is None
    # it stopped at the next check, not at the end: the walk-forward was barely further on
    assert done["progress"] - at_cancel < 20
    assert await count(services.engine, Model.__table__) == 0


async def test_a_queued_run_cancelled_before_it_starts_never_runs(services):
    config = training.parse_config({"model_type": "poisson", **E0_RECENT})
    run = await training.create_run(services.engine, config, 1520)
    cancelled = await cancel_training(services, run["task_id"])
    assert cancelled["status"] == "cancelled"
    ctx = RunContext(services.engine, services.events)
    assert await execute_run(ctx, run["task_id"]) == "skipped"


async def test_a_run_executes_once_even_when_delivered_twice(services):
    config = training.parse_config({"model_type": "poisson", **E0_RECENT})
    run = await training.create_run(services.engine, config, 1520)
    ctx = RunContext(services.engine, services.events, heartbeat=0.2)
    outcomes = await asyncio.gather(
        execute_run(ctx, run["task_id"]), execute_run(ctx, run["task_id"])
    )
    assert sorted(outcomes) == ["completed", "skipped"]
    assert await count(services.engine, Model.__table__) == 1


async def test_a_failing_run_keeps_its_error_and_writes_no_model(services, monkeypatch):
    def broken(*args, **kwargs):
        raise InvalidInputError("the data are not what they seemed")

    monkeypatch.setattr(runner, "train", broken)
    run = await start_training(services, {"model_type": "poisson", **E0_RECENT})
    await services.queue.join()
    done = await training.get_run(services.engine, run["task_id"])
    assert done["status"] == "failed"
    assert done["error_message"] == "the data are not what they seemed"
    assert await count(services.engine, Model.__table__) == 0
    events = [e async for _, e in follow_run(services, run["task_id"])]
    assert events[-1]["status"] == "failed"


async def test_a_run_whose_worker_died_is_reaped(services):
    config = training.parse_config({"model_type": "poisson", **E0_RECENT})
    run = await training.create_run(services.engine, config, 1520)
    async with services.engine.begin() as conn:  # as a worker killed mid-run leaves it
        await conn.execute(
            sa.update(TrainingRun.__table__)
            .where(TrainingRun.__table__.c.task_id == run["task_id"])
            .values(
                status=ModelStatus.TRAINING,
                worker="gone:1",
                heartbeat_at=datetime.now(UTC) - timedelta(seconds=10),
            )
        )
    ctx = RunContext(services.engine, services.events)
    assert await reap_stale_runs(ctx, stale_after=2.0) == [run["task_id"]]
    done = await training.get_run(services.engine, run["task_id"])
    assert done["status"] == "failed" and "worker gone:1 lost" in done["error_message"]
    assert await reap_stale_runs(ctx, stale_after=2.0) == []


async def test_predict_and_evaluate_from_the_active_full_model(services):
    await start_training(services, {"model_type": "full", **E0_RECENT})
    await services.queue.join()
    p = await predictions.predict(services.engine, "arsenal", "Chelsea", "E0")
    assert p["home_team"] == "Arsenal" and p["model_type"] == "full"
    assert abs(p["home_win"] + p["draw"] + p["away_win"] - 1) < 1e-9
    assert len(p["score_grid"]) == 11 and set(p["totals"]) >= {"2.5"}
    with_odds = await predictions.predict(
        services.engine, "Arsenal", "Chelsea", "E0", odds=(1.5, 4.5, 6.5)
    )
    assert with_odds["home_win"] != p["home_win"] or with_odds["used_odds"]
    with pytest.raises(predictions.TeamLookupError, match="Atlantis"):
        await predictions.predict(services.engine, "Atlantis", "Chelsea")
    with pytest.raises(UnknownTeamError, match="Hull"):  # a club the model never saw
        await predictions.predict(services.engine, "Hull", "Chelsea", "E1")
    with pytest.raises(InvalidInputError, match="odds"):
        await predictions.predict(services.engine, "Arsenal", "Chelsea", odds=(0.5, 2, 3))
    result = await predictions.evaluate(
        services.engine, None, {"leagues": ["E0"], "seasons": ["2425"]}
    )
    assert result["n"] == 380
    # 2024/25 began before this model's validation period: those matches are flagged
    model = await training.get_model(services.engine)
    start = model["metrics"]["validation_start"]
    frame = await training.load_matches(
        services.engine,
        training.parse_config({"model_type": "full", "leagues": ["E0"], "seasons": ["2425"]}),
    )
    assert result["in_sample_matches"] == int((frame["date"] < start).sum()) > 0
    assert abs(result["rps_diff"]) < 0.01
