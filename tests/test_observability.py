"""/healthz, /readyz, /metrics and the JSON log format."""

from __future__ import annotations

import json
import logging

from server.observability import JsonFormatter


async def test_health_and_readiness(api):
    _, client = api
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok" and ready.json()["status"] == "ready"


async def test_readiness_fails_when_the_database_is_gone(api):
    from server.db import create_engine

    app, client = api
    services = app.state.services
    healthy, services.engine = (
        services.engine,
        create_engine(
            "postgresql+asyncpg://nobody@127.0.0.1:1/none"  # nothing listens on port 1
        ),
    )
    try:
        ready = await client.get("/readyz")
    finally:
        await services.engine.dispose()
        services.engine = healthy
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert ready.json()["database"].startswith("error")
    assert (await client.get("/healthz")).status_code == 200  # the process is still up


async def test_metrics_count_requests_by_route_template(api):
    _, client = api
    await client.get("/api/tasks/one")
    await client.get("/api/tasks/two")
    await client.post("/graphql", json={"query": "{ leagues { code } }"})
    text = (await client.get("/metrics")).text
    assert (
        'fpe_http_requests_total{method="GET",route="/api/tasks/{task_id}",status="404"} 2.0'
        in text
    )
    assert 'route="/graphql",status="200"' in text
    assert "fpe_http_request_seconds_bucket" in text


def test_json_log_lines():
    record = logging.makeLogRecord(
        {"name": "fpe.test", "levelname": "INFO", "msg": "hello %s", "args": ("x",), "status": 200}
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello x" and line["status"] == 200 and line["level"] == "info"
