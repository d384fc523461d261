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
    response = await client.post("/api/model/train", content=json.dumps(body))
    assert response.status_code < 500 and "Traceback" not in response.text
    if response.status_code >= 400:
        assert set(response.json()["error"]) >= {"code", "message"}


@FUZZ
@given(raw=st.binary(max_size=200))
async def test_rest_train_raw_bytes(client, raw):
    response = await client.post("/api/model/train", content=raw)
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
