"""Serving over GraphQL and REST (issue 19): activate on every way of training, versions'
windows and scope, models(league), a version's detail and compareModels; on PostgreSQL and
SQLite."""

from __future__ import annotations

import pytest

from tests.test_api import E0_RECENT, gql

TRAIN = """mutation($input: TrainingInput!) { startTraining(input: $input) { taskId } }"""
DETAIL = """query($v: String!) { model(version: $v) {
  version status scope dataFrom dataTo trainingLeagues trainingSeasons trainingMatches
  validationFrom validationTo validationMatches
  detail { perLeague { league scores { n rps logLoss } }
           calibration { home { predicted observed count } draw { count } away { count } }
           hyperparameters logs } } }"""
COMPARE = """query($a: String!, $b: String!) { compareModels(a: $a, b: $b) {
  a { version } b { version status } n note
  overall { n rpsDiff rpsDiffSe a { rps } b { rps } }
  leagues { league paired { n rpsDiff } }
  calibrationA { draw { count } } calibrationB { draw { count } }
  hyperparameters { name a b same } windows { name a b same } } }"""


async def train(app, client, **input_) -> str:
    out = await gql(client, TRAIN, {"input": {"modelType": "POISSON", **E0_RECENT, **input_}})
    assert "errors" not in out, out
    task_id = out["data"]["startTraining"]["taskId"]
    await app.state.services.queue.join()
    return task_id


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
async def test_activate_scope_detail_and_comparison_over_graphql(make_api, dialect):
    app, client = await make_api(dialect)
    await train(app, client)
    await train(app, client, leagues=["E0", "E1"], activate="NEVER", hyperparameters={"xi": 0.004})
    listed = await gql(
        client, "{ models { version status scope dataTo trainingLeagues validationMatches } }"
    )
    candidate, first = listed["data"]["models"]
    assert first["status"] == "ACTIVE" and first["scope"] == "E0"
    assert first["dataTo"] == "2025-05-25" and first["trainingLeagues"] == ["E0"]
    assert candidate["status"] == "COMPLETED" and candidate["scope"] == "E0,E1"
    by_league = await gql(client, '{ models(league: "E1") { version } }')
    assert by_league["data"]["models"] == [{"version": candidate["version"]}]

    out = await gql(client, DETAIL, {"v": candidate["version"]})
    model = out["data"]["model"]
    assert model["trainingMatches"] == 1520 + 4 * 552
    assert model["dataFrom"] < model["validationFrom"] <= model["validationTo"] == model["dataTo"]
    detail = model["detail"]
    assert [x["league"] for x in detail["perLeague"]] == ["E0", "E1"]
    assert sum(x["scores"]["n"] for x in detail["perLeague"]) == model["validationMatches"]
    for outcome in ("home", "draw", "away"):
        counts = [b["count"] for b in detail["calibration"][outcome]]
        assert sum(counts) == model["validationMatches"]
    assert detail["hyperparameters"]["xi"] == 0.004
    assert any("kept as a candidate: activate: never" in line for line in detail["logs"])

    out = await gql(client, COMPARE, {"a": first["version"], "b": candidate["version"]})
    c = out["data"]["compareModels"]
    assert c["a"]["version"] == first["version"] and c["b"]["status"] == "COMPLETED"
    assert c["n"] == c["overall"]["n"] > 0 and [x["league"] for x in c["leagues"]] == ["E0"]
    assert c["overall"]["rpsDiff"] == pytest.approx(
        c["overall"]["b"]["rps"] - c["overall"]["a"]["rps"]
    )
    assert sum(b["count"] for b in c["calibrationA"]["draw"]) == c["n"]
    xi = next(h for h in c["hyperparameters"] if h["name"] == "xi")
    assert xi == {"name": "xi", "a": 0.0025, "b": 0.004, "same": False}
    assert {"name": "scope", "a": "E0", "b": "E0,E1", "same": False} in c["windows"]

    out = await gql(client, COMPARE, {"a": first["version"], "b": "nope"})
    assert out["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    # the candidate is activated by hand, next to the E0 model: other leagues
    out = await gql(
        client,
        "mutation($v: String!) { activateModel(version: $v) { status } }",
        {"v": candidate["version"]},
    )
    assert out["data"]["activateModel"]["status"] == "ACTIVE"
    active = await gql(client, '{ models(status: "active") { scope } }')
    assert sorted(m["scope"] for m in active["data"]["models"]) == ["E0", "E0,E1"]


async def test_rest_training_takes_activate(api):
    app, client = api
    response = await client.post(
        "/api/model/train",
        json={"modelType": "poisson", **E0_RECENT, "activate": "never"},
    )
    assert response.status_code == 202, response.text
    await app.state.services.queue.join()
    (version,) = (await client.get("/api/model/versions")).json()["data"]
    assert version["status"] == "completed" and version["isActive"] is False
    status = (await client.get("/api/model/status")).json()["data"]
    assert status["status"] == "no_model"  # a candidate serves nothing
    for value, message in (("sometimes", "activate must be one of"), (5, "activate must be")):
        response = await client.post(
            "/api/model/train", json={"modelType": "poisson", **E0_RECENT, "activate": value}
        )
        assert response.status_code == 422
        body = response.json()
        assert body["field"] == "activate" and message in body["detail"]
