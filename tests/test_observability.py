"""/healthz, /readyz, /metrics and the log formats (JSON for machines, text for people)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import pty
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from server.api.observability import JsonFormatter, TextFormatter, json_logs
from server.base.config import ConfigError, Settings


async def test_health_and_readiness(api):
    _, client = api
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok" and ready.json()["status"] == "ready"


async def test_readiness_fails_when_the_database_is_gone(api):
    from server.store.db import create_engine

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


# --- fpe serve with several processes ----------------------------------------------------------

HEALTHZ = 'fpe_http_requests_total{method="GET",route="/healthz",status="200"}'


def _counter(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def _serve(env: dict[str, str], log: Path, *args: str):
    """``fpe serve`` in a subprocess logging to ``log``; (process, base URL) once ready."""
    import subprocess
    import sys

    from tests.conftest import free_port, stop_process, wait_ready

    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(port), *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    base = f"http://127.0.0.1:{port}"
    # two processes importing on a busy machine can take a while
    if await wait_ready(proc, base, seconds=120):
        return proc, base
    stop_process(proc)
    raise RuntimeError(f"fpe serve did not start: {log.read_text()[-2000:]}")


@pytest.mark.slow
async def test_two_server_processes_log_json_and_add_up_their_metrics(
    postgres_url, redis_url, redis_prefix, tmp_path
):
    """The compose setting: counters jumped backwards between scrapes (each process
    answered with its own numbers), and the processes wrote no JSON and no access lines."""
    from server.store import migrations
    from server.store.db import create_engine
    from tests.conftest import create_database, drop_databases, stop_process

    db_url = await create_database(postgres_url)
    engine = create_engine(db_url)
    await migrations.upgrade(engine)
    await engine.dispose()
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
        "FPE_DATABASE_URL": db_url,
        "FPE_REDIS_URL": redis_url,
        "FPE_REDIS_PREFIX": redis_prefix,
        "FPE_LOG_FORMAT": "json",
        "TMPDIR": str(temp),
    }
    log = tmp_path / "serve.log"
    proc, base = await _serve(env, log, "--workers", "2", "--log-level", "info")
    try:
        assert len(list(temp.glob("fpe-metrics-*"))) == 1  # made by fpe serve
        sent, seen = 0, []
        # a new connection per request, so that both processes get some
        async with httpx.AsyncClient(
            base_url=base, limits=httpx.Limits(max_keepalive_connections=0)
        ) as client:
            for _ in range(40):
                statuses = await asyncio.gather(*(client.get("/healthz") for _ in range(10)))
                assert all(r.status_code == 200 for r in statuses)
                sent += len(statuses)
                seen.append(_counter((await client.get("/metrics")).text, HEALTHZ))
                if sent >= 100 and len(_access_pids(log, "/healthz")) == 2:
                    break
        assert seen == sorted(seen), seen  # never backwards
        assert seen[-1] == sent  # every process's requests, added up
        assert len(_access_pids(log, "/healthz")) == 2  # both processes served some
        # a process that dies keeps its counts in the total; uvicorn starts a new one
        os.kill(_access_pids(log, "/healthz").pop(), signal.SIGKILL)
        async with httpx.AsyncClient(base_url=base) as client:
            for _ in range(1200):
                if len(_started_pids(log)) == 3:
                    break
                await asyncio.sleep(0.1)
            assert len(_started_pids(log)) == 3
            for _ in range(10):
                assert (await client.get("/healthz")).status_code == 200
                sent += 1
                seen.append(_counter((await client.get("/metrics")).text, HEALTHZ))
        assert seen == sorted(seen), seen
        assert seen[-1] == sent
    finally:
        stop_process(proc)
        await drop_databases([db_url])
    assert list(temp.glob("fpe-metrics-*")) == []  # removed on exit
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is JSON
    assert all(e["ts"] and e["level"] and e["pid"] for e in entries)
    started = _started_pids(log)
    assert len(started) == 3  # uvicorn's own lines, in every process, are JSON too
    access = [e for e in entries if e["logger"] == "fpe.access"]
    assert {e["pid"] for e in access} <= started
    assert all({"method", "path", "status", "duration_ms"} <= set(e) for e in access)
    assert not any(e["logger"] == "uvicorn.access" for e in entries)  # one access line each


def _started_pids(log: Path) -> set[int]:
    pids = set()
    for line in log.read_text().splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if entry.get("message", "").startswith("Started server process"):
                pids.add(entry["pid"])
    return pids


def _access_pids(log: Path, path: str) -> set[int]:
    pids = set()
    for line in log.read_text().splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if entry.get("logger") == "fpe.access" and entry.get("path") == path:
                pids.add(entry["pid"])
    return pids


@pytest.mark.slow
async def test_text_access_lines_show_method_path_status_and_duration(tmp_path):
    from tests.conftest import stop_process

    env = {
        **os.environ,
        "FPE_DATA_DIR": str(tmp_path / "data"),
        "FPE_LOG_FORMAT": "text",
    }
    env.pop("FPE_DATABASE_URL", None)
    env.pop("FPE_REDIS_URL", None)
    log = tmp_path / "serve.log"
    proc, base = await _serve(env, log, "--log-level", "info")
    try:
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("/api/tasks/nope")).status_code == 404
    finally:
        stop_process(proc)
    text = log.read_text()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    access = rf"^{stamp} INFO fpe\.access: GET /api/tasks/nope 404 \d+\.\d\d ms$"
    assert re.search(access, text, re.M)
    assert re.search(rf"^{stamp} INFO uvicorn\.error: Application startup complete", text, re.M)


# --- log format: text for people, JSON for machines ----------------------------------------


STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"


def test_text_log_lines_show_the_extra_fields_once():
    record = logging.makeLogRecord(
        {"name": "fpe.runs", "levelname": "WARNING", "msg": "run %s failed", "args": (3,)}
    )
    record.__dict__.update(task_id="abc", phase="fit")
    line = TextFormatter().format(record)
    assert re.fullmatch(STAMP + r" WARNING fpe\.runs: run 3 failed  task_id=abc phase=fit", line)
    access = logging.makeLogRecord(
        {
            "name": "fpe.access",
            "levelname": "INFO",
            "msg": "%s %s %d %.2f ms",
            "args": ("GET", "/healthz", 200, 1.5),
            "method": "GET",
            "path": "/healthz",
            "status": 200,
            "duration_ms": 1.5,
        }
    )
    assert TextFormatter().format(access).endswith("fpe.access: GET /healthz 200 1.50 ms")
    assert "{" not in line


def test_log_format_setting():
    assert Settings.from_env({"FPE_LOG_FORMAT": "json"}).log_json is True
    assert Settings.from_env({"FPE_LOG_FORMAT": "TEXT"}).log_json is False
    assert Settings.from_env({}).log_json is None
    with pytest.raises(ConfigError, match="FPE_LOG_FORMAT='xml' must be json or text"):
        Settings.from_env({"FPE_LOG_FORMAT": "xml"})
    assert json_logs(None, io.StringIO()) is True  # a file or a pipe
    assert json_logs(False, io.StringIO()) is False and json_logs(True, sys.stdout) is True


LOG_ONE_LINE = (
    "from server.api.observability import configure_logging; import logging, os;"
    "configure_logging('info', {'json': True, 'text': False}.get(os.environ.get('F')));"
    "logging.getLogger('fpe.demo').warning('hello %s', 'there', extra={'run': 7})"
)


def _log_through(stderr_is_tty: bool, choice: str | None = None) -> str:
    """One warning logged by a real process whose stderr is a terminal (a pty) or a pipe."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("F", None)
    if choice:
        env["F"] = choice
    if not stderr_is_tty:
        done = subprocess.run(
            [sys.executable, "-c", LOG_ONE_LINE], env=env, capture_output=True, check=True
        )
        return done.stderr.decode()
    leader, follower = pty.openpty()
    try:
        subprocess.run([sys.executable, "-c", LOG_ONE_LINE], env=env, stderr=follower, check=True)
        os.close(follower)
        out = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            out += chunk
        return out.decode().replace("\r\n", "\n")
    finally:
        os.close(leader)


def test_a_terminal_gets_text_and_a_pipe_gets_json():
    text = _log_through(stderr_is_tty=True).strip()
    assert re.fullmatch(STAMP + r" WARNING fpe\.demo: hello there  run=7", text), text
    line = json.loads(_log_through(stderr_is_tty=False))
    assert line["message"] == "hello there" and line["run"] == 7
    asked = json.loads(_log_through(stderr_is_tty=True, choice="json").strip())
    assert asked["logger"] == "fpe.demo"
    assert _log_through(stderr_is_tty=False, choice="text").strip().endswith("hello there  run=7")
