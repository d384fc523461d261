"""The findings of the attack on a copy of the service (issue 11), each reproduced: the
fan-out query, bad input that got a 500 or "Unexpected error." on PostgreSQL, and what
leaked to anonymous readers (tracebacks in run logs, hosts in /readyz, DNS rebinding,
the bearer scheme)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from schema import build_schema
from schema.cost import MAX_COST
from schema.document import CACHE_CHARS, INLINE_CHARS, DocumentCache, Entry
from schema.fixtures import MAX_PREDICTIONS
from schema.guard import MAX_FRAGMENT_NESTING, MAX_SELECTIONS
from tests.conftest import (
    _make_template,
    create_database,
    drop_databases,
    start_server,
    stop_process,
)

TOKEN = "abuse-token"
# the attack: 20 aliases of a model list with every nested list it has
FAN_OUT = (
    "{ "
    + " ".join(
        f"a{i}: models(limit: 200) {{ teamStrengths {{ team {{ name }} }} "
        "trainingRuns { logs config } }"
        for i in range(20)
    )
    + " }"
)


@pytest.fixture(params=["postgresql", "sqlite"])
async def api(request, make_api):
    """The API in-process on each dialect, with a token."""
    return await make_api(request.param, api_token=TOKEN)


def _clean(response: httpx.Response) -> dict:
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text and "Unexpected error" not in response.text
    return response.json()


def _code(body: dict) -> str:
    return body["errors"][0]["extensions"]["code"]


async def gql(client, query: str, variables: dict | None = None, **headers: str) -> dict:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"authorization": f"Bearer {TOKEN}", **headers},
    )
    return _clean(response)


def fragment_bomb(levels: int) -> str:
    """Under 1 KB at 22 levels: fragments that each spread the next one twice."""
    fragments = " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    )
    return f"query {{ ...F0 }} {fragments} fragment F{levels} on Query {{ leagues {{ code }} }}"


REPEATED = "{ " + " ".join(["leagues { code }"] * 495) + " }"  # 8 KB


@pytest.fixture
async def one_api(make_api):
    """The API in-process on SQLite, with a token: for refusals that reach no database."""
    return await make_api("sqlite", api_token=TOKEN)


@pytest.fixture
def validations(monkeypatch) -> list[threading.Thread]:
    """The thread of every validation of a document (graphql-core's rules)."""
    import schema.document

    threads: list[threading.Thread] = []
    validate = schema.document.validate_document

    def spy(*args):
        threads.append(threading.current_thread())
        return validate(*args)

    monkeypatch.setattr(schema.document, "validate_document", spy)
    return threads


# --- finding 1: the fan-out query ------------------------------------------------------------


async def test_the_fan_out_attack_is_refused_before_execution(api, monkeypatch):
    import schema.resolvers

    _, client = api
    calls = []
    monkeypatch.setattr(schema.resolvers.registry, "list_models", lambda *a: calls.append(a))
    body = await gql(client, FAN_OUT)
    assert body["data"] is None and _code(body) == "QUERY_TOO_COMPLEX"
    assert body["errors"][0]["extensions"]["cost"] > 100 * MAX_COST
    assert "budget" in body["errors"][0]["message"]
    assert calls == []  # refused before any resolver ran


async def test_the_cost_follows_limit_variables(api):
    _, client = api
    query = "query($n: Int!) { models(limit: $n) { teamStrengths { team { name } } } }"
    assert _code(await gql(client, query, {"n": 200})) == "QUERY_TOO_COMPLEX"
    assert (await gql(client, query, {"n": 2}))["data"] == {"models": []}


async def test_an_answer_over_the_size_cap_is_refused(api, monkeypatch):
    import server.api.app

    _, client = api
    monkeypatch.setattr(server.api.app, "MAX_RESPONSE_BYTES", 2000)
    body = await gql(client, "{ teams { id name country } }")
    assert body["data"] is None and _code(body) == "RESPONSE_TOO_LARGE"
    assert "limit of 2,000" in body["errors"][0]["message"]
    assert "data" in await gql(client, "{ leagues { code } }")  # a small answer passes


async def test_big_answers_are_encoded_off_the_event_loop(api, monkeypatch):
    import server.api.app

    _, client = api
    threads = []
    encode = server.api.app.GraphQLApp.encode_json

    def spy(self, data):
        threads.append(threading.current_thread())
        return encode(self, data)

    monkeypatch.setattr(server.api.app.GraphQLApp, "encode_json", spy)
    monkeypatch.setattr(server.api.app, "_INLINE_ITEMS", 10)
    body = await gql(client, "{ teams { name } }")
    assert len(body["data"]["teams"]) > 10
    assert threads and threads[0] is not threading.main_thread()
    threads.clear()
    await gql(client, "{ leagues { code } }")  # small: encoded in place
    assert threads == [threading.main_thread()] * len(threads) and threads


# --- finding 7: bad input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ('{ task(taskId: "a\\u0000b") { status } }', {}),
        ("query($t: String!) { task(taskId: $t) { status } }", {"t": "a\x00b"}),
        ('{ predict(home: "Arsenal\\u0000", away: "Chelsea") { homeWin } }', {}),
        ('{ teams(league: "E\\u00000") { name } }', {}),
        ('{ models(status: "\\u0000") { id } }', {}),
        (
            "mutation($i: TrainingInput!) { startTraining(input: $i) { taskId } }",
            {"i": {"modelType": "FULL", "leagues": ["E0\x00"]}},
        ),
        ('mutation { activateModel(version: "v\\u0000") { id } }', {}),
        ('mutation { cancelTraining(taskId: "\\u0000") { id } }', {}),
    ],
)
async def test_nul_characters_in_graphql_arguments(api, query, variables):
    _, client = api
    body = await gql(client, query, variables)
    assert _code(body) == "BAD_USER_INPUT" and "NUL" in body["errors"][0]["message"]


async def test_nul_characters_over_rest(api):
    _, client = api
    auth = {"authorization": f"Bearer {TOKEN}"}
    for response in (
        await client.get("/api/tasks/%00"),
        await client.post("/api/tasks/a%00/cancel", headers=auth),
        await client.get("/api/model/training-history", params={"limit": "1\x00"}),
        await client.post(
            "/api/model/train",
            json={"modelType": "full", "leagues": ["E0\x00"], "seasons": ["2425"]},
            headers=auth,
        ),
    ):
        body = _clean(response)
        assert response.status_code == 422, body
        assert "NUL" in json.dumps(body)


async def test_a_non_ascii_bearer_token_is_a_wrong_token(api):
    _, client = api
    bad = {"authorization": "Bearer t\u00f6ken".encode()}
    response = await client.post("/api/model/train", json={}, headers=bad)
    assert response.status_code == 401 and "UNAUTHENTICATED" in response.text
    response = await client.post(
        "/graphql",
        json={"query": 'mutation { cancelTraining(taskId: "x") { id } }'},
        headers=bad,
    )
    assert _code(_clean(response)) == "UNAUTHENTICATED"


async def test_deeply_nested_json_and_non_utf8_bodies(api):
    _, client = api
    deep = b"[" * 100_000 + b"]" * 100_000
    for path in ("/graphql", "/api/model/train"):
        headers = {"content-type": "application/json", "authorization": f"Bearer {TOKEN}"}
        for body in (
            deep,
            b'{"query": "{ leagues { code } }", "x": ' + deep + b"}",
            b'{"query": "\xff\xfe{ leagues }"}',
        ):
            response = await client.post(path, content=body, headers=headers)
            data = _clean(response)
            assert 400 <= response.status_code < 500, data
            assert "errors" in data or "detail" in data  # GraphQL or the REST shape
    params = {"query": "{ leagues { code } }", "variables": "[" * 20_000}
    response = await client.get("/graphql", params=params)
    assert response.status_code == 400 and _code(_clean(response)) == "BAD_REQUEST"


async def test_after_must_be_an_event_id(api):
    _, client = api
    for after in ("abc", "1-2-3", "99999999999999999999999-0", ""):
        body = await gql(
            client,
            'subscription($a: String!) { trainingProgress(taskId: "x", after: $a) { type } }',
            {"a": after},
        )
        # over HTTP a subscription is refused outright; the argument check is below
        assert _code(body) == "WEBSOCKET_REQUIRED"
    from schema.errors import UserError
    from schema.resolvers import _check_event_id

    for after in ("abc", "1-2-3", "99999999999999999999999-0", "", "$", "-1"):
        with pytest.raises(UserError) as info:
            _check_event_id(after)
        assert info.value.extensions == {"code": "BAD_USER_INPUT", "field": "after"}
    for after in ("0", "0-0", "1732990000000-5", "17"):
        _check_event_id(after)


async def test_a_subscription_over_http_post_is_a_clear_error(api):
    _, client = api
    body = await gql(client, 'subscription { trainingProgress(taskId: "x") { type } }')
    assert body["data"] is None and _code(body) == "WEBSOCKET_REQUIRED"
    assert "WebSocket" in body["errors"][0]["message"]
    streamed = await client.post(  # the multipart transport is not offered either
        "/graphql",
        json={"query": "subscription { trainingEvents { taskId } }"},
        headers={"accept": "multipart/mixed;subscriptionSpec=1.0", "authorization": "Bearer x"},
    )
    assert streamed.status_code < 500 and "Traceback" not in streamed.text
    assert "WEBSOCKET_REQUIRED" in streamed.text or "UNAUTHENTICATED" in streamed.text


async def test_bad_requests_are_json_errors_with_a_code(api):
    _, client = api
    for response in (
        await client.post("/graphql", content=b"{", headers={"content-type": "application/json"}),
        await client.post("/graphql", json={"variables": {}}),
        await client.post("/graphql", content=b"x", headers={"content-type": "text/plain"}),
    ):
        assert response.status_code == 400
        assert _code(_clean(response)) == "BAD_REQUEST"


# --- finding 10: leaks ----------------------------------------------------------------------


async def test_run_logs_carry_no_traceback(api, monkeypatch, caplog):
    import server.runs.runner
    from tests.test_api import E0_RECENT

    app, client = api

    def broken(*args, **kwargs):
        raise RuntimeError("secret detail: /srv/fpe/core/pipeline.py, SELECT * FROM matches")

    monkeypatch.setattr(server.runs.runner, "train", broken)
    with caplog.at_level(logging.ERROR):
        out = await gql(
            client,
            "mutation($i: TrainingInput!) { startTraining(input: $i) { taskId } }",
            {"i": {"modelType": "POISSON", **E0_RECENT}},
        )
        task_id = out["data"]["startTraining"]["taskId"]
        await app.state.services.queue.join()
    run = (
        await gql(
            client,
            "query($t: String!) { task(taskId: $t) { status errorMessage message logs } }",
            {"t": task_id},
        )
    )["data"]["task"]
    assert run["status"] == "FAILED"
    shown = json.dumps(run)
    assert "Traceback" not in shown and "secret detail" not in shown and "SELECT" not in shown
    assert "internal error (reference " in run["errorMessage"]
    reference = run["errorMessage"].split("reference ")[1].split(")")[0]
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged and logged[0].exc_info and "secret detail" in str(logged[0].exc_info[1])
    rest = _clean(await client.get(f"/api/tasks/{task_id}"))
    assert "secret detail" not in json.dumps(rest)


async def test_readyz_does_not_show_hosts(api, monkeypatch):
    import dataclasses

    from redis.exceptions import ConnectionError as RedisConnectionError

    from server.store.db import create_engine

    app, client = api
    services = app.state.services

    async def unreachable() -> None:
        raise RedisConnectionError("Error 111 connecting to 10.1.2.3:6380. Connection refused.")

    settings = dataclasses.replace(services.settings, redis_url="redis://10.1.2.3:6380")
    monkeypatch.setattr(services, "settings", settings)
    monkeypatch.setattr(services.queue, "check", unreachable)
    healthy = services.engine
    services.engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        ready = await client.get("/readyz")
    finally:
        await services.engine.dispose()
        services.engine = healthy
    assert ready.status_code == 503
    assert ready.json()["redis"].startswith("error")
    assert ready.json()["database"].startswith("error")
    for secret in ("10.1.2.3", "6380", "127.0.0.1", "nobody"):
        assert secret not in ready.text


async def test_dns_rebinding_is_refused_in_process(api):
    _, client = api
    assert (await client.get("/healthz")).status_code == 200  # localhost
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example"):
        response = await client.get("/healthz", headers={"host": host})
        assert response.status_code == 400
        response = await client.post(
            "/graphql", json={"query": "{ leagues { code } }"}, headers={"host": host}
        )
        assert response.status_code == 400 and "leagues" not in response.text


async def test_the_bearer_scheme_is_case_insensitive_and_required(api):
    _, client = api
    mutation = 'mutation { cancelTraining(taskId: "none") { id } }'
    for header, code in (
        (f"Bearer {TOKEN}", "NOT_FOUND"),
        (f"bearer {TOKEN}", "NOT_FOUND"),
        (f"BEARER  {TOKEN} ", "NOT_FOUND"),
        (TOKEN, "UNAUTHENTICATED"),  # a raw token without the scheme
        (f"Basic {TOKEN}", "UNAUTHENTICATED"),
        (f"Bearer{TOKEN}", "UNAUTHENTICATED"),
    ):
        response = await client.post(
            "/graphql", json={"query": mutation}, headers={"authorization": header}
        )
        assert _code(_clean(response)) == code, header
        rest = await client.post("/api/tasks/none/cancel", headers={"authorization": header})
        assert rest.status_code == (404 if code == "NOT_FOUND" else 401), header


# --- the same on a live server: WebSockets ----------------------------------------------------


@pytest.fixture(scope="module")
async def live(_seed_templates, postgres_url):
    """``fpe serve`` on a copy of the seeded PostgreSQL database, with a token, no Redis."""
    template = await _make_template("postgresql", _seed_templates, postgres_url)
    db_url = await create_database(postgres_url, template=template)
    env = {**os.environ, "FPE_DATABASE_URL": db_url, "FPE_API_TOKEN": TOKEN}
    env.pop("FPE_REDIS_URL", None)
    env.pop("FPE_ALLOWED_HOSTS", None)
    server = None
    try:
        server, base = await start_server(env)
        yield {"base": base, "port": int(base.rsplit(":", 1)[1])}
    finally:
        if server is not None:
            stop_process(server)
        await drop_databases([db_url])


async def _ws_init(uri: str, payload: dict, **kwargs) -> dict:
    async with connect(uri, subprotocols=["graphql-transport-ws"], **kwargs) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        return json.loads(await ws.recv())


async def test_websocket_with_a_non_ascii_token_is_closed_cleanly(live):
    uri = f"ws://127.0.0.1:{live['port']}/graphql"
    with pytest.raises(ConnectionClosed) as closed:
        await _ws_init(uri, {"authorization": "Bearer t\u00f6ken \x00"})
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    with pytest.raises(ConnectionClosed) as closed:
        await _ws_init(uri, {"authorization": TOKEN})  # no scheme
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    assert (await _ws_init(uri, {"authorization": f"bearer {TOKEN}"}))["type"] == "connection_ack"


async def test_dns_rebinding_is_refused_on_http_and_websocket(live):
    port = live["port"]
    async with httpx.AsyncClient() as client:
        ok = await client.get(f"http://localhost:{port}/healthz")
        assert ok.status_code == 200
        evil = await client.get(f"{live['base']}/healthz", headers={"host": f"evil.example:{port}"})
        assert evil.status_code == 400
    # evil.example resolves to this machine: the browser sends its own name as Host and Origin
    with pytest.raises(InvalidStatus) as refused:
        await _ws_init(
            f"ws://evil.example:{port}/graphql",
            {"authorization": f"Bearer {TOKEN}"},
            host="127.0.0.1",
            port=port,
            origin=f"http://evil.example:{port}",
        )
    assert refused.value.response.status_code == 400
    ack = await _ws_init(f"ws://localhost:{port}/graphql", {"authorization": f"Bearer {TOKEN}"})
    assert ack["type"] == "connection_ack"


async def test_nul_over_a_live_postgresql_server(live):
    async with httpx.AsyncClient(base_url=live["base"]) as client:
        response = await client.get("/api/tasks/%00")
        assert response.status_code == 422 and "NUL" in response.text
        body = await gql(client, 'query { task(taskId: "\\u0000") { id } }')
        assert _code(body) == "BAD_USER_INPUT"


async def test_after_abc_over_the_websocket_is_a_clear_error(live):
    uri = f"ws://127.0.0.1:{live['port']}/graphql"
    async with connect(uri, subprotocols=["graphql-transport-ws"]) as ws:
        init = {"authorization": f"Bearer {TOKEN}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for i, (task_id, after) in enumerate((("x", "abc"), ("a\x00", "0"))):
            query = (
                "subscription($t: String!, $a: String!) "
                "{ trainingProgress(taskId: $t, after: $a) { type } }"
            )
            payload = {"query": query, "variables": {"t": task_id, "a": after}}
            await ws.send(json.dumps({"id": str(i), "type": "subscribe", "payload": payload}))
            message = json.loads(await ws.recv())
            payload = message["payload"]
            errors = payload if message["type"] == "error" else payload["errors"]
            assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", message
            assert "Unexpected" not in json.dumps(message)
            if message["type"] == "next":
                assert json.loads(await ws.recv()) == {"id": str(i), "type": "complete"}


# --- issue 18: bodies, cross-site writes, slow headers, connections, metric labels ------------

SMALL_LIMIT = 4096


def test_the_limits_are_configured_and_bad_values_are_named():
    import dataclasses
    import resource

    from server.api.serving import FD_RESERVE, connection_limits
    from server.base.config import ConfigError, Settings

    default = Settings.from_env({})
    assert (default.max_body_bytes, default.header_timeout, default.max_connections) == (
        4 * 1024 * 1024,
        10.0,
        1000,
    )
    env = {"FPE_MAX_BODY_BYTES": "65536", "FPE_HEADER_TIMEOUT": "2.5", "FPE_MAX_CONNECTIONS": "50"}
    got = Settings.from_env(env)
    assert (got.max_body_bytes, got.header_timeout, got.max_connections) == (65536, 2.5, 50)
    for name, bad in (
        ("FPE_MAX_BODY_BYTES", "4MB"),
        ("FPE_MAX_BODY_BYTES", "10"),
        ("FPE_HEADER_TIMEOUT", "0"),
        ("FPE_HEADER_TIMEOUT", "soon"),
        ("FPE_MAX_CONNECTIONS", "-1"),
    ):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({name: bad})
    # the cap leaves room under the open-file limit for the database, Redis and files
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    huge = connection_limits(dataclasses.replace(default, max_connections=10**9))
    unlimited = soft == resource.RLIM_INFINITY
    assert huge.max_connections == (10**9 if unlimited else max(soft - FD_RESERVE, 2))
    assert connection_limits(got).max_connections == 50


def _chunks(data: bytes, size: int = 1000):
    """``data`` as a streamed body: httpx sends it chunked, with no Content-Length."""

    async def stream():
        for i in range(0, len(data), size):
            yield data[i : i + size]

    return stream()


async def test_a_body_over_the_limit_is_refused_on_every_route(make_api):
    _, client = await make_api("sqlite", max_body_bytes=SMALL_LIMIT)
    big = b"x" * (SMALL_LIMIT + 1)
    reading = [
        ("/graphql", "application/json"),
        ("/api/predictions", "text/csv"),
        ("/api/predictions", "application/json"),
        ("/api/model/train", "application/json"),
    ]
    for path, media in [*reading, ("/no/such/route", "application/json")]:
        headers = {"content-type": media}
        answers = [await client.post(path, content=big, headers=headers)]  # Content-Length
        if (path, media) in reading:  # streamed: refused once the route has read the limit
            answers.append(await client.post(path, content=_chunks(big), headers=headers))
        for response in answers:
            assert response.status_code == 413, (path, response.text)
            assert response.headers["connection"] == "close"
            assert "limit of 4,096 bytes (FPE_MAX_BODY_BYTES)" in response.text
            shape = response.json()
            errors = shape.get("errors") or [{"extensions": shape}]  # GraphQL's or REST's
            assert errors[0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    query = {"query": "{ leagues { code } }"}
    assert (await client.post("/graphql", json=query)).status_code == 200  # under the limit
    body = json.dumps(query).encode()
    headers = {"content-type": "application/json"}
    streamed = await client.post("/graphql", content=_chunks(body, 7), headers=headers)
    assert streamed.status_code == 200 and streamed.json()["data"]["leagues"]


async def _training_runs(app) -> int:
    import sqlalchemy as sa

    from server.store.tables import TrainingRun

    async with app.state.services.engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(TrainingRun.__table__)
        return (await conn.execute(query)).scalar_one()


async def test_a_cross_site_write_starts_no_run(make_api):
    """No token (the default): a foreign page's POST, as text/plain (no preflight), starts
    no run and activates nothing; the legacy page's origin, the server's own and curl
    (no Origin) still can."""
    app, client = await make_api("sqlite")
    body = json.dumps({"modelType": "poisson", "leagues": ["E0"], "seasons": ["2223", "2324"]})
    evil = "https://evil.example"
    for headers, status in (
        ({"origin": evil, "content-type": "text/plain"}, 403),
        ({"origin": evil, "content-type": "application/json"}, 403),
        ({"origin": "null", "content-type": "text/plain"}, 403),  # sandboxed frames, file://
        ({"origin": "http://localhost.evil.example"}, 403),
        ({"content-type": "text/plain;charset=UTF-8"}, 415),  # no Origin: refused by its type
        ({"content-type": "application/x-www-form-urlencoded"}, 415),
        ({"content-type": "multipart/form-data; boundary=x"}, 415),
        ({}, 415),  # a body without any Content-Type (fetch with a Blob)
    ):
        response = await client.post("/api/model/train", content=body, headers=headers)
        assert response.status_code == status, (headers, response.text)
        code = {403: "FORBIDDEN", 415: "UNSUPPORTED_MEDIA_TYPE"}[status]
        assert response.json()["code"] == code
    for path in ("/api/model/versions/1/activate", "/api/tasks/none/cancel"):
        response = await client.post(path, headers={"origin": evil, "content-type": "text/plain"})
        assert response.status_code == 403 and "FPE_CORS_ORIGINS" in response.json()["detail"]
    assert await _training_runs(app) == 0
    # allowed: the legacy page's origin, the server's own and no Origin, with JSON; and a
    # write without a body or Content-Type (curl -X POST)
    for origin in ("http://localhost:8080", "http://localhost", None):
        headers = {"content-type": "application/json; charset=utf-8"}
        if origin is not None:
            headers["origin"] = origin
        response = await client.post("/api/tasks/none/cancel", headers=headers)
        assert response.status_code == 404, response.text  # past the checks: no such task
    assert (await client.post("/api/tasks/none/cancel")).status_code == 404
    json_headers = {"origin": "http://localhost:8080", "content-type": "application/json"}
    started = await client.post("/api/model/train", content=body, headers=json_headers)
    assert started.status_code == 202, started.text
    assert await _training_runs(app) == 1
    await app.state.services.queue.join()


async def test_cors_allows_put_and_delete_for_the_configured_origins(make_api):
    _, client = await make_api("sqlite")
    for method in ("GET", "POST", "PUT", "DELETE"):
        preflight = await client.options(
            "/api/model/versions",
            headers={"origin": "http://localhost:3000", "access-control-request-method": method},
        )
        assert preflight.status_code == 200, preflight.text
        assert method in preflight.headers["access-control-allow-methods"]
    foreign = await client.options(
        "/api/model/versions",
        headers={"origin": "https://evil.example", "access-control-request-method": "PUT"},
    )
    assert foreign.status_code == 400 and "access-control-allow-origin" not in foreign.headers


# the same on a live server: what only a real socket shows


@pytest.fixture(scope="module")
async def guarded(tmp_path_factory):
    """``fpe serve`` embedded (SQLite), no token, the default body limit, a 1 s header
    timeout and at most 8 connections; its log lines are collected as they come."""
    env = {
        **os.environ,
        "FPE_DATA_DIR": str(tmp_path_factory.mktemp("guarded")),
        "FPE_HEADER_TIMEOUT": "1",
        "FPE_MAX_CONNECTIONS": "8",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "API_TOKEN", "ALLOWED_HOSTS", "MAX_BODY_BYTES"):
        env.pop(f"FPE_{name}", None)
    server, base = await start_server(env)
    log: list[str] = []
    reader = threading.Thread(target=lambda: log.extend(map(bytes.decode, server.stderr)))
    reader.start()
    try:
        yield {"base": base, "port": int(base.rsplit(":", 1)[1]), "pid": server.pid, "log": log}
    finally:
        server.terminate()
        reader.join(timeout=20)  # the pipe ends with the process
        stop_process(server)


async def _until_closed(reader: asyncio.StreamReader, limit: float = 30.0) -> bytes:
    """Everything the server sends until it closes the connection; fails after ``limit``
    seconds if it does not."""
    data = b""
    try:
        async with asyncio.timeout(limit):
            while chunk := await reader.read(65536):
                data += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for {limit:.0f} s")
    return data


@contextlib.asynccontextmanager
async def _raw(port: int):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_a_connection_whose_headers_never_complete_is_closed(guarded):
    # a partial request line and one header, then nothing
    async with _raw(guarded["port"]) as (reader, writer):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        answer = await _until_closed(reader)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    # one more header line every 0.2 s buys no time: closed all the same
    async with _raw(guarded["port"]) as (reader, writer):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")

        async def trickle() -> None:
            with contextlib.suppress(ConnectionError):
                for i in range(150):  # 30 s
                    await asyncio.sleep(0.2)
                    writer.write(b"X-Slow-%d: 1\r\n" % i)
                    await writer.drain()

        trickling = asyncio.create_task(trickle())
        answer = await _until_closed(reader)
        trickling.cancel()
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408 "), answer
    # a connection that sends nothing at all is closed without an answer
    async with _raw(guarded["port"]) as (reader, _):
        assert await _until_closed(reader) == b""
    assert any("FPE_HEADER_TIMEOUT" in line for line in guarded["log"])


async def test_the_header_timeout_spares_complete_requests_and_websockets(guarded):
    async with _raw(guarded["port"]) as (reader, writer):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        assert json.loads(await reader.readexactly(length)) == {"status": "ok"}
        # the next request on the same connection begins, its headers never complete
        writer.write(b"GET /healthz HTTP/1.1\r\n")
        assert (await _until_closed(reader)).startswith(b"HTTP/1.1 408 ")
    # an upgraded WebSocket outlives the header timeout
    uri = f"ws://127.0.0.1:{guarded['port']}/graphql"
    async with connect(uri, subprotocols=["graphql-transport-ws"]) as ws:
        await asyncio.sleep(2.5)  # 2.5 header timeouts
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"


async def test_past_the_connection_cap_new_connections_get_503_and_a_log_line(guarded):
    uri = f"ws://127.0.0.1:{guarded['port']}/graphql"
    held = 0
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(8):  # WebSockets hold their connections: fill the cap of 8
            try:
                await stack.enter_async_context(connect(uri, subprotocols=["graphql-transport-ws"]))
            except InvalidStatus as refused:  # a connection of an earlier test not yet gone
                assert refused.response.status_code == 503
                break
            held += 1
        async with _raw(guarded["port"]) as (reader, writer):
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            answer = await _until_closed(reader)
        assert answer.startswith(b"HTTP/1.1 503 ") and b"too many open connections" in answer
    assert 1 <= held <= 8
    for _ in range(100):  # the line may trail the answer a little
        if any("connection limit reached" in line for line in guarded["log"]):
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail(f"no log line says the limit was reached: {guarded['log'][-5:]}")
    async with httpx.AsyncClient(base_url=guarded["base"]) as client:
        for _ in range(100):  # the held connections close: served again
            if (await client.get("/healthz")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the server did not serve again after the connections closed")


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (``VmHWM``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


async def _metric(base: str, name: str) -> dict[str, float]:
    """Every series of one metric: ``{labels: value}``."""
    async with httpx.AsyncClient(base_url=base) as client:
        text = (await client.get("/metrics")).text
    return {
        line.split("{", 1)[1].rsplit("}", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{")
    }


async def _refused(base: str) -> float:
    series = await _metric(base, "fpe_http_requests_total")
    return sum(v for labels, v in series.items() if 'status="413"' in labels)


async def test_a_200_mb_body_is_refused_without_being_read(guarded):
    """Declared (Content-Length) or streamed (chunked), 200 MB is refused at the default
    4 MiB limit: the server stops reading, so the sender cannot get most of it out."""
    mib, total = 1024 * 1024, 200 * 1024 * 1024
    peak, refused = _peak_rss_mb(guarded["pid"]), await _refused(guarded["base"])
    head = "POST {} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {}\r\n{}\r\n\r\n"
    async with _raw(guarded["port"]) as (reader, writer):
        writer.write(
            head.format("/graphql", "application/json", f"Content-Length: {total}").encode()
        )
        answer = await _until_closed(reader)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"PAYLOAD_TOO_LARGE" in answer, answer[:300]
    sent = {}
    for path, media in (("/graphql", "application/json"), ("/api/predictions", "text/csv")):
        async with _raw(guarded["port"]) as (reader, writer):
            writer.write(head.format(path, media, "Transfer-Encoding: chunked").encode())
            sent[path] = 0
            with contextlib.suppress(ConnectionError):
                while sent[path] < total:
                    writer.write(b"%x\r\n" % mib + b" " * mib + b"\r\n")
                    await writer.drain()
                    sent[path] += mib
            await _until_closed(reader)
    grown = _peak_rss_mb(guarded["pid"]) - peak
    print(
        f"\n200 MB bodies: sent before the server stopped reading {sent}; peak RSS +{grown:.1f} MB"
    )
    assert all(n < total // 4 for n in sent.values()), sent
    assert await _refused(guarded["base"]) == refused + 3  # each answered 413
    assert grown < 100


async def test_junk_websocket_paths_add_no_metric_series(guarded):
    import uuid

    port = guarded["port"]

    async def junk(path: str, host: str = "127.0.0.1") -> int:
        uri = f"ws://{host}:{port}{path}"
        with pytest.raises(InvalidStatus) as refused:
            async with connect(uri, host="127.0.0.1", port=port):
                pass
        return refused.value.response.status_code

    assert await junk("/warm-up") == 403 and await junk("/graphql", "evil.example") == 400
    before = await _metric(guarded["base"], "fpe_websocket_connections_total")
    for _ in range(50):
        assert await junk(f"/{uuid.uuid4().hex}/{uuid.uuid4().hex[:6]}?x=1") == 403
    for _ in range(5):  # a bad Host: refused before routing
        assert await junk(f"/{uuid.uuid4().hex}", "evil.example") == 400
    after = await _metric(guarded["base"], "fpe_websocket_connections_total")
    assert set(after) == set(before), set(after) ^ set(before)
    assert after['route="unmatched"'] == before['route="unmatched"'] + 55


# --- issue 18: queries that cost more to read than to answer ---------------------------------


@pytest.mark.parametrize("levels", [22, 40])
async def test_exponential_fragments_are_refused_before_validation(one_api, validations, levels):
    """Without the shape check, the depth and alias rules expand every spread: 26 s at 22
    levels, and 40 levels would never finish."""
    _, client = one_api
    body = await gql(client, fragment_bomb(levels))
    assert body["data"] is None and _code(body) == "QUERY_TOO_COMPLEX"
    assert validations == []  # refused before any validation rule ran


async def test_fragments_fanning_out_into_distinct_fields_are_refused(one_api, validations):
    """No field repeated at one place, but 2**12 copies of the last fragment."""
    _, client = one_api
    fragments = " ".join(
        f"fragment F{i} on ModelVersion {{ trainingRuns {{ model {{ ...F{i + 1} }} }} "
        f"again: trainingRuns {{ model {{ ...F{i + 1} }} }} }}"
        for i in range(12)
    )
    query = f"{{ models(limit: 1) {{ ...F0 }} }} {fragments} fragment F12 on ModelVersion {{ id }}"
    body = await gql(client, query)
    assert _code(body) == "QUERY_TOO_COMPLEX" and validations == []
    assert body["errors"][0]["extensions"]["maxSelections"] == MAX_SELECTIONS


async def test_a_deep_chain_of_fragments_is_refused_with_a_code(one_api, validations):
    """240 fragments each spreading the next: the validation rules ran out of recursion
    ("Validation aborted.", no code)."""
    _, client = one_api
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(240))
    body = await gql(client, f"{{ ...F0 }} {chain} fragment F240 on Query {{ __typename }}")
    assert _code(body) == "QUERY_TOO_COMPLEX" and validations == []
    assert body["errors"][0]["extensions"]["maxFragmentNesting"] == MAX_FRAGMENT_NESTING


async def test_repeated_fields_are_refused_before_validation(one_api, validations):
    """495 copies of a field: 245,000 pairs for graphql-core's overlapping-fields rule."""
    _, client = one_api
    bodies = await asyncio.gather(*(gql(client, REPEATED) for _ in range(8)))
    for body in bodies:
        assert body["data"] is None and _code(body) == "QUERY_TOO_COMPLEX"
        assert body["errors"][0]["extensions"]["path"] == "leagues"
    assert validations == []
    merged = await gql(client, "{ leagues { code } leagues { name } }")  # asked twice: fine
    assert merged["data"]["leagues"] and len(validations) == 1


async def test_a_long_query_is_parsed_and_validated_off_the_event_loop(
    one_api, validations, monkeypatch
):
    import schema.document

    _, client = one_api
    parse = schema.document.parse
    started, release, released = threading.Event(), threading.Event(), []

    def slow_parse(*args, **kwargs):
        started.set()
        released.append(release.wait(10))  # only /healthz, answered meanwhile, releases it
        return parse(*args, **kwargs)

    monkeypatch.setattr(schema.document, "parse", slow_parse)
    long_query = "query " + "Q" * INLINE_CHARS + " { leagues { code } }"
    pending = asyncio.create_task(gql(client, long_query))
    assert await asyncio.to_thread(started.wait, 10)
    assert (await client.get("/healthz")).status_code == 200
    release.set()
    assert (await pending)["data"]["leagues"] and released == [True]
    assert validations and threading.main_thread() not in validations
    await gql(client, "{ leagues { name } }")  # short: worked on in place
    assert validations[-1] is threading.main_thread()


async def test_a_query_over_the_length_limit_is_refused_unparsed(make_api, monkeypatch):
    import schema.document

    _, client = await make_api("sqlite", api_token=TOKEN, max_query_length=1_000)
    parsed = []
    monkeypatch.setattr(schema.document, "parse", lambda *a, **k: parsed.append(a))
    name = "A" * 1_000  # a long operation name, as in the attack (10 MB there)
    for operation in (None, name):
        response = await client.post(
            "/graphql",
            json={"query": f"query {name} {{ leagues {{ code }} }}", "operationName": operation},
        )
        body = _clean(response)
        assert body["data"] is None and _code(body) == "QUERY_TOO_LARGE"
        assert body["errors"][0]["extensions"]["maxLength"] == 1_000
    assert parsed == []
    monkeypatch.undo()
    assert (await gql(client, f"query {'A' * 900} {{ leagues {{ code }} }}"))["data"]["leagues"]


def test_the_document_cache_is_bounded_in_entries_and_characters():
    cache = DocumentCache(max_entries=3, max_chars=1_000)
    entry = Entry(document=None)  # type: ignore[arg-type]
    for text in ("a" * 90, "b" * 90, "c" * 90):
        cache.put(text, entry)
    assert cache.get("a" * 90) is entry  # now the most recently used
    cache.put("d" * 90, entry)  # a fourth entry: the least recently used goes
    assert cache.get("b" * 90) is None and len(cache) == 3 and cache.chars == 270
    cache.put("e" * 101, entry)  # over a tenth of the characters: never kept
    assert cache.get("e" * 101) is None
    for i in range(20):  # characters bound the cache before entries do
        cache.max_entries = 100
        cache.put(f"{i:02}" + "f" * 98, entry)
    assert cache.chars <= 1_000 and len(cache) == 10


async def test_distinct_long_queries_do_not_grow_the_cache():
    """The attack: distinct long texts (30 of 10 MB kept 614 MB). Each is answered; the
    cache keeps at most ``CACHE_CHARS`` characters of them."""
    schema = build_schema()
    for i in range(30):
        result = await schema.execute(f"query Q{i}{'x' * 20_000} {{ __typename }}")
        assert result.errors is None and result.data == {"__typename": "Query"}
    assert 0 < schema.documents.chars <= CACHE_CHARS and len(schema.documents) < 30
    result = await schema.execute("query " + "x" * 100_000 + " { __typename }")
    assert result.errors and result.errors[0].extensions["code"] == "QUERY_TOO_LARGE"
    assert schema.documents.chars <= CACHE_CHARS


async def test_predictions_are_counted_across_aliases_fragments_and_literals(one_api, monkeypatch):
    import schema.resolvers

    _, client = one_api
    calls = []

    async def predict_fixtures(engine, fixtures, version):
        calls.append(len(fixtures))
        return []

    monkeypatch.setattr(schema.resolvers.predictions, "predict_fixtures", predict_fixtures)
    many = {"f": [{"home": "Arsenal", "away": "Chelsea"}] * 500}
    aliases = " ".join(f"a{i}: predictions(fixtures: $f) {{ homeWin }}" for i in range(20))
    body = await gql(client, f"query($f: [FixtureInput!]!) {{ {aliases} }}", many)
    assert _code(body) == "TOO_MANY_PREDICTIONS"  # within the cost budget: 20,000 exactly
    assert body["errors"][0]["extensions"]["predictions"] == 20 * 500
    literal = "[" + ", ".join(['{home: "Arsenal", away: "Chelsea"}'] * 60) + "]"
    mixed = (
        "query($f: [FixtureInput!]!) { a: predictions(fixtures: $f) { draw } "
        f"b: predictions(fixtures: {literal}) {{ draw }} }}"
    )
    body = await gql(client, mixed, {"f": many["f"][:450]})
    assert body["errors"][0]["extensions"]["predictions"] == 450 + 60
    plus_one = (
        "query($f: [FixtureInput!]!) { predictions(fixtures: $f) { draw } "
        '... on Query { predict(home: "Arsenal", away: "Chelsea") { draw } } }'
    )
    body = await gql(client, plus_one, many)
    assert body["errors"][0]["extensions"]["predictions"] == MAX_PREDICTIONS + 1
    assert calls == []  # every refusal came before execution
    # one field spread twice runs once: 500 predictions, allowed
    twice = (
        "query($f: [FixtureInput!]!) { ...P ...P } "
        "fragment P on Query { predictions(fixtures: $f) { draw } }"
    )
    assert (await gql(client, twice, many))["data"] == {"predictions": []}
    assert calls == [500]


# --- issue 18 on a live server -----------------------------------------------------------------


async def test_the_fragment_bomb_leaves_a_live_server_responsive(live):
    """Four 40-level bombs at once (each would never finish with the old rules): refused,
    and /healthz is answered meanwhile."""
    async with httpx.AsyncClient(base_url=live["base"], timeout=30) as client:
        bombs = [asyncio.create_task(gql(client, fragment_bomb(40))) for _ in range(4)]
        assert (await client.get("/healthz")).status_code == 200
        for bomb in bombs:
            assert _code(await bomb) == "QUERY_TOO_COMPLEX"


async def test_refusals_before_parsing_are_error_messages_over_the_websocket(live):
    uri = f"ws://127.0.0.1:{live['port']}/graphql"
    async with connect(uri, subprotocols=["graphql-transport-ws"]) as ws:
        init = {"authorization": f"Bearer {TOKEN}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        too_long = "query " + "A" * 100_000 + " { leagues { code } }"
        for i, (query, code) in enumerate(
            ((too_long, "QUERY_TOO_LARGE"), (REPEATED, "QUERY_TOO_COMPLEX"))
        ):
            payload = {"query": query}
            await ws.send(json.dumps({"id": str(i), "type": "subscribe", "payload": payload}))
            message = json.loads(await ws.recv())
            assert message["type"] == "error" and message["id"] == str(i), message
            assert message["payload"][0]["extensions"]["code"] == code
        payload = {"query": "{ leagues { code } }"}
        await ws.send(json.dumps({"id": "ok", "type": "subscribe", "payload": payload}))
        assert json.loads(await ws.recv())["type"] == "next"  # the connection still serves
        # a syntax error closes the connection with 4400, as the protocol says (and as
        # Strawberry's own parsing did): the placeholder document keeps that
        payload = {"query": "{ leagues {"}
        await ws.send(json.dumps({"id": "bad", "type": "subscribe", "payload": payload}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await ws.recv()
        assert closed.value.rcvd.code == 4400 and "Syntax Error" in closed.value.rcvd.reason
