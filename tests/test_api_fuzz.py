"""Property-based fuzzing of the GraphQL API and the REST shim, on PostgreSQL and SQLite:
whatever arrives, no 5xx and no traceback in any response."""

from __future__ import annotations

import json
from pathlib import Path

import hypothesis.strategies as st
import pytest
from graphql import StringValueNode
from hypothesis import HealthCheck, given, settings
from hypothesis_graphql import Mode, mutations, queries

SCHEMA = (Path(__file__).resolve().parents[1] / "schema.graphql").read_text()
SCALARS = {  # how to generate our custom scalars as GraphQL literals
    "Date": st.dates().map(lambda d: StringValueNode(value=d.isoformat())),
    "DateTime": st.datetimes().map(lambda d: StringValueNode(value=d.isoformat())),
    "JSON": st.just(StringValueNode(value="{}")),
}
JSON = {"content-type": "application/json"}  # REST writes take JSON only (CSRF)
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(params=["postgresql", "sqlite"])
async def client(request, make_api):
    _, http = await make_api(request.param)
    return http


def _clean(response) -> None:
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    body = response.json()
    for error in body.get("errors") or []:
        assert "Unexpected error" not in error["message"], error  # no bug was hit


@FUZZ
@given(query=queries(SCHEMA, custom_scalars=SCALARS))
async def test_valid_queries_never_fail(client, query):
    _clean(await client.post("/graphql", json={"query": query}))


@FUZZ
@given(query=queries(SCHEMA, custom_scalars=SCALARS, mode=Mode.NEGATIVE))
async def test_invalid_queries_get_errors_not_crashes(client, query):
    response = await client.post("/graphql", json={"query": query})
    assert response.status_code < 500 and "Traceback" not in response.text


@FUZZ
@given(
    query=mutations(
        SCHEMA, custom_scalars=SCALARS, fields=["cancelTraining", "activateModel", "archiveModel"]
    )
)
async def test_mutations_never_fail(client, query):
    _clean(await client.post("/graphql", json={"query": query}))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)
_train_body = st.fixed_dictionaries(
    {},
    optional={
        "modelType": _json | st.sampled_from(["poisson", "full", "x"]),
        "leagues": _json | st.lists(st.sampled_from(["E0", "ZZ", ""]), max_size=3),
        "seasons": _json,
        "dateFrom": _json,
        "dateTo": _json,
        "extra": _json,
    },
)


@FUZZ
@given(body=_train_body | _json)
async def test_rest_train_body(client, body):
    response = await client.post("/api/model/train", content=json.dumps(body), headers=JSON)
    assert response.status_code < 500 and "Traceback" not in response.text
    if response.status_code >= 400:
        assert set(response.json()) >= {"detail", "code"}
    else:
        assert response.json()["success"] is True


# every write path, with a JSON value of the wrong type where the legacy contract has a field
_not_a_string = _json.filter(lambda v: v is not None and not isinstance(v, str))
_not_a_code_list = _json.filter(
    lambda v: (
        v not in (None, []) and not (isinstance(v, list) and all(isinstance(x, str) for x in v))
    )
)
_WRONG = {
    "modelType": _not_a_string,
    "leagues": _not_a_code_list,
    "seasons": _not_a_code_list,
    "dateFrom": _not_a_string,
    "dateTo": _not_a_string,
}


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_client(request, make_api):
    _, http = await make_api(request.param)
    return http


@FUZZ
@given(data=st.data(), field=st.sampled_from(sorted(_WRONG)))
async def test_rest_wrong_json_types_are_422_naming_the_field(any_client, data, field):
    body = {"modelType": "poisson", "leagues": ["E0"], field: data.draw(_WRONG[field])}
    response = await any_client.post("/api/model/train", content=json.dumps(body), headers=JSON)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field and response.json()["code"] == "BAD_USER_INPUT"


@FUZZ
@given(
    key=st.text(
        alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=30
    ).filter(lambda s: "/" not in s and s not in (".", "..")),
    body=_json,
)
async def test_rest_other_write_paths_never_fail(any_client, key, body):
    from urllib.parse import quote

    for path in (
        f"/api/model/versions/{quote(key, safe='')}/activate",
        f"/api/tasks/{quote(key, safe='')}/cancel",
    ):
        response = await any_client.post(path, content=json.dumps(body), headers=JSON)
        assert response.status_code < 500 and "Traceback" not in response.text, response.text
        assert response.status_code in (404, 422) and "detail" in response.json()


@FUZZ
@given(raw=st.binary(max_size=200))
async def test_rest_train_raw_bytes(client, raw):
    response = await client.post("/api/model/train", content=raw, headers=JSON)
    assert response.status_code < 500 and "Traceback" not in response.text


@FUZZ
@given(
    task_id=st.text(
        alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40
    ).filter(lambda s: "/" not in s and s not in (".", "..")),
    limit=st.text(max_size=8),
)
async def test_rest_paths_and_parameters(client, task_id, limit):
    from urllib.parse import quote

    for response in (
        await client.get(f"/api/tasks/{quote(task_id, safe='')}"),
        await client.post(f"/api/tasks/{quote(task_id, safe='')}/cancel"),
        await client.get("/api/model/training-history", params={"limit": limit}),
        await client.get("/api/model/versions", params={"limit": limit}),
    ):
        assert response.status_code < 500 and "Traceback" not in response.text
