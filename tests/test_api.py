"""GraphQL and the REST shim in-process: shapes, errors with codes, auth, limits, N+1."""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import pytest

from schema import LIMITS, build_schema
from tests.conftest import open_api, seeded_copy


def _fits_the_description(answer: dict) -> None:
    """The answer matches the response schema that /openapi.json publishes for it."""
    from jsonschema import Draft202012Validator

    from server.api.rest import predictions_batch

    schema = predictions_batch.operation.response  # type: ignore[attr-defined]
    errors = list(Draft202012Validator(schema).iter_errors(answer))
    assert not errors, f"{errors[0].message} at {list(errors[0].absolute_path)}"


E0_RECENT = {"leagues": ["E0"], "seasons": ["2122", "2223", "2324", "2425"]}
ROOT = Path(__file__).resolve().parents[1]


async def gql(client, query: str, variables: dict | None = None, token: str | None = None):
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def train_one(app, client, model_type: str = "full", token: str | None = None) -> str:
    out = await gql(
        client,
        """mutation($input: TrainingInput!) {
        startTraining(input: $input) { taskId status } }""",
        {"input": {"modelType": model_type.upper(), **E0_RECENT}},
        token,
    )
    task_id = out["data"]["startTraining"]["taskId"]
    await app.state.services.queue.join()
    return task_id


@pytest.fixture(scope="module")
async def trained(_seed_templates, tmp_path_factory):
    """(app, client, task id): one embedded API on a seeded SQLite copy with one trained
    ``full`` model, shared by the tests that only read it (training is most of their time).
    Tests that train, activate or cancel take their own database through ``api``."""
    directory = tmp_path_factory.mktemp("trained-api")
    url = await seeded_copy("sqlite", _seed_templates, directory, None)
    async with contextlib.AsyncExitStack() as stack:
        app, client = await open_api(stack, url, directory)
        yield app, client, await train_one(app, client)


def test_committed_schema_matches_the_code():
    committed = (ROOT / "schema.graphql").read_text()
    assert committed.strip() == str(build_schema()).strip(), (
        "schema.graphql is stale: run `python -m schema > schema.graphql`"
    )


async def test_queries_over_a_trained_model(trained):
    _, client, task_id = trained
    data = (
        await gql(
            client,
            """query($taskId: String!) {
        leagues { code name country matchCount seasons teams { name } }
        activeModel { version status rps blendAlpha homeAdvantage
                      calibrationCurves { home draw away }
                      teamStrengths { teamId attack defense team { name } }
                      trainingRuns { taskId status } }
        trainingRuns(limit: 5) { taskId status progress runType model { version } }
        task(taskId: $taskId) { status progress phase metrics }
        models(status: "active") { version modelType }
        teams(league: "E0") { name }
    }""",
            {"taskId": task_id},
        )
    )["data"]
    assert {lg["code"] for lg in data["leagues"]} == {"E0", "E1"}
    e0 = next(lg for lg in data["leagues"] if lg["code"] == "E0")
    assert e0["matchCount"] == 3800 and len(e0["seasons"]) == 10
    model = data["activeModel"]
    assert model["status"] == "ACTIVE" and model["version"].startswith("full-")
    assert len(model["calibrationCurves"]["home"]) == 10
    assert any(s["team"]["name"] == "Arsenal" for s in model["teamStrengths"])
    assert model["trainingRuns"][0]["taskId"] == task_id
    assert data["trainingRuns"][0]["model"]["version"] == model["version"]
    assert data["task"]["status"] == "COMPLETED" and data["task"]["progress"] == 100.0
    assert any(t["name"] == "Arsenal" for t in data["teams"])


async def test_predict_and_model_lookup(trained):
    _, client, _ = trained
    data = await gql(
        client,
        """{ predict(home: "Arsenal", away: "Chelsea", league: "E0") {
        homeWin draw awayWin expectedGoals { home away } scoreGrid btts { yes no }
        totals { line over under } asianHandicap { line win push lose } modelVersion } }""",
    )
    p = data["data"]["predict"]
    assert abs(p["homeWin"] + p["draw"] + p["awayWin"] - 1) < 1e-9
    assert {t["line"] for t in p["totals"]} >= {2.5}
    grid = p["scoreGrid"]  # exact: as many goals as it takes to leave out < 1e-10
    assert len(grid) >= 11 and abs(sum(map(sum, grid)) - 1) < 1e-12
    home_win = sum(v for i, row in enumerate(grid) for j, v in enumerate(row) if i > j)
    assert abs(home_win - p["homeWin"]) < 1e-9
    by_version = await gql(
        client, "query($v: String!) { model(version: $v) { id } }", {"v": p["modelVersion"]}
    )
    model_id = by_version["data"]["model"]["id"]
    by_id = await gql(client, "query($id: Int!) { model(id: $id) { version } }", {"id": model_id})
    assert by_id["data"]["model"]["version"] == p["modelVersion"]
    missing = await gql(client, '{ model(version: "nope") { id } }')
    assert missing["data"]["model"] is None


STATS = (
    "bets roi roiCi { low high } kellyGrowthPerBet kellyGrowthCi { low high } "
    "clv clvCi { low high }"
)
EVALUATION = """query($v: String, $m: String! = "pre", $h: Boolean) {
  evaluation(version: $v, market: $m, heldOut: $h) {
  modelVersion forecasts heldOut marketKind marketSource n rpsDiff rpsDiffSe
  matchesWithoutMarket skippedUnknownTeams skippedWithoutForecast inSampleMatches
  periodFrom periodTo
  model { rps logLoss n } market { rps logLoss }
  ceiling { marketSource n rpsDiff market { rps } }
  selection { leagues seasons dateFrom dateTo default }
  betting { minEdge kellyFraction closingSource sources { source matchesPriced
    overall { STATS } leagues { league stats { STATS } } } } } }""".replace("STATS", STATS)


async def test_evaluation_of_a_version_s_held_out_forecasts(trained):
    """By default a version is evaluated on its held-out forecasts of its validation
    matches (made before them: none in-sample); the figures are core.betting's and
    core.evaluation's on those forecasts, joined here to the matches' odds independently."""
    import numpy as np
    import pandas as pd

    from core.betting import betting_report
    from core.evaluation import benchmark_market, compare
    from server.runs import registry, selection

    app, client, _ = trained
    engine = app.state.services.engine
    version = (await gql(client, "{ activeModel { version validationFrom validationTo } }"))[
        "data"
    ]["activeModel"]
    out = await gql(client, EVALUATION, {"v": version["version"]})
    assert "errors" not in out, out
    e = out["data"]["evaluation"]
    assert e["forecasts"] == "held-out forecasts of the validation fit" and e["heldOut"]
    assert e["inSampleMatches"] == 0 == e["skippedUnknownTeams"] == e["skippedWithoutForecast"]
    assert e["selection"]["default"] == "the version's leagues and validation period"

    row = await registry.get_model(
        engine, version["version"], with_weights=False, with_forecasts=True
    )
    f = row["validation_forecasts"]
    held = pd.DataFrame(
        {"date": pd.to_datetime(f["date"]), "league": f["league"], "home_team": f["home"]}
        | {"away_team": f["away"], "p": f["p"], "y": f["y"]}
    )
    first, last = min(f["date"]), max(f["date"])
    matches = await selection.load_matches(
        engine, selection.parse_selection({"leagues": ["E0"], "date_from": first, "date_to": last})
    )
    frame = matches.merge(held, on=["date", "league", "home_team", "away_team"])
    assert len(frame) == len(f["date"]) > 100  # every held-out forecast has its match
    assert (frame["y"] == frame["result"].map("HDA".index)).all()
    probs = np.array(frame["p"].tolist())
    y = frame["result"].to_numpy()
    bench = benchmark_market(frame, "pre", "power")
    assert e["n"] == int(bench.priced.sum()) and e["matchesWithoutMarket"] == bench.missing
    scores = compare(probs[bench.priced], bench.probs[bench.priced], y[bench.priced])
    assert e["rpsDiff"] == pytest.approx(scores["rps_diff"], rel=1e-12)
    assert (e["periodFrom"], e["periodTo"]) == (first, last)
    report = betting_report(frame, probs, y)
    assert [s["source"] for s in e["betting"]["sources"]] == list(report["sources"])
    for source in e["betting"]["sources"]:
        expected = report["sources"][source["source"]]
        s = source["overall"]
        assert source["matchesPriced"] == expected["matches_priced"]
        assert s["bets"] == expected["overall"]["bets"] > 0
        for key, name in (("roi", "roi"), ("kellyGrowthPerBet", "kelly_growth_per_bet")):
            assert s[key] == pytest.approx(expected["overall"][name], rel=1e-12)
        assert [s["roiCi"]["low"], s["roiCi"]["high"]] == pytest.approx(
            expected["overall"]["roi_ci"], rel=1e-12
        )


async def test_evaluation_of_the_stored_model_on_a_version_s_validation_period(trained):
    """heldOut: false scores the stored model on the version's leagues and validation
    period (flagged in-sample: it was refitted on them); the figures are core.betting's on
    the model's forecasts, and a flat-stake ROI recomputed by hand."""
    import numpy as np

    from core.betting import betting_report
    from core.pipeline import pre_match_market
    from server.runs import predictions, selection

    app, client, _ = trained
    engine = app.state.services.engine
    version = (await gql(client, "{ activeModel { version validationFrom validationTo } }"))[
        "data"
    ]["activeModel"]
    out = await gql(client, EVALUATION, {"v": version["version"], "h": False})
    assert "errors" not in out, out
    e = out["data"]["evaluation"]
    assert e["forecasts"] == "the stored model" and not e["heldOut"]
    assert e["selection"] == {
        "leagues": ["E0"],
        "seasons": [],
        "dateFrom": version["validationFrom"],
        "dateTo": version["validationTo"],
        "default": "the version's leagues and validation period",
    }
    assert version["validationFrom"] <= e["periodFrom"] <= e["periodTo"] <= version["validationTo"]
    total = e["n"] + e["matchesWithoutMarket"]
    assert e["skippedUnknownTeams"] == 0 and e["inSampleMatches"] == total > 100
    assert e["marketSource"] == "pinnacle_pre" and e["ceiling"]["marketSource"] == "pinnacle_close"
    assert e["rpsDiff"] == pytest.approx(e["model"]["rps"] - e["market"]["rps"], abs=1e-12)
    betting = e["betting"]
    assert betting["closingSource"] == "pinnacle_close" and betting["kellyFraction"] == 0.25
    assert betting["sources"][0]["source"] == "max_pre"

    # the same forecasts through core.betting: the same figures, intervals included
    stored = await predictions.load_model(engine, e["modelVersion"])
    frame = await selection.load_matches(
        engine,
        selection.parse_selection(
            {"leagues": ["E0"], "date_from": e["periodFrom"], "date_to": e["periodTo"]}
        ),
    )
    market = pre_match_market(frame, "power")
    probs, _ = stored.predict(
        frame["home_team"].tolist(), frame["away_team"].tolist(), market[0], market[1]
    )
    y = frame["result"].to_numpy()
    report = betting_report(frame, probs, y)
    assert [s["source"] for s in betting["sources"]] == list(report["sources"])
    for source in betting["sources"]:
        expected = report["sources"][source["source"]]
        s = source["overall"]
        assert source["matchesPriced"] == expected["matches_priced"]
        assert s["bets"] == expected["overall"]["bets"] > 0
        assert s["roi"] == pytest.approx(expected["overall"]["roi"], rel=1e-12)
        assert [s["roiCi"]["low"], s["roiCi"]["high"]] == pytest.approx(
            expected["overall"]["roi_ci"], rel=1e-12
        )
        for key in ("roi", "kellyGrowthPerBet", "clv"):
            ci = s[f"{key.replace('PerBet', '')}Ci"]
            assert ci["low"] <= s[key] <= ci["high"], (source["source"], key)
        assert sum(x["stats"]["bets"] for x in source["leagues"]) == s["bets"]
        assert [x["league"] for x in source["leagues"]] == ["E0"]
    # flat-stake ROI by hand at the best prices: the largest edge over 2 % is bet
    odds = frame[["max_pre_h", "max_pre_d", "max_pre_a"]].to_numpy(dtype=float)
    edge = probs * odds - 1
    pick = np.nanargmax(np.nan_to_num(edge, nan=-np.inf), axis=1)
    best = edge[np.arange(len(frame)), pick]
    bet = np.isfinite(odds).all(axis=1) & (best > 0.02)
    won = pick[bet] == np.array(["HDA".index(r) for r in y[bet]])
    price = odds[np.arange(len(frame)), pick][bet]
    roi = np.where(won, price - 1, -1.0).mean()
    max_pre = betting["sources"][0]["overall"]
    assert max_pre["bets"] == int(bet.sum()) and max_pre["roi"] == pytest.approx(roi, rel=1e-12)


async def test_evaluation_of_a_version_without_held_out_forecasts(trained):
    """A version trained before held-out forecasts were kept: by default the stored model,
    saying so; asked for held-out forecasts explicitly, refused."""
    import sqlalchemy as sa

    from server.store.tables import Model

    app, client, _ = trained
    engine = app.state.services.engine
    version = (await gql(client, "{ activeModel { version } }"))["data"]["activeModel"]["version"]
    models = Model.__table__
    async with engine.begin() as conn:
        kept = (
            await conn.execute(
                sa.select(models.c.validation_forecasts).where(models.c.version == version)
            )
        ).scalar_one()
        await conn.execute(
            sa.update(models)
            .where(models.c.version == version)
            .values(validation_forecasts=sa.null())
        )
    try:
        e = (await gql(client, EVALUATION, {"v": version}))["data"]["evaluation"]
        assert e["forecasts"] == "the stored model (the version kept no held-out forecasts)"
        assert not e["heldOut"] and e["inSampleMatches"] == e["n"] + e["matchesWithoutMarket"]
        (error,) = (await gql(client, EVALUATION, {"v": version, "h": True}))["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert f"model {version} kept no held-out forecasts" in error["message"]
    finally:
        async with engine.begin() as conn:
            await conn.execute(
                sa.update(models)
                .where(models.c.version == version)
                .values(validation_forecasts=kept)
            )


@pytest.mark.parametrize(
    ("variables", "code", "fragment"),
    [
        ({"v": "nope"}, "NOT_FOUND", "no model has version 'nope'"),
        ({"v": None}, "BAD_USER_INPUT", "leagues must be a non-empty list"),
        ({"m": "live"}, "BAD_USER_INPUT", "unknown market 'live'; use 'pre' or 'close'"),
        ({"v": None, "h": True}, "BAD_USER_INPUT", "held-out forecasts are a version's"),
    ],
)
async def test_evaluation_refuses_bad_input_with_a_code(trained, variables, code, fragment):
    _, client, _ = trained
    if "m" in variables:
        active = await gql(client, "{ activeModel { version } }")
        variables = variables | {"v": active["data"]["activeModel"]["version"]}
    out = await gql(client, EVALUATION, variables)
    (error,) = out["errors"]
    assert error["extensions"]["code"] == code and fragment in error["message"]


async def test_one_evaluation_per_request(trained):
    """An evaluation is seconds of work: two in one request are refused before running."""
    _, client, _ = trained
    out = await gql(
        client,
        '{ a: evaluation(version: "x") { n } b: evaluation(version: "y") { n } }',
    )
    (error,) = out["errors"]
    assert error["extensions"]["code"] == "TOO_MANY_PREDICTIONS"
    assert "an evaluation 500" in error["message"]


async def test_one_evaluation_at_a_time_per_server(trained):
    """A second evaluation while one runs is refused with a code, not queued behind it."""
    import asyncio

    _, client, _ = trained
    active = await gql(client, "{ activeModel { version } }")
    query = "query($v: String) { evaluation(version: $v) { n } }"
    v = {"v": active["data"]["activeModel"]["version"]}
    first, second = await asyncio.gather(gql(client, query, v), gql(client, query, v))
    answers = sorted([first, second], key=lambda out: "errors" in out)
    assert answers[0]["data"]["evaluation"]["n"] > 0
    (error,) = answers[1]["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "another evaluation is running" in error["message"]
    again = await gql(client, query, v)  # and the next one runs
    assert again["data"]["evaluation"]["n"] == answers[0]["data"]["evaluation"]["n"]


PREDICTIONS = """query($f: [FixtureInput!]!, $v: String) {
  predictions(fixtures: $f, modelVersion: $v) {
    homeTeam awayTeam homeWin draw awayWin expectedGoals { home away }
    odds { home draw away } market { home draw away } edge { home draw away }
    marketOver25 edgeOver25 { over under } modelVersion } }"""


async def test_predictions_for_many_fixtures_with_odds(trained):
    _, client, _ = trained
    odds = {"home": 2.1, "draw": 3.5, "away": 3.6, "over25": 1.8, "under25": 2.05}
    fixtures = [
        {"home": "Arsenal", "away": "Chelsea", "league": "E0", "odds": odds},
        {"home": "liverpool", "away": "Everton", "date": "2025-05-25"},
    ]
    out = await gql(client, PREDICTIONS, {"f": fixtures})
    first, second = out["data"]["predictions"]
    assert (first["homeTeam"], second["homeTeam"]) == ("Arsenal", "Liverpool")
    # margin-free market probabilities sum to one; edge = model probability x odds - 1
    assert abs(sum(first["market"].values()) - 1) < 1e-9
    for k in ("home", "draw", "away"):
        assert first["edge"][k] == pytest.approx(
            {"home": first["homeWin"], "draw": first["draw"], "away": first["awayWin"]}[k] * odds[k]
            - 1
        )
    assert 0 < first["marketOver25"] < 1 and first["edgeOver25"]["over"] > -1
    assert second["odds"] is None and second["market"] is None and second["edge"] is None
    # the batch gives what one-at-a-time predict gives (without odds)
    single = await gql(client, '{ predict(home: "Liverpool", away: "Everton") { homeWin } }')
    assert second["homeWin"] == pytest.approx(single["data"]["predict"]["homeWin"])


async def test_predictions_batch_is_one_model_load_and_bounded(trained, monkeypatch):
    from core.serving import StoredModel
    from server.runs import predictions
    from server.store import cache

    app, client, _ = trained
    # the shared model may already be loaded by an earlier test: count a cold load
    cache.invalidate(app.state.services.engine)
    monkeypatch.setattr(predictions, "_LOADED", OrderedDict())
    calls = []
    original = StoredModel.forecast

    def spy(self, fixtures, *args):
        calls.append(len(fixtures))
        return original(self, fixtures, *args)

    monkeypatch.setattr(StoredModel, "forecast", spy)
    teams = ["Arsenal", "Chelsea", "Liverpool", "Everton", "Fulham", "Brentford"]
    fixtures = [{"home": h, "away": a} for h in teams for a in teams if h != a]
    with count_statements(app) as statements:
        out = await gql(client, PREDICTIONS, {"f": fixtures})
    assert len(out["data"]["predictions"]) == 30 and calls == [30]
    # team names and aliases (one union) + teams + leagues + active models + the teams'
    # latest leagues + model row + weights: a constant, however many fixtures
    assert len(statements) <= 7, statements
    too_many = [{"home": "Arsenal", "away": "Chelsea"}] * (predictions.MAX_FIXTURES + 1)
    out = await gql(client, PREDICTIONS, {"f": too_many})
    (error,) = out["errors"]  # the request's bound, before the resolver's own
    assert error["extensions"]["code"] == "TOO_MANY_PREDICTIONS"
    assert "at most 500" in error["message"]


async def test_predictions_name_every_bad_fixture(trained):
    _, client, _ = trained
    fixtures = [
        {"home": "Arsenal", "away": "Chelsea"},
        {"home": "Atlantis", "away": "Chelsea"},
        {"home": "Arsenal", "away": "Chelsea", "league": "XX"},
    ]
    out = await gql(client, PREDICTIONS, {"f": fixtures})
    (error,) = out["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert [f["index"] for f in error["extensions"]["fixtures"]] == [1, 2]
    assert "fixture 2 (Atlantis v Chelsea): no team called 'Atlantis'" in error["message"]
    assert "unknown league 'XX'" in error["message"]
    bad_odds = [{"home": "Arsenal", "away": "Chelsea", "odds": {"home": 0.5, "draw": 3, "away": 3}}]
    out = await gql(client, PREDICTIONS, {"f": bad_odds})
    message = out["errors"][0]["message"]
    assert "fixture 1 (Arsenal v Chelsea): the 1X2 odds: 0.5 is outside" in message
    book = [{"home": "Arsenal", "away": "Chelsea", "odds": {"home": 1.2, "draw": 1.5, "away": 1.9}}]
    out = await gql(client, PREDICTIONS, {"f": book})
    assert "202.6 % book" in out["errors"][0]["message"]
    far = [{"home": "Arsenal", "away": "Chelsea", "date": "0001-01-01"}]
    out = await gql(client, PREDICTIONS, {"f": far})
    assert "date 0001-01-01 is more than two years before today" in out["errors"][0]["message"]


async def test_rest_predictions_of_a_fixtures_file(trained, fixtures_csv):
    _, client, _ = trained
    r = await client.post(
        "/api/predictions",
        content=fixtures_csv().read_bytes(),
        headers={"content-type": "text/csv"},
    )
    assert r.status_code == 200
    out = r.json()
    _fits_the_description(out)
    assert out["count"] == 12 and [row["line"] for row in out["data"]] == list(range(2, 14))
    fulham = out["data"][1]
    assert (fulham["homeTeam"], fulham["awayTeam"]) == ("Fulham", "Man City")
    assert fulham["bestOdds"]["home"] == 5.6
    assert fulham["edge"]["home"] == pytest.approx(fulham["homeWin"] * 5.6 - 1)
    assert out["data"][10]["error"] == "no team called 'Atlantis' in England"
    assert out["data"][11]["error"] == "unknown league 'X9'"
    r = await client.post(
        "/api/predictions", content=b"a;b\n1;2\n", headers={"content-type": "text/csv"}
    )
    assert r.status_code == 422 and "HomeTeam" in r.text


async def test_rest_fixtures_file_with_a_bad_price_far_date_and_iso_date(trained, fixtures_csv):
    """One bad price rejects its book for its row (a note says which and why), a date years
    away rejects its row, an ISO date is read; the file is not failed."""
    import csv
    import io

    _, client, _ = trained
    rows = list(csv.reader(io.StringIO(fixtures_csv().read_text())))
    header = rows[0]
    rows[1][header.index("PSH")] = "abc"
    rows[2][header.index("Date")] = "01/01/2001"
    rows[3][header.index("Date")] = "2025-05-25"
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    r = await client.post(
        "/api/predictions", content=text.getvalue().encode(), headers={"content-type": "text/csv"}
    )
    assert r.status_code == 200
    first, far, iso = r.json()["data"][:3]
    assert first["error"] is None and first["homeWin"] > 0
    assert first["notes"] == ["PSH/PSD/PSA ignored: 'abc' is not a decimal price"]
    assert first["odds"]["home"] == float(rows[1][header.index("AvgH")])  # the next book
    assert "more than two years before today" in far["error"]
    assert iso["error"] is None and iso["fixture"]["date"] == "2025-05-25"


async def test_rest_fixtures_file_rows_are_counted_before_parsing(trained, monkeypatch):
    """Past 500 data rows the upload is refused while it streams (never parsed); below it
    the file is parsed off the event loop."""
    import threading

    from server.api import rest

    _, client, _ = trained
    parsed = []
    original = rest.parse_fixtures

    def spy(*args):
        parsed.append(threading.current_thread() is threading.main_thread())
        return original(*args)

    monkeypatch.setattr(rest, "parse_fixtures", spy)
    header = b"Div,Date,HomeTeam,AwayTeam\n"
    row = b"E0,25/05/2025,Arsenal,Chelsea\n"

    sent = []

    async def chunks():  # 1,000,000 rows, 30 MB, if it were all read
        yield header
        for _ in range(100_000):
            sent.append(1)
            yield row * 10

    r = await client.post(
        "/api/predictions", content=chunks(), headers={"content-type": "text/csv"}
    )
    assert r.status_code == 422 and "more than 500 rows" in r.text
    assert parsed == [] and len(sent) < 100  # refused after about 51 chunks
    r = await client.post(
        "/api/predictions", content=header + row * 3, headers={"content-type": "text/csv"}
    )
    assert r.status_code == 200 and r.json()["count"] == 3
    assert parsed == [False]  # in a worker thread


async def test_rest_predictions_in_the_envelope_with_per_fixture_errors(trained):
    _, client, _ = trained
    body = {
        "fixtures": [
            {"home": "Arsenal", "away": "Chelsea", "odds": {"home": 2.1, "draw": 3.5, "away": 3.6}},
            {"home": "Atlantis", "away": "Chelsea"},
        ]
    }
    r = await client.post("/api/predictions", json=body)
    assert r.status_code == 200
    out = r.json()
    _fits_the_description(out)
    assert out["success"] is True and out["count"] == 2
    ok, bad = out["data"]
    assert ok["error"] is None and ok["homeTeam"] == "Arsenal"
    assert ok["edge"]["home"] == pytest.approx(ok["homeWin"] * 2.1 - 1)
    assert {"homeWin", "draw", "awayWin", "expectedGoals", "over25", "btts", "market"} <= set(ok)
    assert bad["error"] == "no team called 'Atlantis'" and bad["fixture"]["home"] == "Atlantis"
    far = {"fixtures": [{"home": "Arsenal", "away": "Chelsea", "date": "0001-01-01"}]}
    r = await client.post("/api/predictions", json=far)
    assert r.status_code == 200 and "more than two years" in r.json()["data"][0]["error"]
    for date in ("01/01/2027", "soon"):
        bad_date = {"fixtures": [{"home": "Arsenal", "away": "Chelsea", "date": date}]}
        r = await client.post("/api/predictions", json=bad_date)
        assert r.status_code == 422 and "is not a date (YYYY-MM-DD)" in r.text
    for body, fragment in [
        ({"fixtures": []}, "non-empty list"),
        ({"fixtures": [{"home": "Arsenal"}]}, "fixtures[0].away"),
        ({"fixtures": [{"home": "A", "away": "B", "odds": {"home": 2}}]}, "fixtures[0].odds"),
        ({"fixtures": [{"home": "A", "away": "B"}], "extra": 1}, "unknown field"),
    ]:
        r = await client.post("/api/predictions", json=body)
        assert r.status_code == 422, body
        assert fragment in r.text


@pytest.mark.parametrize(
    ("query", "code", "fragment"),
    [
        ('{ task(taskId: "nope") { status } }', "NOT_FOUND", "no training run"),
        (
            '{ predict(home: "Atlantis", away: "Chelsea") { homeWin } }',
            "NOT_FOUND",
            "no active 'full' model",
        ),
        ("{ models(limit: 0) { id } }", "BAD_USER_INPUT", "limit"),
        ("{ trainingRuns(offset: -1) { id } }", "BAD_USER_INPUT", "offset"),
        ('{ teams(league: "ZZ") { id } }', "BAD_USER_INPUT", "unknown league"),
        ("{ model { id } }", "BAD_USER_INPUT", "exactly one"),
        (
            'mutation { startTraining(input: {modelType: POISSON, leagues: ["XX"]}) { taskId } }',
            "BAD_USER_INPUT",
            "unknown league",
        ),
        (
            'mutation { startTraining(input: {modelType: FULL, leagues: ["E0"], '
            'dateFrom: "2024-01-01", dateTo: "2023-01-01"}) { taskId } }',
            "BAD_USER_INPUT",
            "dateFrom 2024-01-01 is after dateTo",  # named as GraphQL spells them
        ),
        ('mutation { activateModel(version: "nope") { id } }', "NOT_FOUND", "no model"),
        ('mutation { cancelTraining(taskId: "nope") { id } }', "NOT_FOUND", "no training run"),
    ],
)
async def test_errors_carry_a_code_and_a_readable_message(api, query, code, fragment):
    _, client = api
    out = await gql(client, query)
    (error,) = out["errors"]
    assert error["extensions"]["code"] == code
    assert fragment in error["message"]


async def test_validation_error_names_the_field(api):
    _, client = api
    out = await gql(
        client,
        'mutation { startTraining(input: {modelType: FULL, leagues: ["E0"], '
        'seasons: ["9900"]}) { taskId } }',
    )
    assert out["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "seasons"}


async def test_validation_errors_name_inputs_as_graphql_spells_them(api):
    """The client sent ``dateFrom`` and ``validationShare``: the error says so, in
    ``extensions.field`` and in the message (not ``date_from``)."""
    _, client = api
    out = await gql(
        client,
        'mutation { startTraining(input: {modelType: FULL, leagues: ["E0"], '
        'dateFrom: "2024-01-01", dateTo: "2023-01-01"}) { taskId } }',
    )
    (error,) = out["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "dateFrom"}
    assert "dateTo" in error["message"] and "_" not in error["message"]
    out = await gql(
        client,
        'mutation { startTraining(input: {modelType: FULL, leagues: ["E0"], '
        "hyperparameters: {validationShare: 0.9}}) { taskId } }",
    )
    (error,) = out["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "hyperparameters"}
    assert error["message"].startswith("validationShare must be between")


async def test_unexpected_errors_are_masked(api, monkeypatch):
    _, client = api

    async def boom(engine):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("server.store.catalog.list_leagues", boom)
    out = await gql(client, "{ leagues { code } }")
    assert out["errors"][0]["message"] == "Unexpected error."
    assert "secret" not in str(out)


async def test_limits_on_depth_aliases_and_tokens(api):
    _, client = api
    deep = (
        "{ trainingRuns { model { trainingRuns { model { trainingRuns { model { "
        "trainingRuns { model { trainingRuns { model { trainingRuns { id } } } } } } } } } } } }"
    )
    assert "exceeds maximum operation depth" in str((await gql(client, deep))["errors"])
    aliases = (
        "{ "
        + " ".join(f"a{i}: leagues {{ code }}" for i in range(LIMITS["max_aliases"] + 1))
        + " }"
    )
    assert "aliases" in str((await gql(client, aliases))["errors"]).lower()
    tokens = "{ leagues { " + " ".join(["code"] * LIMITS["max_tokens"]) + " } }"
    assert "token" in str((await gql(client, tokens))["errors"]).lower()


@contextlib.contextmanager
def count_statements(app) -> Iterator[list[str]]:
    """Every SQL statement the app's engine sends while the block runs (SQLite's
    ``BEGIN IMMEDIATE`` aside: transaction control, not a query)."""
    from sqlalchemy import event

    engine = app.state.services.engine.sync_engine
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        if not statement.startswith("BEGIN"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_relations_resolve_without_n_plus_one(api):
    app, client = api
    for _ in range(3):
        await train_one(app, client, "poisson")
    with count_statements(app) as statements:
        out = await gql(
            client,
            """{ trainingRuns(limit: 3) { model { version trainingRuns { taskId }
                                     teamStrengths { team { name } } } } }""",
        )
    assert len(out["data"]["trainingRuns"]) == 3
    # runs, then one batched query per relation level (models, runs, weights, teams)
    assert len(statements) == 5, statements


async def test_league_teams_resolve_in_one_statement(api):
    app, client = api
    with count_statements(app) as without_teams:
        await gql(client, "{ leagues { code } }")
    with count_statements(app) as statements:
        out = await gql(client, "{ leagues { code teams { name } } }")
    leagues = out["data"]["leagues"]
    assert len(leagues) >= 2 and all(len(league["teams"]) >= 20 for league in leagues)
    assert len(statements) == len(without_teams) + 1, statements
    direct = await gql(client, '{ teams(league: "E0") { name } }')
    e0 = next(league for league in leagues if league["code"] == "E0")
    assert e0["teams"] == direct["data"]["teams"]


async def test_mutations_need_the_token_when_one_is_set(make_api):
    _, client = await make_api("sqlite", api_token="s3cret")
    out = await gql(client, 'mutation { cancelTraining(taskId: "x") { id } }')
    assert out["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    out = await gql(client, 'mutation { cancelTraining(taskId: "x") { id } }', token="wrong")
    assert out["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    out = await gql(client, 'mutation { cancelTraining(taskId: "x") { id } }', token="s3cret")
    assert out["errors"][0]["extensions"]["code"] == "NOT_FOUND"  # past the check
    assert "errors" not in await gql(client, "{ leagues { code } }")  # queries stay open
    r = await client.post("/api/model/train", json={"modelType": "poisson", "leagues": ["E0"]})
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHENTICATED"


async def test_graphiql_is_served_offline(api):
    _, client = api
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "GraphiQL" in page.text
    assert "unpkg" not in page.text and "https://" not in page.text.split("<body>")[0]
    import re

    assets = re.findall(r'(?:src|href)="(/static/graphiql/[^"]+)"', page.text)
    assert len(assets) == 6
    for path in assets:
        response = await client.get(path)
        assert response.status_code == 200 and len(response.content) > 500
    assert "subscriptionUrl" in page.text  # subscriptions go over the WebSocket


async def test_a_subscription_over_plain_http_says_where_subscriptions_live(api):
    _, client = api
    document = "query Q { leagues { code } } subscription Live { trainingEvents { taskId } }"
    response = await client.post("/graphql", json={"query": document, "operationName": "Live"})
    assert response.status_code == 200
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "WEBSOCKET_REQUIRED" and "WebSocket" in error["message"]
    response = await client.post("/graphql", json={"query": document, "operationName": "Q"})
    assert "errors" not in response.json()  # the query of the same document still runs


async def test_a_draw_model_over_graphql(api):
    app, client = api
    await train_one(app, client, "draw")
    data = (
        await gql(
            client,
            """{ activeModel(modelType: "draw") { version modelType metrics
                 drawModel { poissonWeight dixonColesWeight marketWeight
                             fallbackPoissonWeight fallbackDixonColesWeight floor cap } } }""",
        )
    )["data"]
    model = data["activeModel"]
    assert model["modelType"] == "draw" and model["version"].startswith("draw-")
    d = model["drawModel"]
    assert d["poissonWeight"] + d["dixonColesWeight"] + d["marketWeight"] == pytest.approx(1)
    assert d["fallbackPoissonWeight"] + d["fallbackDixonColesWeight"] == pytest.approx(1)
    assert model["metrics"]["draw"]["model"]["n"] == model["metrics"]["n"]
    out = await gql(
        client,
        """query($v: String!) { predict(home: "Arsenal", away: "Chelsea", league: "E0",
           modelVersion: $v) { homeWin draw awayWin } }""",
        {"v": model["version"]},
    )
    p = out["data"]["predict"]
    assert p["homeWin"] + p["draw"] + p["awayWin"] == pytest.approx(1.0, abs=1e-9)
    full = await gql(client, '{ activeModel(modelType: "full") { drawModel { marketWeight } } }')
    assert full["data"]["activeModel"] is None
