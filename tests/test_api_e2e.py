"""End to end on a live uvicorn, a separate arq worker process, PostgreSQL and Redis:
GraphQL mutations and subscriptions, the REST shim, late subscribers, cancellation."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import (
    _make_template,
    create_database,
    delete_redis_keys,
    drop_databases,
    start_server,
    stop_process,
)

TOKEN = "e2e-token"
FRIEND = "http://legacy.example:8080"  # in FPE_ALLOWED_ORIGINS
TASK_STATUS = {
    "taskId",
    "status",
    "progress",
    "phase",
    "message",
    "result",
    "error",
    "startedAt",
    "completedAt",
}
E0_RECENT = {"leagues": ["E0"], "seasons": ["2122", "2223", "2324", "2425"]}
SLOW = {"leagues": ["E0", "E1"], "hyperparameters": {"refitDays": 1}}
PROGRESS = """subscription($taskId: String!, $after: String!) {
  trainingProgress(taskId: $taskId, after: $after) {
    eventId type status phase progress message version error } }"""


@pytest.fixture(scope="module")
async def live(_seed_templates, postgres_url, redis_url):
    template = await _make_template("postgresql", _seed_templates, postgres_url)
    db_url = await create_database(postgres_url, template=template)
    prefix = f"fpe-test-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "FPE_DATABASE_URL": db_url,
        "FPE_REDIS_URL": redis_url,
        "FPE_REDIS_PREFIX": prefix,
        "FPE_API_TOKEN": TOKEN,
        "FPE_HEARTBEAT_SECONDS": "0.2",
        "FPE_ALLOWED_ORIGINS": FRIEND,
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = None
    try:
        server, base = await start_server(env)
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            yield {
                "base": base,
                "ws": base.replace("http://", "ws://") + "/graphql",
                "client": client,
            }
    finally:
        for proc in (server, worker):
            if proc is not None:
                stop_process(proc)
        await drop_databases([db_url])
        await delete_redis_keys(redis_url, prefix)


async def gql(live, query: str, variables: dict | None = None, token: str | None = TOKEN):
    headers = {"authorization": f"Bearer {token}"} if token else {}
    r = await live["client"].post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert r.status_code == 200, r.text
    return r.json()


async def subscribe(
    live,
    query: str,
    variables: dict[str, Any],
    token: str | None = TOKEN,
    origin: str | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """A minimal graphql-transport-ws client: yields each ``next`` payload's data."""
    params = {"authorization": f"Bearer {token}"} if token else {}
    async with connect(live["ws"], subprotocols=["graphql-transport-ws"], origin=origin) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": params}))
        ack = json.loads(await ws.recv())
        assert ack["type"] == "connection_ack", ack
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables},
                }
            )
        )
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 120))
            if message["type"] == "next":
                assert "errors" not in message["payload"], message
                yield message["payload"]["data"]
            elif message["type"] == "complete":
                return
            elif message["type"] == "error":
                raise AssertionError(message)


async def start(live, model_type: str, selection: dict) -> str:
    out = await gql(
        live,
        """mutation($input: TrainingInput!) {
        startTraining(input: $input) { taskId status } }""",
        {"input": {"modelType": model_type, **selection}},
    )
    assert "errors" not in out, out
    return out["data"]["startTraining"]["taskId"]


async def test_mutation_then_subscription_to_completion_then_query_and_predict(live):
    task_id = await start(live, "FULL", E0_RECENT)
    events = [
        e["trainingProgress"]
        async for e in subscribe(live, PROGRESS, {"taskId": task_id, "after": "0"})
    ]
    assert events[0]["type"] == "state" and events[0]["status"] in ("queued", "training")
    assert events[-1]["status"] == "completed" and events[-1]["version"].startswith("full-")
    assert any(e["type"] == "progress" for e in events)
    data = (
        await gql(
            live,
            """{ activeModel { version status }
        predict(home: "Arsenal", away: "Chelsea") { homeWin draw awayWin modelVersion } }""",
            token=None,
        )
    )["data"]
    assert data["activeModel"]["version"] == events[-1]["version"]
    assert data["predict"]["modelVersion"] == events[-1]["version"]
    # a finished run: its final state, then complete
    again = [
        e["trainingProgress"]
        async for e in subscribe(live, PROGRESS, {"taskId": task_id, "after": "0"})
    ]
    assert len(again) == 1 and again[0]["status"] == "completed"


async def test_rest_flow_and_shapes(live):
    client = live["client"]
    auth = {"authorization": f"Bearer {TOKEN}"}
    r = await client.post(
        "/api/model/train",
        headers=auth,
        json={
            "modelType": "poisson",
            "leagues": ["E0"],
            "seasons": E0_RECENT["seasons"],
            "dateFrom": None,
            "dateTo": None,
        },
    )
    assert r.status_code == 202 and r.json()["success"] is True
    task_id = r.json()["data"]["taskId"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        task = (await client.get(f"/api/tasks/{task_id}")).json()["data"]
        assert task["status"] in ("queued", "running", "completed"), task
        if task["status"] == "completed":
            break
        await asyncio.sleep(0.2)
    assert set(task) == TASK_STATUS
    assert task["result"]["version"].startswith("poisson-") and task["progress"] == 100.0
    history = (await client.get("/api/model/training-history?limit=50")).json()["data"]
    mine = [h for h in history if h["modelId"] == task["result"]["modelId"]]
    assert mine and mine[0]["trainingStatus"] == "completed" and mine[0]["status"] == "active"


async def test_a_late_subscriber_misses_nothing(live):
    task_id = await start(live, "FULL", SLOW)
    early: list[dict] = []
    late: list[dict] = []
    midway = asyncio.Event()

    async def first() -> None:
        async for e in subscribe(live, PROGRESS, {"taskId": task_id, "after": "0"}):
            early.append(e["trainingProgress"])
            if (e["trainingProgress"]["progress"] or 0) > 10:
                midway.set()

    async def second() -> None:
        await midway.wait()
        async for e in subscribe(live, PROGRESS, {"taskId": task_id, "after": "0"}):
            late.append(e["trainingProgress"])

    await asyncio.wait_for(asyncio.gather(first(), second()), 180)
    early_ids = [e["eventId"] for e in early if e["eventId"]]
    late_ids = [e["eventId"] for e in late if e["eventId"]]
    assert early[-1]["status"] == late[-1]["status"] == "completed"
    assert late_ids == early_ids  # the late one got the replay of everything it missed


async def test_cancel_over_graphql_and_over_rest(live):
    for via in ("graphql", "rest"):
        task_id = await start(live, "FULL", SLOW)
        async for e in subscribe(live, PROGRESS, {"taskId": task_id, "after": "0"}):
            if (e["trainingProgress"]["progress"] or 0) > 3:
                break
        if via == "graphql":
            out = await gql(
                live,
                "mutation($t: String!) { cancelTraining(taskId: $t) { status } }",
                {"t": task_id},
            )
            assert "errors" not in out
        else:
            r = await live["client"].post(
                f"/api/tasks/{task_id}/cancel", headers={"authorization": f"Bearer {TOKEN}"}
            )
            assert r.status_code == 200
        final = [
            e["trainingProgress"]
            async for e in subscribe(live, PROGRESS, {"taskId": task_id, "after": "0"})
        ][-1]
        assert final["status"] == "cancelled", via
        task = (await live["client"].get(f"/api/tasks/{task_id}")).json()["data"]
        assert task["status"] == "cancelled" and task["result"] is None


async def test_websocket_needs_the_token_and_a_friendly_origin(live):
    # refused at connection_init (4403), not by a subscription error after an ack
    with pytest.raises(ConnectionClosed) as closed:
        async for _ in subscribe(live, PROGRESS, {"taskId": "x", "after": "0"}, token=None):
            pass
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    with pytest.raises(InvalidStatus):
        async for _ in subscribe(
            live, PROGRESS, {"taskId": "x", "after": "0"}, origin="https://evil.example"
        ):
            pass


async def test_an_origin_in_fpe_allowed_origins_may_open_a_websocket(live):
    """Strawberry checks the Origin too: the allowed origin must pass both checks."""
    async with connect(live["ws"], subprotocols=["graphql-transport-ws"], origin=FRIEND) as ws:
        auth = {"authorization": f"Bearer {TOKEN}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": auth}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(live["ws"], subprotocols=["graphql-transport-ws"], origin=FRIEND + "1"):
            pass
    assert refused.value.response.status_code == 403
