"""The training service with the embedded (in-process) runner, on PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from core.errors import InvalidInputError, UnknownTeamError
from core.odds import implied_probabilities
from server.base.config import Settings
from server.runs import predictions, registry, runconfig, runner, selection, training
from server.runs.modelerrors import ModelNotFoundError
from server.runs.runconfig import ValidationError
from server.runs.runner import RunContext, execute_run, reap_stale_runs
from server.runs.services import cancel_training, follow_run, open_services, start_training
from server.store.tables import Model, ModelStatus, TrainingRun
from tests.test_ingest import csv_shots

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
    model = await registry.get_model(services.engine, model_type="poisson")
    assert model["version"] == done["model_version"] and model["status"] == "active"
    strengths = model["model_weights"]["team_strengths"]
    assert all(key.isdigit() for key in strengths)  # keyed by team id
    names = model["model_weights"]["teams"]
    assert "Arsenal" in names.values() and set(strengths) <= set(names)
    assert model["training_leagues"] == ["E0"]
    assert model["metrics"]["market"]["rps"] > 0
    # the engine's own forecast: both goal models, the Kalman filter's state, each team's
    # last-match shots (stored since migration 0008) and the pool's four weights (the last
    # a draw intercept)
    weights = model["model_weights"]
    assert set(weights) >= {"dixon_coles", "market_implied", "kalman", "last_shots", "pool"}
    assert set(weights["last_shots"]["teams"]) == set(strengths)  # team ids, as the rest
    components = ["dixon_coles", "market_implied", "last_shots", "draw_intercept"]
    assert weights["pool"]["components"] == components
    assert len(weights["pool"]["weights"]) == 4 and weights["pool"]["n_train"] > 300
    metrics = model["metrics"]
    assert metrics["market_kind"] == "pre" and metrics["market_source"] == "pinnacle_pre"
    assert metrics["ceiling"]["market_source"] == "pinnacle_close"
    assert set(metrics["components"]) == {"dixon_coles", "market_implied"}
    # it predicts through the service layer with no odds
    version = done["model_version"]
    p = (await predictions.predict(services.engine, "Arsenal", "Chelsea", "E0", version)).prediction
    assert p.model_type == "poisson" and not p.used_odds
    assert abs(sum(p.outcomes.as_tuple()) - 1) < 1e-9
    result = await predictions.evaluate(
        services.engine, version, {"leagues": ["E0"], "seasons": ["2425"]}, market="close"
    )
    assert result["market_kind"] == "close" and result["market_source"] == "pinnacle_close"
    assert "ceiling" not in result and result["n"] + result["matches_without_market"] == 380


async def test_a_second_run_archives_the_first_model(services):
    for _ in range(2):
        run = await start_training(services, {"model_type": "poisson", **E0_RECENT})
        await services.queue.join()
    models = await registry.list_models(services.engine, model_type="poisson")
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
    config = runconfig.parse_config({"model_type": "poisson", **E0_RECENT})
    run = await training.create_run(services.engine, config, 1520)
    cancelled = await cancel_training(services, run["task_id"])
    assert cancelled["status"] == "cancelled"
    ctx = RunContext(services.engine, services.events)
    assert await execute_run(ctx, run["task_id"]) == "skipped"


async def test_a_run_executes_once_even_when_delivered_twice(services):
    config = runconfig.parse_config({"model_type": "poisson", **E0_RECENT})
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


async def test_a_run_trains_on_the_stored_shots_on_target(services, monkeypatch, football_data_dir):
    """The frame a run gives core.pipeline.train has each match's shots on target from the
    database (the seeded files have HST and AST), as ``fpe backtest`` has them from the files."""
    given = []

    def record(frame, *args, **kwargs):
        given.append(frame)
        raise InvalidInputError("recorded")

    monkeypatch.setattr(runner, "train", record)
    run = await start_training(services, {"model_type": "poisson", **E0_RECENT})
    await services.queue.join()
    assert (await training.get_run(services.engine, run["task_id"]))["error_message"] == "recorded"
    (frame,) = given
    assert len(frame) == 1520
    files = [csv_shots(football_data_dir / s / "E0.csv") for s in E0_RECENT["seasons"]]
    in_files = [shots for file in files for shots in file.values()]
    for side, column in enumerate(("home_shots_on_target", "away_shots_on_target")):
        assert str(frame[column].dtype) == "Int64" and frame[column].notna().all()
        assert int(frame[column].sum()) == sum(shots[side] for shots in in_files)


async def test_a_run_whose_worker_died_is_reaped(services):
    config = runconfig.parse_config({"model_type": "poisson", **E0_RECENT})
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
    assert done["status"] == "failed" and "worker was lost" in done["error_message"]
    assert "gone:1" not in done["error_message"]  # the host stays in the server log
    assert await reap_stale_runs(ctx, stale_after=2.0) == []


def _grid_agrees_with_the_1x2(result: predictions.FixtureResult) -> None:
    p = result.prediction
    assert p is not None
    grid = np.array(p.markets.score_grid)
    x, y = np.indices(grid.shape)
    assert abs(grid.sum() - 1) < 1e-12 and grid.min() >= 0
    for cells, value in zip((x > y, x == y, x < y), p.outcomes.as_tuple(), strict=True):
        assert abs(grid[cells].sum() - value) < 1e-9
    assert abs(grid.sum(axis=1) @ np.arange(len(grid)) - p.markets.expected_goals.home) < 1e-9
    assert abs(grid[1:, 1:].sum() - p.markets.btts) < 1e-12


async def test_fixtures_batch_grids_agree_with_each_final_1x2_and_its_totals(services):
    """A batch predicts what one-at-a-time predictions do: each grid refitted to its
    fixture's final 1X2, and to its over/under where given; a totals price no grid can
    match with that 1X2 falls back to the 1X2 fit alone."""
    await start_training(services, {"model_type": "full", **E0_RECENT})
    await services.queue.join()
    odds = {"home": 1.5, "draw": 4.5, "away": 6.5}
    fixtures = [
        {"home": "Arsenal", "away": "Chelsea", "league": "E0"},
        {"home": "Arsenal", "away": "Chelsea", "league": "E0", "odds": odds},
        {"home": "Arsenal", "away": "Chelsea", "league": "E0",
         "odds": odds | {"over25": 1.8, "under25": 2.05}},
        {"home": "Arsenal", "away": "Chelsea", "league": "E0",
         "odds": odds | {"over25": 1.01, "under25": 30.0}},
    ]  # fmt: skip
    results = await predictions.predict_fixtures(services.engine, fixtures)
    for r in results:
        _grid_agrees_with_the_1x2(r)
    plain, priced, totals, extreme = (r.prediction for r in results)
    assert extreme.notes and "over/under prices were not used" in extreme.notes[0]
    assert results[3].notes == extreme.notes and not results[2].notes
    single = (await predictions.predict(services.engine, "Arsenal", "Chelsea", "E0")).prediction
    assert abs(plain.outcomes.home - single.outcomes.home) < 1e-12
    with_odds = (
        await predictions.predict(services.engine, "Arsenal", "Chelsea", "E0", odds=(1.5, 4.5, 6.5))
    ).prediction
    assert abs(priced.outcomes.home - with_odds.outcomes.home) < 1e-12
    assert abs(priced.markets.totals[2.5].over - with_odds.markets.totals[2.5].over) < 1e-9
    over = implied_probabilities(np.array([[1.8, 2.05]]), "power")[0, 0]
    assert abs(totals.markets.totals[2.5].over - over) < 1e-9
    assert abs(extreme.markets.totals[2.5].over - priced.markets.totals[2.5].over) < 1e-9


async def test_predict_and_evaluate_from_the_active_full_model(services):
    await start_training(services, {"model_type": "full", **E0_RECENT})
    await services.queue.join()
    r = await predictions.predict(services.engine, "arsenal", "Chelsea", "E0")
    p = r.prediction
    assert r.home_team == "Arsenal" and p.model_type == "full"
    assert abs(sum(p.outcomes.as_tuple()) - 1) < 1e-9
    assert set(p.markets.totals) >= {2.5}
    _grid_agrees_with_the_1x2(r)
    r_odds = await predictions.predict(
        services.engine, "Arsenal", "Chelsea", "E0", odds=(1.5, 4.5, 6.5)
    )
    with_odds = r_odds.prediction
    assert with_odds.outcomes.home != p.outcomes.home or with_odds.used_odds
    # the blend moved the 1X2: the grid and every market moved with it
    _grid_agrees_with_the_1x2(r_odds)
    if abs(with_odds.outcomes.home - with_odds.goal_model.home) > 1e-6:
        assert with_odds.markets.score_grid != p.markets.score_grid
        assert with_odds.markets.expected_goals != with_odds.goal_model_xg
    totals = await predictions.predict(
        services.engine, "Arsenal", "Chelsea", "E0", odds=(1.5, 4.5, 6.5), over_under=(1.8, 2.05)
    )
    _grid_agrees_with_the_1x2(totals)
    over = implied_probabilities(np.array([[1.8, 2.05]]), "power")[0, 0]
    assert abs(totals.prediction.markets.totals[2.5].over - over) < 1e-9
    cut = await predictions.predict(services.engine, "Arsenal", "Chelsea", "E0", max_goals=10)
    assert len(cut.prediction.markets.score_grid) == 11
    with pytest.raises(InvalidInputError, match=r"over/under odds: 0\.9 is outside"):
        await predictions.predict(services.engine, "Arsenal", "Chelsea", over_under=(1.8, 0.9))
    # one fixture's totals no grid can reproduce with its 1X2: an error, not a silent drop
    with pytest.raises(InvalidInputError, match="Arsenal v Chelsea: the over/under prices were"):
        await predictions.predict(
            services.engine, "Arsenal", "Chelsea", "E0", odds=(1.5, 4.5, 6.5), over_under=(1.01, 30)
        )
    with pytest.raises(predictions.TeamLookupError, match="Atlantis"):
        await predictions.predict(services.engine, "Atlantis", "Chelsea")
    with pytest.raises(UnknownTeamError, match="Hull"):  # a club the model never saw
        await predictions.predict(services.engine, "Hull", "Chelsea")
    with pytest.raises(ModelNotFoundError, match="covers E1; active 'full' models cover E0"):
        await predictions.predict(services.engine, "Hull", "Chelsea", "E1")
    with pytest.raises(InvalidInputError, match="odds"):
        await predictions.predict(services.engine, "Arsenal", "Chelsea", odds=(0.5, 2, 3))
    result = await predictions.evaluate(
        services.engine, None, {"leagues": ["E0"], "seasons": ["2425"]}
    )
    assert result["n"] == 380
    bets = result["betting"]["sources"]["max_pre"]
    assert bets["matches_priced"] == 380 and bets["overall"]["bets"] > 0
    assert bets["overall"]["roi"] >= -1 and bets["overall"]["clv"] is not None
    # the served model is refitted on every selected match: 2024/25 is in-sample, flagged
    model = await registry.get_model(services.engine)
    start = (model["data_to"] + timedelta(days=1)).isoformat()
    frame = await selection.load_matches(
        services.engine,
        selection.parse_selection({"leagues": ["E0"], "seasons": ["2425"]}),
    )
    assert result["in_sample_matches"] == int((frame["date"] < start).sum()) > 0
    assert abs(result["rps_diff"]) < 0.01


async def test_train_and_predict_a_draw_model(services):
    run = await start_training(services, {"model_type": "draw", **E0_RECENT})
    await services.queue.join()
    done = await training.get_run(services.engine, run["task_id"])
    assert done["status"] == "completed", done["error_message"]
    model = await registry.get_model(services.engine, model_type="draw")
    assert model["version"] == done["model_version"] and model["model_type"] == "draw"
    weights = model["model_weights"]
    assert set(weights["draw"]["weights"]) == {"poisson", "dixon_coles", "market"}
    assert {"floor", "cap", "fallback_weights"} <= set(weights["draw"])
    assert weights["independent_poisson"]["rho"] == 0.0
    m = model["metrics"]
    assert m["market_prices"] == "pre-match" and m["market"]["n"] == m["n"]
    assert m["draw"]["model"]["n"] == m["n"] == done["metrics"]["n"]
    assert model["rps"] == pytest.approx(m["rps"])
    assert model["draw_accuracy"] == m["draw_accuracy"]

    version = model["version"]
    p = (await predictions.predict(services.engine, "Arsenal", "Chelsea", "E0", version)).prediction
    assert p.model_type == "draw" and not p.used_odds
    assert sum(p.outcomes.as_tuple()) == pytest.approx(1.0, abs=1e-12)
    goal = p.goal_model
    assert p.outcomes.home / p.outcomes.away == pytest.approx(goal.home / goal.away)
    # pre-match odds that price a draw far above the goal model move the draw up
    priced = (
        await predictions.predict(
            services.engine, "Arsenal", "Chelsea", "E0", version, odds=(3.0, 2.2, 5.0)
        )
    ).prediction
    assert priced.used_odds
    if weights["draw"]["weights"]["market"] > 0.05:
        assert priced.outcomes.draw > p.outcomes.draw
    assert priced.outcomes.home / priced.outcomes.away == pytest.approx(goal.home / goal.away)
    result = await predictions.evaluate(
        services.engine, version, {"leagues": ["E0"], "seasons": ["2425"]}
    )
    assert result["n"] == 380 and result["model_version"] == version


def _one_nil_league(folder) -> list:
    """Three seasons of a 12-team league in which every match ends 1-0 to the home side:
    a goal model's likelihood has no maximum there."""
    teams = [f"Club {chr(65 + i)}" for i in range(12)]
    files = []
    for year in (2021, 2022, 2023):
        day = datetime(year, 8, 1)
        rows = ["Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,PSCH,PSCD,PSCA"]
        for i, home in enumerate(teams):
            for j, away in enumerate(teams):
                if i != j:
                    rows.append(f"E0,{day:%d/%m/%Y},{home},{away},1,0,H,1.5,4.0,7.0")
                    day += timedelta(days=2)
        path = folder / f"{year % 100}{year % 100 + 1}" / "E0.csv"
        path.parent.mkdir()
        path.write_text("\n".join(rows) + "\n")
        files.append(path)
    return files


@pytest.mark.parametrize("model_type", ["poisson", "calibration"])
async def test_a_diverged_fit_is_never_activated(database_url, tmp_path, model_type):
    """A league where every match ends 1-0 at home once gave rho = 1.2e30 and an active
    model serving a draw probability of -3.2e43: now the run fails naming the cause, and
    no model is stored."""
    from server.store.ingest import ingest_paths

    settings = Settings(database_url=await database_url("sqlite"), data_dir=tmp_path)
    svc = await open_services(settings)
    try:
        reports = await ingest_paths(svc.engine, _one_nil_league(tmp_path))
        assert all(r.ok for r in reports)
        run = await start_training(
            svc, {"model_type": model_type, "leagues": ["E0"], "hyperparameters": {"l2": 0.0}}
        )
        await svc.queue.join()
        done = await training.get_run(svc.engine, run["task_id"])
        assert done["status"] == "failed", done
        # the guard names the cause (the fit itself may refuse such data first)
        assert re.search(
            r"diverge|likelihood|degenerate|never (concede|score)|no away team scores|finite",
            done["error_message"],
        ), done["error_message"]
        assert await count(svc.engine, Model) == 0
        events = [e async for _, e in follow_run(svc, run["task_id"])]
        assert events[-1]["status"] == "failed"
        assert events[-1]["error"] == done["error_message"]
    finally:
        await svc.close()


async def test_a_retried_start_with_the_same_idempotency_key_returns_the_same_run(services):
    data = {"model_type": "poisson", **E0_RECENT}
    first = await start_training(services, data, idempotency_key="retry-1")
    again = await start_training(services, data, idempotency_key="retry-1")
    assert again["task_id"] == first["task_id"]
    other = await start_training(services, data, idempotency_key="retry-2")
    assert other["task_id"] != first["task_id"]
    with pytest.raises(ValidationError, match="another configuration") as caught:
        await start_training(services, {**data, "model_type": "full"}, idempotency_key="retry-1")
    assert caught.value.field == "idempotency_key"
    with pytest.raises(ValidationError, match="idempotency key"):
        await start_training(services, data, idempotency_key="x" * 256)
    await services.queue.join()
    assert await count(services.engine, TrainingRun) == 2


async def test_concurrent_starts_with_one_idempotency_key_create_one_run(services):
    data = {"model_type": "poisson", **E0_RECENT}
    runs = await asyncio.gather(
        *(start_training(services, data, idempotency_key="burst") for _ in range(5))
    )
    assert len({r["task_id"] for r in runs}) == 1
    await services.queue.join()
    assert await count(services.engine, TrainingRun) == 1
