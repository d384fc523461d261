"""Serving (issue 19): the served model is refitted on the whole selection, one active model
per type and league set serves the fixtures of its leagues, a new version goes live only
when it is not worse than the one it would replace, and versions can be inspected and
compared.  On PostgreSQL and SQLite."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from core.errors import UnknownTeamError
from server.base.config import Settings
from server.runs import compare, predictions, registry, scope, training
from server.runs.modelerrors import ModelNotFoundError
from server.runs.services import follow_run, open_services, start_training
from server.store.tables import Model

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
    yield svc
    await svc.close()


async def train(services, **request) -> dict:
    run = await start_training(services, request)
    async for _ in follow_run(services, run["task_id"]):
        pass
    done = await training.get_run(services.engine, run["task_id"])
    assert done["status"] == "completed", done["error_message"]
    return done


async def status_of(engine, version: str) -> str:
    return (await registry.get_model(engine, version, with_weights=False))["status"]


async def test_the_new_user_story_e0_then_e1(services):
    """The issue's "done when", through the services every adapter calls."""
    engine = services.engine
    e0 = await train(services, model_type="full", leagues=["E0"], date_to="2025-05-18")
    (model,) = await registry.list_models(engine)
    assert model["data_to"] == dt.date(2025, 5, 18)  # the served model's last match
    assert model["data_from"] == dt.date(2015, 8, 8)
    assert model["training_leagues"] == ["E0"] and model["scope"] == "E0"
    assert len(model["training_seasons"]) == 10
    assert model["validation_to"] == model["data_to"]
    assert model["validation_from"] > model["data_from"]
    assert model["training_matches"] == e0["match_count"] == 3787  # every selected match
    assert model["validation_matches"] == model["metrics"]["n"]
    assert "refitted on all 3787 selected matches" in " ".join(e0["logs"])
    # Ipswich played 2024/25 only: the refitted model knows them
    p = await predictions.predict(engine, "Ipswich", "Arsenal")
    assert p.prediction is not None and p.prediction.model_version == model["version"]
    assert abs(sum(p.prediction.outcomes.as_tuple()) - 1) < 1e-9
    # the error names the leagues that have active models
    with pytest.raises(scope.NoModelForLeagueError, match="active 'full' models cover E0"):
        await predictions.predict(engine, "Leeds", "Burnley")

    e1 = await train(services, model_type="full", leagues=["E1"])
    assert await status_of(engine, e0["model_version"]) == "active"  # E1 retires nothing
    assert await status_of(engine, e1["model_version"]) == "active"
    both = await registry.list_models(engine, status="active")
    assert {m["scope"] for m in both} == {"E0", "E1"}
    assert (await predictions.predict(engine, "Arsenal", "Chelsea")).model_version == (
        e0["model_version"]
    )
    assert (await predictions.predict(engine, "Leeds", "Burnley")).model_version == (
        e1["model_version"]
    )
    # --league decides; a model that does not know a team says so
    with pytest.raises(UnknownTeamError, match="not in model"):
        await predictions.predict(engine, "Arsenal", "Chelsea", "E1")
    # a batch: each fixture by the model of its league
    batch = await predictions.predict_fixtures(
        engine,
        [{"home": "Arsenal", "away": "Chelsea"}, {"home": "Leeds", "away": "Burnley"}],
    )
    assert [b.model_version for b in batch] == [e0["model_version"], e1["model_version"]]
    # GraphQL models(league) and the listing filter by league
    assert [m["version"] for m in await registry.list_models(engine, league="E1")] == [
        e1["model_version"]
    ]
    # the legacy status: the newest active full model (latest data)
    newest = await registry.get_model(engine, with_weights=False)
    assert newest["version"] == e0["model_version"]  # E0 to 2025-05-18 > E1 to 2025-05-03


async def test_worse_runs_stay_candidates_under_auto(services):
    engine = services.engine
    first = await train(services, model_type="poisson", **E0_RECENT)
    assert "activated: no 'poisson' model of E0 was active" in first["logs"][-1]
    # the same configuration again: the same held-out forecasts, not worse, promoted
    same = await train(services, model_type="poisson", **E0_RECENT)
    assert "activated: not worse than the active model" in same["logs"][-1]
    assert await status_of(engine, same["model_version"]) == "active"
    assert await status_of(engine, first["model_version"]) == "archived"

    # the active model's held-out forecasts made far better on the same matches
    async with engine.begin() as conn:
        forecasts = (
            await conn.execute(
                sa.select(Model.validation_forecasts).where(Model.version == same["model_version"])
            )
        ).scalar_one()
        forecasts["p"] = [[0.8 if k == y else 0.1 for k in range(3)] for y in forecasts["y"]]
        await conn.execute(
            sa.update(Model)
            .where(Model.version == same["model_version"])
            .values(validation_forecasts=forecasts)
        )
    worse = await train(services, model_type="poisson", **E0_RECENT)
    assert worse["message"].startswith(f"model {worse['model_version']} is a candidate: worse")
    assert "kept as a candidate: worse than the active model" in worse["logs"][-1]
    assert "standard error" in worse["logs"][-1]
    assert await status_of(engine, worse["model_version"]) == "completed"
    assert await status_of(engine, same["model_version"]) == "active"
    # predictions still come from the active one; the candidate is activatable by hand
    await registry.activate_model(engine, worse["model_version"])
    assert await status_of(engine, worse["model_version"]) == "active"
    assert await status_of(engine, same["model_version"]) == "archived"

    forced = await train(services, model_type="poisson", activate="always", **E0_RECENT)
    assert await status_of(engine, forced["model_version"]) == "active"
    kept = await train(services, model_type="poisson", activate="never", **E0_RECENT)
    assert await status_of(engine, kept["model_version"]) == "completed"
    assert "activate: never" in kept["logs"][-1]


async def test_show_and_compare(services):
    engine = services.engine
    a = await train(services, model_type="poisson", **E0_RECENT)
    b = await train(
        services,
        model_type="poisson",
        leagues=["E0", "E1"],
        seasons=E0_RECENT["seasons"],
        hyperparameters={"xi": 0.004},
    )
    detail = await compare.model_detail(engine, b["model_version"])
    assert detail["scope"] == "E0,E1" and detail["hyperparameters"]["xi"] == 0.004
    assert set(detail["per_league"]) == {"E0", "E1"}
    assert sum(x["n"] for x in detail["per_league"].values()) == detail["validation_matches"]
    for outcome in ("home", "draw", "away"):
        bins = detail["calibration"][outcome]
        assert sum(b["count"] for b in bins) == detail["validation_matches"]
    assert any("refitted on all" in line for line in detail["logs"])

    result = await compare.compare_models(engine, a["model_version"], b["model_version"])
    paired = result["paired"]
    # a held out E0 matches only, b E0 and E1 ones from another date: their common matches
    # are the E0 matches both held out
    assert 0 < paired["n"] <= detail["validation_matches"]
    assert set(paired["leagues"]) == {"E0"}
    overall = paired["overall"]
    assert overall["rps_diff"] == pytest.approx(overall["b"]["rps"] - overall["a"]["rps"])
    assert overall["rps_diff_se"] > 0
    assert result["hyperparameters"]["xi"] == {"a": 0.0025, "b": 0.004, "same": False}
    assert result["windows"]["scope"]["same"] is False
    for side in ("a", "b"):
        assert sum(x["count"] for x in result["calibration"][side]["draw"]) == paired["n"]
    with pytest.raises(ModelNotFoundError):
        await compare.compare_models(engine, a["model_version"], "nope")
