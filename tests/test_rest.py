"""The legacy REST contract (server/rest.py): every request the old ML Training page sends and
every answer, pinned by the recorded exchanges in tests/contracts/legacy/*.json, on SQLite and
PostgreSQL.

An exchange is ``{"request": {method, path, headers?, json? | content?}, "response": {status,
headers?, json? | text?}, "volatile"?: [keys]}``.  ``{name}`` in a path is filled in by the
test.  Keys in :data:`VOLATILE` (ids, times, metrics) and the exchange's own ``volatile`` keys
must keep their JSON type; everything else must be equal.  ``FPE_RECORD_CONTRACTS=1``
rewrites the recorded answers from the live ones (review the diff).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from server.api.envelope import camel
from server.api.rest import PHASES, phase_text
from server.base.config import DEFAULT_CORS_ORIGINS, ConfigError, Settings
from server.formats.leagues import league_tier
from server.runs import registry, runconfig, training

CONTRACTS = Path(__file__).parent / "contracts" / "legacy"
RECORD = bool(os.environ.get("FPE_RECORD_CONTRACTS"))
VOLATILE = {
    "taskId",
    "id",
    "modelId",
    "version",
    "startedAt",
    "completedAt",
    "trainedAt",
    "activatedAt",
    "duration",
    "brierScore",
    "logLoss",
    "rmse",
    "accuracy",
    "drawAccuracy",
    "validationAccuracy",
}
ORIGIN = "http://localhost:8080"  # the legacy page's dev server
E0_RECENT = {"leagues": ["E0"], "seasons": ["2122", "2223", "2324", "2425"]}


def _kind(value: Any) -> str:
    if value is None or isinstance(value, bool | str | list | dict):
        return type(value).__name__
    return "number"


def _match(expected: Any, actual: Any, volatile: set[str], where: str = "$") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        assert set(actual) == set(expected), f"{where}: keys {sorted(actual)} != {sorted(expected)}"
        for key, value in expected.items():
            if key in volatile:
                got = _kind(actual[key])
                assert got == _kind(value), f"{where}.{key}: {got}, recorded {_kind(value)}"
            else:
                _match(value, actual[key], volatile, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {actual!r}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            _match(e, a, volatile, f"{where}[{i}]")
    else:
        assert actual == expected and _kind(actual) == _kind(expected), f"{where}: {actual!r}"


async def contract(client, group: str, name: str, **values: str) -> Any:
    """Send the recorded request; check the answer against the recorded one; return its
    JSON body."""
    path = CONTRACTS / f"{group}.json"
    exchanges = json.loads(path.read_text())
    exchange = exchanges[name]
    request = exchange["request"]
    response = await client.request(
        request["method"],
        request["path"].format(**values),
        headers=request.get("headers", {}),
        content=json.dumps(request["json"]) if "json" in request else request.get("content"),
    )
    answer = exchange["response"]
    body = response.json() if "json" in answer else response.text
    if RECORD:
        answer["status"] = response.status_code
        answer["json" if "json" in answer else "text"] = body
        for header in answer.get("headers", {}):
            answer["headers"][header] = response.headers.get(header)
        path.write_text(json.dumps(exchanges, indent=2) + "\n")
    assert response.status_code == answer["status"], (name, response.text)
    for header, value in answer.get("headers", {}).items():
        assert response.headers.get(header) == value, (name, header, response.headers)
    assert "traceback" not in response.text.lower()
    _match(
        answer["json"] if "json" in answer else answer["text"],
        body,
        VOLATILE | set(exchange.get("volatile", [])),
    )
    return body


@pytest.fixture(params=["sqlite", "postgresql"])
async def legacy(request, make_api):
    return await make_api(request.param)


async def test_the_legacy_page_session(legacy):
    """What the page does, in its order, with the answers it reads."""
    app, client = legacy
    services = app.state.services
    # CORS: every call is preflighted (JSON content type, GETs included)
    await contract(client, "cors", "preflight-get")
    await contract(client, "cors", "preflight-post-with-token")
    await contract(client, "cors", "preflight-from-a-stranger")
    await contract(client, "cors", "get-from-the-page")

    await contract(client, "status", "no-model")
    leagues = await contract(client, "leagues", "all")
    assert [lg["tier"] for lg in leagues["data"]] == [1, 2]
    await contract(client, "versions", "none")
    await contract(client, "history", "empty")

    # the page sends only the model type: every league, every season
    first = (await contract(client, "train", "model-type-only"))["data"]["taskId"]
    await services.queue.join()
    done = await contract(client, "tasks", "completed", taskId=first)
    run = await training.get_run(services.engine, first)
    metrics = done["data"]["result"]["metrics"]
    # percent, rounded to 4 decimals
    assert metrics["drawAccuracy"] == pytest.approx(100 * run["metrics"]["draw_accuracy"], abs=5e-5)
    assert metrics["brierScore"] == pytest.approx(run["brier_score"])
    assert run["config"]["leagues"] == ["E0", "E1"] and run["config"]["seasons"] == []

    status = (await contract(client, "status", "active"))["data"]
    model = await registry.get_model(services.engine, status["version"], with_weights=False)
    assert status["accuracy"] == pytest.approx(100 * model["overall_accuracy"], abs=5e-5)
    assert status["drawAccuracy"] == pytest.approx(100 * model["draw_accuracy"], abs=5e-5)
    assert 30 < status["accuracy"] < 70  # percent, not a share

    second = (await contract(client, "train", "selection"))["data"]["taskId"]
    await services.queue.join()
    await contract(client, "tasks", "completed", taskId=second)
    versions = (await contract(client, "versions", "two"))["data"]
    newer, older = versions
    # E0 alone does not retire the model of E0 and E1: one active model per league set
    assert newer["isActive"] and older["isActive"]
    assert (newer["trainingLeagues"], older["trainingLeagues"]) == (["E0"], ["E0", "E1"])

    history = (await contract(client, "history", "two-runs"))["data"]
    run2 = await training.get_run(services.engine, second)
    minutes = (run2["completed_at"] - run2["started_at"]).total_seconds() / 60
    assert history[0]["duration"] == pytest.approx(minutes, abs=1e-3)
    assert history[0]["validationAccuracy"] == pytest.approx(
        100 * run2["validation_accuracy"], abs=5e-5
    )
    assert (history[0]["status"], history[1]["status"]) == ("active", "active")
    assert history[1]["trainingStatus"] == "completed"  # the run's own status

    # activate the older version by id, then the newer one by its version string
    await contract(client, "versions", "activate-by-id", id=older["id"])
    after = (await contract(client, "versions", "two-after-activation"))["data"]
    assert after[0]["isActive"] and after[1]["isActive"]  # another league set: both stay
    await contract(client, "versions", "activate-by-version", version=newer["version"])
    await contract(client, "versions", "activate-unknown")
    await contract(client, "history", "limit-one")

    # a queued run is cancelled; a finished one cannot be; unknown ids are 404
    config = runconfig.parse_config({"model_type": "poisson", **E0_RECENT})
    queued = await training.create_run(services.engine, config, 1520)  # never started
    await contract(client, "tasks", "queued", taskId=queued["task_id"])
    await contract(client, "tasks", "cancel", taskId=queued["task_id"])
    await contract(client, "tasks", "cancelled", taskId=queued["task_id"])
    await contract(client, "tasks", "cancel-finished", taskId=first)
    await contract(client, "tasks", "unknown")
    await contract(client, "tasks", "cancel-unknown")


@pytest.mark.parametrize(
    "name",
    [
        "leagues-number",
        "leagues-true",
        "leagues-object",
        "leagues-of-numbers",
        "seasons-string",
        "model-type-number",
        "model-type-unknown",
        "date-from-number",
        "date-to-list",
        "date-from-not-a-date",
        "dates-reversed",
        "unknown-field",
        "league-unknown",
        "not-json",
        "not-an-object",
    ],
)
async def test_train_refuses_wrong_input_naming_the_field(api, name):
    _, client = api
    body = await contract(client, "train", name)
    assert body["code"] == "BAD_USER_INPUT" and "field" in body


async def test_errors_and_tokens(make_api):
    _, client = await make_api("sqlite", api_token="s3cret")
    await contract(client, "train", "no-token")
    await contract(client, "tasks", "cancel-no-token")
    await contract(client, "versions", "activate-no-token")
    await contract(client, "errors", "no-such-endpoint")
    await contract(client, "errors", "method-not-allowed")
    await contract(client, "errors", "limit-not-a-number")


def test_every_recorded_exchange_is_exercised():
    source = Path(__file__).read_text()
    for path in CONTRACTS.glob("*.json"):
        for name in json.loads(path.read_text()):
            assert f'"{name}"' in source, f"{path.name}: {name} is recorded but never sent"


# --- units of the parts -------------------------------------------------------------------------


def test_phases_read_as_text():
    assert phase_text("dixon_coles") == "Fitting Dixon-Coles"
    assert phase_text("blending") == "Blending with the market"
    assert phase_text("some_new_phase") == "Some new phase"
    assert phase_text(None) is None
    assert all(text[0].isupper() and "_" not in text for text in PHASES.values())


def test_field_names_as_the_request_spells_them():
    assert [camel(x) for x in ("date_from", "model_type", "leagues")] == [
        "dateFrom",
        "modelType",
        "leagues",
    ]


def test_league_tiers():
    assert [league_tier(c) for c in ("E0", "E1", "SC0", "SC1", "D2", "SP1", "EC", "XX")] == [
        1,
        2,
        1,
        2,
        2,
        1,
        5,
        None,
    ]


def test_cors_origins_setting():
    assert Settings.from_env({}).cors_origins == DEFAULT_CORS_ORIGINS
    assert "http://localhost:3000" in DEFAULT_CORS_ORIGINS
    assert "http://127.0.0.1:8081" in DEFAULT_CORS_ORIGINS
    got = Settings.from_env({"FPE_CORS_ORIGINS": " https://App.example.com/ ,http://h:9"})
    assert got.cors_origins == ("https://app.example.com", "http://h:9")
    got = Settings.from_env({"FPE_CORS_ORIGINS": "http://h:80,https://[::1]:8443"})
    assert got.cors_origins == ("http://h", "https://[::1]:8443")
    assert Settings.from_env({"FPE_CORS_ORIGINS": "*"}).cors_origins == ("*",)
    for bad in ("localhost:3000", "http://h/path", "ftp://h", "http://h:99999"):
        with pytest.raises(ConfigError, match="FPE_CORS_ORIGINS"):
            Settings.from_env({"FPE_CORS_ORIGINS": bad})
    with pytest.raises(ConfigError, match="FPE_ALLOWED_ORIGINS"):
        Settings.from_env({"FPE_ALLOWED_ORIGINS": "example.com"})


async def test_the_draw_model_card_trains_through_the_shim(api):
    """The page's fifth card: ``{"modelType": "draw"}`` is a real model type."""
    app, client = api
    started = await client.post("/api/model/train", json={"modelType": "draw"})
    assert started.status_code == 202, started.text
    task_id = started.json()["data"]["taskId"]
    await app.state.services.queue.join()
    task = (await client.get(f"/api/tasks/{task_id}")).json()["data"]
    assert task["status"] == "completed", task
    versions = (await client.get("/api/model/versions")).json()["data"]
    (draw,) = [v for v in versions if v["modelType"] == "draw"]
    assert draw["isActive"] and draw["version"] == task["result"]["version"]
    assert 0 <= draw["drawAccuracy"] <= 100  # percent, the legacy unit
