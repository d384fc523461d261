"""The legacy jackpot pages' contract (server/api/jackpots.py, server/api/login.py): every call
they make and every answer, pinned by the recorded exchanges in tests/contracts/jackpots/*.json,
on SQLite and PostgreSQL, over a real ``full`` and ``draw`` model trained on E0.

Same format as tests/test_rest.py (``FPE_RECORD_CONTRACTS=1`` rewrites the answers); the
probabilities themselves are volatile there (their type is pinned) and checked here instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from core.odds import implied_probabilities
from server.runs import jackpot_results, jackpots, registry
from tests.test_rest import VOLATILE, _match

CONTRACTS = Path(__file__).parent / "contracts" / "jackpots"
RECORD = bool(os.environ.get("FPE_RECORD_CONTRACTS"))
JACKPOT_VOLATILE = VOLATILE | {
    "createdAt",
    "updatedAt",
    "predictionId",
    "modelVersion",
    "jackpotId",
    "homeWinProbability",
    "drawProbability",
    "awayWinProbability",
    "entropy",
    "poisson",
    "dixonColes",
    "market",
    "batchId",
    "completedAt",
    "startedAt",
    "lastBatchAt",
}
SEASONS = ["2223", "2324", "2425"]
TOKEN = "s3cret-token"


def exchange(group: str, name: str) -> dict[str, Any]:
    return json.loads((CONTRACTS / f"{group}.json").read_text())[name]


async def contract(
    client, group: str, name: str, directory: Path = CONTRACTS, **values: Any
) -> Any:
    """Send the recorded request; check the answer against the recorded one; return its
    JSON body."""
    path = directory / f"{group}.json"
    exchanges = json.loads(path.read_text())
    recorded = exchanges[name]
    request = recorded["request"]
    response = await client.request(
        request["method"],
        request["path"].format(**values),
        headers=request.get("headers", {}),
        content=json.dumps(request["json"]) if "json" in request else None,
    )
    answer = recorded["response"]
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
        JACKPOT_VOLATILE | set(recorded.get("volatile", [])),
    )
    return body


async def _train(app, client, model_type: str) -> str:
    response = await client.post(
        "/api/model/train",
        json={"modelType": model_type, "leagues": ["E0"], "seasons": SEASONS},
        headers={"authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 202, response.text
    await app.state.services.queue.join()
    task = (await client.get(f"/api/tasks/{response.json()['data']['taskId']}")).json()["data"]
    assert task["status"] == "completed", task
    return task["result"]["version"]


@pytest.fixture(params=["sqlite", "postgresql"])
async def trained_api(request, make_api):
    """(app, client, full version, draw version) with a token required for writes."""
    app, client = await make_api(request.param, api_token=TOKEN)
    full = await _train(app, client, "full")
    draw = await _train(app, client, "draw")
    return app, client, full, draw


def _sets_of(body: dict[str, Any]) -> dict[str, np.ndarray]:
    return {
        key: np.array(
            [[r["homeWinProbability"], r["drawProbability"], r["awayWinProbability"]] for r in rows]
        )
        for key, rows in body["data"]["probabilitySets"].items()
    }


async def test_the_jackpot_pages_session(trained_api):
    """What the pages do, in their order, with the answers they read."""
    app, client, full, draw = trained_api
    auth = {"authorization": f"Bearer {TOKEN}"}
    # demo mode sends no token: with one configured, its writes get the 401 the page handles
    await contract(client, "jackpots", "create-no-token")

    client.headers.update(auth)
    await contract(client, "jackpots", "preflight-put")
    await contract(client, "jackpots", "preflight-delete")
    await contract(client, "saved", "latest-none")
    made = (await contract(client, "jackpots", "create-twelve"))["data"]
    jid = made["id"]
    assert made["modelVersion"] == full and jid.startswith("JK-")
    sent = exchange("jackpots", "create-twelve")["request"]["json"]["fixtures"]

    body = await contract(client, "jackpots", "probabilities", jid=jid)
    sets = _sets_of(body)
    assert list(sets) == ["A", "B", "C", "D", "E", "G"]  # F is left out
    assert [f["id"] for f in body["data"]["fixtures"]] == [f["id"] for f in sent]
    for key, p in sets.items():
        assert p.shape == (12, 3)
        assert np.all(np.round(p.sum(axis=1), 6) == 100.0), key  # exactly, two decimals
        assert np.all(np.abs(p * 100 - np.round(p * 100)) < 1e-6), key
        assert p[:, 0].std() > 5, key  # they vary by fixture
    odds = np.array([[f["odds"][k] for k in ("home", "draw", "away")] for f in sent])
    fair = 100 * implied_probabilities(odds, "power")  # the models' margin method
    # B is a blend with the market: close to the margin-free odds
    assert np.abs(sets["B"] - sets["C"]).max() < 8  # measured: 6.3 points
    assert np.abs(sets["B"] - sets["C"]).mean() < 2.5  # measured: 1.5 points
    assert np.abs(sets["A"] - sets["C"]).mean() > np.abs(sets["B"] - sets["C"]).mean()
    assert np.abs(sets["C"] - fair).max() <= 0.01  # C is the margin-free market
    assert np.abs(sets["G"] - (sets["A"] + sets["B"] + sets["C"]) / 3).max() < 0.02
    # E sharpens B: lower entropy, the favourite stronger
    rows = body["data"]["probabilitySets"]
    assert all(e["entropy"] < b["entropy"] for e, b in zip(rows["E"], rows["B"], strict=True))
    assert np.all(sets["E"].max(axis=1) >= sets["B"].max(axis=1))
    # D keeps B's home/away ratio
    ratio = sets["D"][:, 0] / sets["D"][:, 2] / (sets["B"][:, 0] / sets["B"][:, 2])
    assert np.abs(ratio - 1).max() < 0.01
    flags = {k: (v[0]["calibrated"], v[0]["heuristic"]) for k, v in rows.items()}
    assert flags == {
        "A": (True, False),
        "B": (True, False),
        "C": (False, False),
        "D": (False, False),
        "E": (False, True),
        "G": (False, True),
    }
    assert [k for k, v in rows.items() if v[0]["allowedForDecisionSupport"]] == ["B"]
    assert all("drawComponents" in rows[k][0] for k in "ABC")
    components = rows["B"][0]["drawComponents"]
    assert all(0 < components[c] < 1 for c in ("poisson", "dixonColes", "market"))
    # entropy in bits, of the unrounded probabilities
    assert rows["B"][0]["entropy"] == pytest.approx(
        -sum(q / 100 * np.log2(q / 100) for q in sets["B"][0]), abs=2e-3
    )

    # save, then the actual results as the page sends them (bare map, nulls, every 2 s)
    await contract(client, "saved", "save-bad-pick", jid=jid)
    await contract(client, "saved", "save-unknown-fixture", jid=jid)
    await contract(client, "saved", "save-no-name", jid=jid)
    saved = (await contract(client, "saved", "save", jid=jid))["data"]
    assert saved["scores"] == {"A": {"correct": 0, "total": 0}, "B": {"correct": 0, "total": 0}}
    empty = (await contract(client, "saved", "save-empty-selections", jid=jid))["data"]
    assert empty["actualResults"] == {"m1": "1"} and empty["scores"] == {}
    listed = (await contract(client, "saved", "saved-for-jackpot", jid=jid))["data"]["results"]
    assert [r["id"] for r in listed] == [empty["id"], saved["id"]]  # newest first
    rid = saved["id"]
    first = (await contract(client, "saved", "put-actual", rid=rid))["data"]
    actual = exchange("saved", "put-actual")["request"]["json"]
    judged = {k: v for k, v in actual.items() if v is not None}
    assert first["actualResults"] == judged
    b_picks = exchange("saved", "save")["request"]["json"]["selections"]["B"]
    home_wins = sum(b_picks[k] == v for k, v in judged.items())
    assert first["scores"]["B"] == {"correct": home_wins, "total": 11}
    assert first["scores"]["A"] == {"correct": 2, "total": 3}
    again = (await contract(client, "saved", "put-actual-again", rid=rid))["data"]
    assert again == first  # idempotent: nothing rewritten, not even updatedAt
    await contract(client, "saved", "put-actual-bad", rid=rid)
    await contract(client, "saved", "put-actual-unknown")
    latest = (await contract(client, "saved", "latest"))["data"]["result"]
    assert latest["id"] == empty["id"] and latest["jackpotId"] == jid
    everything = (await contract(client, "saved", "all"))["data"]["results"]
    assert [r["id"] for r in everything] == [empty["id"], rid]
    assert everything[1]["scores"] == first["scores"]
    await contract(client, "saved", "export")

    # templates: save the list, load it, calculate it, delete it
    await contract(client, "templates", "list-empty")
    await contract(client, "templates", "create-bad-odds")
    tid = (await contract(client, "templates", "create"))["data"]["id"]
    await contract(client, "templates", "list-one")
    await contract(client, "templates", "get", tid=tid)
    again_made = (await contract(client, "templates", "calculate", tid=tid))["data"]
    assert again_made["id"] != jid
    await contract(client, "templates", "delete", tid=tid)
    await contract(client, "templates", "get-deleted", tid=tid)

    # frozen: another model activated, the jackpot still answers what it answered
    other = await _train(app, client, "full")
    assert other != full
    assert (await registry.get_model(app.state.services.engine, None, "full"))["version"] == other
    after = (await client.get(f"/api/probabilities/{jid}/probabilities")).json()
    assert after == body
    newer = (await client.post("/api/jackpots", json={"fixtures": sent})).json()["data"]
    assert newer["modelVersion"] == other

    # a team in the database that no active model covers (E1 only): refused, named
    uncovered = [sent[0], {**sent[1], "homeTeam": "Barnsley"}]
    response = await client.post("/api/jackpots", json={"fixtures": uncovered})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "fixture 2 (Barnsley v " in detail and other in detail and "fixture 1" not in detail
    assert draw is not None


@pytest.mark.parametrize(
    "name",
    [
        "create-unknown-teams",
        "create-odds-below",
        "create-odds-missing",
        "create-book-too-big",
        "create-thirty-one",
        "create-empty",
        "create-duplicate-ids",
        "create-no-model",
        "probabilities-unknown",
    ],
)
async def test_bad_jackpots_are_refused_naming_the_fixture(api, name):
    _, client = api  # no model needed: input is checked first
    body = await contract(client, "jackpots", name)
    assert body["detail"] and body["code"] in ("BAD_USER_INPUT", "NOT_FOUND")


async def test_without_a_full_model_no_set_is_for_decisions(make_api):
    """A ``poisson`` model alone: the sets come from it, B is not the calibrated blend and
    says so; a warning tells why."""
    app, client = await make_api("sqlite")
    version = await _train(app, client, "poisson")
    first, second = exchange("jackpots", "create-twelve")["request"]["json"]["fixtures"][:2]
    # a league's name is kept for display; a football-data code narrows the team look-up
    fixtures = [{**first, "league": "English Premier League"}, {**second, "league": "E0"}]
    made = (await client.post("/api/jackpots", json={"fixtures": fixtures})).json()["data"]
    assert made["modelVersion"] == version
    assert [f["league"] for f in made["fixtures"]] == ["English Premier League", "E0"]
    body = (await client.get(f"/api/probabilities/{made['id']}/probabilities")).json()["data"]
    assert body["warnings"][0].startswith("there is no active full model")
    rows = body["probabilitySets"]
    assert not any(r[0]["allowedForDecisionSupport"] for r in rows.values())
    assert not rows["B"][0]["calibrated"] and "D" not in rows
    # the one team resolver: aliases and the team-name rule, as every other path
    aliased = [{**first, "id": "a", "homeTeam": "Spurs", "awayTeam": " man  utd "}]
    made = (await client.post("/api/jackpots", json={"fixtures": aliased})).json()["data"]
    assert [(f["homeTeam"], f["awayTeam"]) for f in made["fixtures"]] == [("Spurs", "man utd")]


async def test_unknown_teams_are_named_with_spellings(api):
    # "Man City" is a stored name and "Wolves" its own; misspellings get suggestions
    _, client = api
    body = await contract(client, "jackpots", "create-unknown-teams")
    detail = body["detail"]
    assert "'Man Untd'" in detail and "'Man United'" in detail
    assert "'Arsnal'" in detail and "'Arsenal'" in detail
    assert "fixture 1" in detail and "fixture 3" in detail and "fixture 2" not in detail


async def test_login_without_a_token_configured(api):
    _, client = api
    login = await contract(client, "auth", "login-open")
    assert login["token"] is None  # nothing to hand back: no auth is needed
    await contract(client, "auth", "me-open")
    await contract(client, "auth", "logout")


async def test_login_with_the_token(make_api):
    _, client = await make_api("sqlite", api_token=TOKEN)
    await contract(client, "auth", "login-wrong")
    login = await contract(client, "auth", "login-right")
    assert login["token"] == TOKEN
    await contract(client, "auth", "me-with-token")
    await contract(client, "auth", "me-without-token")


def test_every_recorded_exchange_is_exercised():
    source = Path(__file__).read_text()
    for path in CONTRACTS.glob("*.json"):
        for name in json.loads(path.read_text()):
            assert f'"{name}"' in source, f"{path.name}: {name} is recorded but never sent"


# --- the parts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "p",
    [
        [1 / 3, 1 / 3, 1 / 3],
        [0.4545, 0.27275, 0.27275],
        [0.999999, 0.0000005, 0.0000005],
        [0.12345, 0.45678, 0.41977],
    ],
)
def test_percent_sums_to_exactly_one_hundred(p):
    out = jackpots.percent(p)
    assert round(sum(out) * 100) == 10_000
    assert all(abs(x * 100 - round(x * 100)) < 1e-9 for x in out)
    assert all(abs(x - 100 * q) < 0.01 + 1e-9 for x, q in zip(out, p, strict=True))


def test_sets_of_one_fixture():
    a, b, c = np.array([0.5, 0.3, 0.2]), np.array([0.45, 0.28, 0.27]), np.array([0.44, 0.29, 0.27])
    sets = jackpots.compute_sets(a, b, c, 0.31, None, calibrated=True)
    assert list(sets) == ["A", "B", "C", "D", "E", "G"]
    assert sets["D"]["draw"] == 0.31
    assert sets["D"]["home"] / sets["D"]["away"] == pytest.approx(0.45 / 0.27)
    e = np.array([sets["E"][k] for k in ("home", "draw", "away")])
    expected = b ** (1 / jackpots.TEMPERATURE)
    assert e == pytest.approx(expected / expected.sum())
    assert sets["E"]["entropy"] < sets["B"]["entropy"]
    assert sets["G"]["home"] == pytest.approx((0.5 + 0.45 + 0.44) / 3)
    assert jackpots.entropy_bits(np.array([0.5, 0.5, 0])) == pytest.approx(1.0)
    assert "D" not in jackpots.compute_sets(a, b, c, None, None, calibrated=True)


def test_scores_count_only_fixtures_with_results():
    picks = {"A": {"1": "1", "2": "X", "3": "2"}, "B": {}}
    assert jackpot_results.score(picks, {"1": "1", "2": "2"}) == {
        "A": {"correct": 1, "total": 2},
        "B": {"correct": 0, "total": 0},
    }


JACKPOT_FIELDS = """id name modelVersion drawModelVersion status warnings createdAt
  fixtures { id homeTeam awayTeam odds { home draw away }
    sets { set home draw away entropy calibrated heuristic allowedForDecisionSupport
      drawComponents { poisson dixonColes market } } }"""
SAVED_FIELDS = "id name jackpotId selections actualResults scores modelVersion totalFixtures"


async def test_graphql_jackpots_over_the_same_service(make_api):
    """Without a draw model there is no D (a warning says so); GraphQL and the REST shim
    answer the same stored numbers, in fractions and in percent."""
    from tests.test_api import gql

    app, client = await make_api("sqlite", api_token=TOKEN)
    full = await _train(app, client, "full")
    fixtures = [
        {
            "id": f["id"],
            "homeTeam": f["homeTeam"],
            "awayTeam": f["awayTeam"],
            "odds": f["odds"],
        }
        for f in exchange("jackpots", "create-twelve")["request"]["json"]["fixtures"][:3]
    ]
    create = f"""mutation($f: [JackpotFixtureInput!]!) {{
      createJackpot(fixtures: $f, name: "Three") {{ {JACKPOT_FIELDS} }} }}"""
    refused = await gql(client, create, {"f": fixtures})
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    made = (await gql(client, create, {"f": fixtures}, TOKEN))["data"]["createJackpot"]
    assert made["modelVersion"] == full and made["drawModelVersion"] is None
    assert made["warnings"] == [
        "there is no active draw model: set D and drawComponents are left out"
    ]
    assert [s["set"] for s in made["fixtures"][0]["sets"]] == ["A", "B", "C", "E", "G"]
    read = await gql(client, f'{{ jackpot(id: "{made["id"]}") {{ {JACKPOT_FIELDS} }} }}')
    assert read["data"]["jackpot"] == made
    rest = (await client.get(f"/api/probabilities/{made['id']}/probabilities")).json()["data"]
    assert list(rest["probabilitySets"]) == ["A", "B", "C", "E", "G"]
    for i, fixture in enumerate(made["fixtures"]):
        for s in fixture["sets"]:
            row = rest["probabilitySets"][s["set"]][i]
            assert row["homeWinProbability"] == pytest.approx(100 * s["home"], abs=0.01)
            assert row["drawProbability"] == pytest.approx(100 * s["draw"], abs=0.01)

    save = f"""mutation($j: String!, $s: JSON!) {{
      saveJackpotResult(jackpotId: $j, name: "GraphQL picks", selections: $s) {{
        {SAVED_FIELDS} }} }}"""
    picks = {"B": {f["id"]: "1" for f in fixtures}}
    saved = (await gql(client, save, {"j": made["id"], "s": picks}, TOKEN))["data"]
    saved = saved["saveJackpotResult"]
    assert saved["scores"] == {"B": {"correct": 0, "total": 0}} and saved["totalFixtures"] == 3
    actual = {fixtures[0]["id"]: "1", fixtures[1]["id"]: "X", fixtures[2]["id"]: None}
    update = f"""mutation($id: Int!, $a: JSON!) {{
      setJackpotActualResults(savedResultId: $id, actualResults: $a) {{ {SAVED_FIELDS} }} }}"""
    scored = (await gql(client, update, {"id": saved["id"], "a": actual}, TOKEN))["data"]
    assert scored["setJackpotActualResults"]["scores"] == {"B": {"correct": 1, "total": 2}}
    listed = await gql(
        client, f'{{ savedJackpotResults(jackpotId: "{made["id"]}") {{ {SAVED_FIELDS} }} }}'
    )
    assert listed["data"]["savedJackpotResults"] == [scored["setJackpotActualResults"]]
    bad = await gql(client, '{ jackpot(id: "JK-none") { id } }')
    assert bad["errors"][0]["extensions"]["code"] == "NOT_FOUND"


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
_FIXTURE = st.fixed_dictionaries(
    {"id": _JSON_VALUES, "homeTeam": _JSON_VALUES, "awayTeam": _JSON_VALUES, "odds": _JSON_VALUES}
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=_JSON_VALUES | st.fixed_dictionaries({"fixtures": st.lists(_FIXTURE, max_size=3)}),
    picks=_JSON_VALUES,
)
async def test_junk_never_fails(api, body, picks):
    """Whatever arrives on the jackpot write paths: a 4xx with a ``detail``, never a 5xx."""
    _, client = api
    headers = {"content-type": "application/json"}
    paths = [
        ("POST", "/api/jackpots", body),
        ("POST", "/api/jackpots/templates", body),
        ("POST", "/api/probabilities/JK-x/save-result", {"name": "n", "selections": picks}),
        ("PUT", "/api/probabilities/saved-results/1/actual-results", picks),
        ("POST", "/api/probabilities/validation/export", {"validation_ids": picks}),
    ]
    for method, path, sent in paths:
        response = await client.request(method, path, content=json.dumps(sent), headers=headers)
        assert 400 <= response.status_code < 500, (path, response.text)
        assert "detail" in response.json() and "Traceback" not in response.text
    login = await client.post("/api/auth/login", content=json.dumps(body), headers=headers)
    assert login.status_code < 500 and "Traceback" not in login.text  # 200 for a real login
