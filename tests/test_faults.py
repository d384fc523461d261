"""The fault suite: real processes that this module starts itself and then breaks.

- its own ``redis-server`` on a free port, stopped and restarted empty;
- its own PostgreSQL cluster (``initdb`` as a non-root user, ``pg_ctl`` on a free port),
  stopped while a run finishes;
- ``fpe worker`` processes, SIGKILLed.

The machine's own PostgreSQL and Redis are never stopped or reconfigured (seeded databases
on it are created and dropped as everywhere else).  Every test asserts outcomes (the state
reached, nothing lost, no stuck row), never durations; every wait is bounded.  Durations
are printed (``-s``) for the README's figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from arq.jobs import Job, JobStatus
from redis.asyncio import Redis

from server.base.config import Settings
from server.runs import runstate, training
from server.runs.keys import Keys
from server.runs.runner import RunContext, reap_stale_runs
from server.runs.services import (
    EVENT_CONNECTIONS,
    Services,
    follow_run,
    open_services,
    start_training,
)
from server.store.tables import Model, ModelStatus, TrainingRun
from tests.conftest import FOOTBALL_DATA, REQUIRE, free_port

pytestmark = [pytest.mark.faults, pytest.mark.slow]

E0_RECENT = {"leagues": ["E0"], "seasons": ["2122", "2223", "2324", "2425"]}
# long enough to be stopped mid-way (a refit per day over ten seasons)
LONG_RUN = {"model_type": "poisson", "leagues": ["E0"], "hyperparameters": {"refit_days": 1}}
UNPRIVILEGED = "nobody"


def _missing(what: str) -> None:
    if REQUIRE:
        pytest.fail(f"the fault suite needs {what}")
    pytest.skip(f"the fault suite needs {what}")


async def wait_for(
    check: Callable[[], Awaitable[Any]], timeout: float, what: str, every: float = 0.2
) -> Any:
    """Poll ``check()`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(every)


# --- processes of our own ---------------------------------------------------------------------


class OwnRedis:
    """A redis-server of this test on a free port, without persistence: a restart is empty."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        async def up() -> bool:
            client = Redis.from_url(self.url)
            try:
                return bool(await client.ping())
            except Exception:
                return False
            finally:
                await client.aclose()

        await wait_for(up, 20, "redis-server to answer")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class OwnPostgres:
    """A PostgreSQL cluster of this test: ``initdb`` and ``pg_ctl`` as an unprivileged user,
    in a temporary directory, on a free port, with trust authentication."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            _missing("PostgreSQL's binaries (/usr/lib/postgresql/*/bin)")
        self.bin = Path(bins[-1]).parent
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="fpe-pg-"))
        self.data = self.root / "data"
        if os.geteuid() == 0:  # initdb refuses root
            user = pwd.getpwnam(UNPRIVILEGED)
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", UNPRIVILEGED, "--"]
        else:
            self.prefix = []

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [*self.prefix, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise RuntimeError(f"{args[0]} failed: {done.stderr[-2000:]} {log[-2000:]}")

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
            "-w", "-t", "60", "-o", options, "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class WorkerProcess:
    """``fpe worker`` in a subprocess, its log in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._file = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "worker"],
            env=env,
            stdout=self._file,
            stderr=subprocess.STDOUT,
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_log(self, needle: str, timeout: float) -> None:
        async def seen() -> bool:
            return needle in self.text()

        await wait_for(seen, timeout, f"the worker to log {needle!r}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._file.close()


@pytest.fixture
async def own_redis(tmp_path):
    if shutil.which("redis-server") is None:
        _missing("redis-server")
    server = OwnRedis(tmp_path)
    await server.start()
    yield server
    server.stop()


@pytest.fixture
def own_postgres():
    if shutil.which("runuser") is None and os.geteuid() == 0:
        _missing("runuser (to run initdb as an unprivileged user)")
    cluster = OwnPostgres()
    cluster.init()
    cluster.start()
    yield cluster
    cluster.destroy()


@pytest.fixture
def workers(tmp_path):
    """Factory: ``fpe worker`` processes with the given settings; all stopped afterwards."""
    started: list[WorkerProcess] = []

    def start(settings: Settings) -> WorkerProcess:
        env = {
            **os.environ,
            "FPE_DATABASE_URL": settings.database_url,
            "FPE_REDIS_URL": settings.redis_url or "",
            "FPE_REDIS_PREFIX": settings.redis_prefix,
            "FPE_HEARTBEAT_SECONDS": str(settings.heartbeat_seconds),
            "FPE_STALE_SECONDS": str(settings.stale_seconds),
            "FPE_WRITE_RETRY_SECONDS": str(settings.write_retry_seconds),
            "FPE_LOG_FORMAT": "text",
        }
        worker = WorkerProcess(env, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
async def stack(seeded_url, own_redis, tmp_path):
    """Services on a seeded PostgreSQL database (the machine's server) and our own Redis."""
    settings = Settings(
        database_url=await seeded_url("postgresql"),
        data_dir=tmp_path,
        redis_url=own_redis.url,
        redis_prefix="fpe-faults",
        heartbeat_seconds=0.2,
        stale_seconds=2.0,
    )
    services = await open_services(settings)
    yield settings, services
    await services.close()


async def run_status(services: Services, task_id: str) -> str:
    return (await training.get_run(services.engine, task_id))["status"]


async def stuck_runs(engine) -> int:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(TrainingRun)
                .where(TrainingRun.status.in_([ModelStatus.QUEUED, ModelStatus.TRAINING]))
            )
        ).scalar_one()


class Subscriber:
    """Collects a run's events in the background, as a dashboard would."""

    def __init__(self, services: Services, task_id: str) -> None:
        self.events: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._follow(services, task_id))

    async def _follow(self, services: Services, task_id: str) -> None:
        async for _id, event in follow_run(services, task_id):
            self.events.append(event)

    async def finished(self, timeout: float) -> list[dict[str, Any]]:
        await asyncio.wait_for(self.task, timeout)
        return self.events


# --- Redis ------------------------------------------------------------------------------------


async def test_a_queued_run_whose_job_vanished_is_queued_again_and_completes(
    stack, own_redis, workers
):
    settings, services = stack
    run = await start_training(services, {"model_type": "poisson", **E0_RECENT})
    subscriber = Subscriber(services, run["task_id"])
    own_redis.stop()  # Redis restarts empty: the queued job is gone
    await own_redis.start()
    keys = Keys(settings.redis_prefix)
    job = Job(keys.job_id(run["task_id"]), services.queue.pool, _queue_name=keys.queue)
    assert await job.status() == JobStatus.not_found
    assert await run_status(services, run["task_id"]) == "queued"

    started = time.monotonic()
    workers(settings)

    async def claimed() -> bool:
        return await run_status(services, run["task_id"]) != "queued"

    await wait_for(claimed, 60, "the lost run to be queued again and claimed")
    print(f"\nvanished job queued again and claimed {time.monotonic() - started:.1f} s "
          "after a worker started")  # fmt: skip

    async def completed() -> bool:
        return await run_status(services, run["task_id"]) == "completed"

    await wait_for(completed, 120, "the re-queued run to complete")
    events = await subscriber.finished(30)
    assert any(e.get("message") == runstate.REQUEUED for e in events)
    assert events[-1]["status"] == "completed"
    assert await stuck_runs(services.engine) == 0


async def test_a_worker_rides_out_a_redis_outage_and_resumes(stack, own_redis, workers):
    settings, services = stack
    worker = workers(settings)
    first = await start_training(services, {"model_type": "poisson", **E0_RECENT})

    async def training_now() -> bool:
        return await run_status(services, first["task_id"]) != "queued"

    await wait_for(training_now, 60, "the worker to take the first run")
    own_redis.stop()
    await worker.wait_log("Redis is unavailable", 60)
    await asyncio.sleep(8)  # an outage over several backoff rounds
    assert worker.alive(), worker.text()[-3000:]

    await own_redis.start()  # empty again
    back = time.monotonic()
    second = await start_training(services, {"model_type": "poisson", **E0_RECENT})

    async def second_claimed() -> bool:
        return await run_status(services, second["task_id"]) != "queued"

    await wait_for(second_claimed, 60, "the worker to take a run after the outage")
    print(f"\nworker took a new run {time.monotonic() - back:.1f} s after Redis came back")

    async def both_done() -> bool:
        return {
            await run_status(services, first["task_id"]),
            await run_status(services, second["task_id"]),
        } == {"completed"}

    await wait_for(both_done, 180, "both runs to complete")
    assert worker.alive()
    assert "Traceback" not in worker.text()
    assert "Redis is reachable again" in worker.text()
    assert await stuck_runs(services.engine) == 0


async def test_a_sigkilled_worker_run_is_reaped_by_a_surviving_worker(stack, workers):
    settings, services = stack
    pool = [workers(settings), workers(settings)]
    run = await start_training(services, LONG_RUN | {"leagues": ["E0", "E1"]})

    async def running() -> dict[str, Any] | None:
        current = await training.get_run(services.engine, run["task_id"])
        return current if current["status"] == "training" and current["progress"] > 1 else None

    current = await wait_for(running, 90, "a worker to be mid-run")
    pid = int(current["worker"].rsplit(":", 1)[1])
    victim = next(w for w in pool if w.proc.pid == pid)
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    victim.proc.wait(timeout=10)

    async def reaped() -> dict[str, Any] | None:
        done = await training.get_run(services.engine, run["task_id"])
        return done if done["status"] != "training" else None

    done = await wait_for(reaped, 90, "the surviving worker to reap the run")
    print(f"\nrun of a SIGKILLed worker reaped {time.monotonic() - killed:.1f} s after the kill")
    assert done["status"] == "failed" and "lost" in done["error_message"]
    assert all(w.alive() for w in pool if w is not victim)
    assert await stuck_runs(services.engine) == 0


async def test_subscribers_share_one_reader_per_stream_and_leave_no_blocked_reads(stack, own_redis):
    _, services = stack
    admin = Redis.from_url(own_redis.url)
    run = await start_training(services, {"model_type": "poisson", **E0_RECENT})  # stays queued

    async def blocked_reads() -> int:
        clients = await admin.client_list()
        return sum(1 for c in clients if "b" in c.get("flags", "") and c.get("cmd") == "xread")

    async def drain(stream: Any) -> None:
        async for _ in stream:
            pass

    tasks = [asyncio.create_task(drain(follow_run(services, run["task_id"]))) for _ in range(60)]
    tasks += [asyncio.create_task(drain(services.hub.follow_all())) for _ in range(60)]
    await asyncio.sleep(1.5)
    assert services.hub.readers == 2  # one for the run, one for every run's state changes
    assert await blocked_reads() <= 2
    assert len(await admin.client_list()) <= 2 + EVENT_CONNECTIONS  # admin, queue, streams
    # subscribers leaving at every moment, some before their stream was even set up
    for i, task in enumerate(tasks):
        task.cancel()
        if i % 7 == 0:
            await asyncio.sleep(0)
    await asyncio.gather(*tasks, return_exceptions=True)
    tasks = [asyncio.create_task(drain(follow_run(services, run["task_id"]))) for _ in range(20)]
    await asyncio.sleep(0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert services.hub.readers == 0

    async def none_blocked() -> bool:
        return await blocked_reads() == 0

    await wait_for(none_blocked, 10, "the blocked reads to end")
    await admin.aclose()


async def test_websocket_subscribers_leave_no_blocked_redis_reads(stack, own_redis):
    """Over real WebSockets on ``fpe serve``: 40 trainingProgress and 40 trainingEvents
    subscribers hold at most one blocked read per stream, and none is left once they have
    gone, however abruptly."""
    import json

    from websockets.asyncio.client import connect

    from tests.conftest import start_server, stop_process

    settings, services = stack
    run = await start_training(services, {"model_type": "poisson", **E0_RECENT})  # no worker
    env = {
        **os.environ,
        "FPE_DATABASE_URL": settings.database_url,
        "FPE_REDIS_URL": own_redis.url,
        "FPE_REDIS_PREFIX": settings.redis_prefix,
    }
    server, base = await start_server(env)
    admin = Redis.from_url(own_redis.url)

    async def blocked_reads() -> int:
        clients = await admin.client_list()
        return sum(1 for c in clients if "b" in c.get("flags", "") and c.get("cmd") == "xread")

    progress = "subscription($t: String!) { trainingProgress(taskId: $t) { status } }"
    events = "subscription { trainingEvents { status } }"

    async def subscriber(query: str, opened: asyncio.Event) -> None:
        async with connect(
            base.replace("http://", "ws://") + "/graphql", subprotocols=["graphql-transport-ws"]
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            payload = {"query": query, "variables": {"t": run["task_id"]}}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            opened.set()
            await asyncio.Event().wait()  # until cancelled: the socket just goes away

    try:
        flags = [asyncio.Event() for _ in range(80)]
        tasks = [
            asyncio.create_task(subscriber(progress if i % 2 else events, flag))
            for i, flag in enumerate(flags)
        ]
        await asyncio.wait_for(asyncio.gather(*(f.wait() for f in flags)), 60)
        await asyncio.sleep(2)
        assert await blocked_reads() <= 2  # one per stream
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

        async def none_blocked() -> bool:
            return await blocked_reads() == 0

        await wait_for(none_blocked, 20, "every blocked read to end after the subscribers left")
        assert server.poll() is None
    finally:
        await admin.aclose()
        stop_process(server)


async def test_at_maxclients_start_training_answers_what_it_did_and_retries_return_the_run(
    make_api, own_redis
):
    """Redis refusing new connections once made startTraining answer "Unexpected error."
    for a run it had created, so clients retried into duplicates."""
    from tests.test_api import gql

    app, client = await make_api("sqlite", redis_url=own_redis.url, redis_prefix="fpe-maxc")
    admin = Redis.from_url(own_redis.url)
    await admin.ping()
    await admin.config_set("maxclients", len(await admin.client_list()))
    try:
        mutation = """mutation($input: TrainingInput!, $key: String) {
            startTraining(input: $input, idempotencyKey: $key) { taskId status } }"""
        variables = {"input": {"modelType": "POISSON", **E0_RECENT}, "key": "client-retry-1"}
        first = await gql(client, mutation, variables)
        assert "errors" not in first, first
        again = await gql(client, mutation, variables)
        assert again["data"]["startTraining"] == first["data"]["startTraining"]
        body = {"modelType": "poisson", **E0_RECENT}
        headers = {"Idempotency-Key": "client-retry-2"}
        rest = [await client.post("/api/model/train", json=body, headers=headers) for _ in "ab"]
        assert [r.status_code for r in rest] == [202, 202], rest[0].text
        assert rest[0].json()["data"]["taskId"] == rest[1].json()["data"]["taskId"]
    finally:
        await admin.config_set("maxclients", 10000)
        await admin.aclose()
    services = app.state.services
    runs = await training.list_runs(services.engine)
    assert sorted(r["task_id"] for r in runs) == sorted(
        [first["data"]["startTraining"]["taskId"], rest[0].json()["data"]["taskId"]]
    )
    assert all(r["status"] == "queued" for r in runs)  # no worker here: what was answered


# --- PostgreSQL -------------------------------------------------------------------------------


async def _seed(url: str) -> None:
    from server.store import migrations
    from server.store.db import create_engine
    from server.store.ingest import ingest_paths

    files = sorted(FOOTBALL_DATA.glob("*/E0.csv"))
    if not files:
        _missing(f"the shared data in {FOOTBALL_DATA}")
    engine = create_engine(url)
    await migrations.upgrade(engine)
    reports = await ingest_paths(engine, files)
    assert all(r.ok for r in reports)
    await engine.dispose()


async def test_postgres_down_as_a_run_finishes(own_postgres, own_redis, workers, tmp_path):
    """The result is kept when PostgreSQL comes back within the retry budget; past it, the
    run fails with the database's error (not as "worker lost")."""
    await _seed(own_postgres.url)
    base = Settings(
        database_url=own_postgres.url,
        data_dir=tmp_path,
        redis_url=own_redis.url,
        redis_prefix="fpe-faults-pg",
        heartbeat_seconds=0.2,
        stale_seconds=2.0,
    )
    services = await open_services(base)
    try:
        for budget, expected in ((300.0, "completed"), (2.0, "failed")):
            settings = Settings(**{**base.__dict__, "write_retry_seconds": budget})
            worker = workers(settings)
            run = await start_training(services, LONG_RUN)

            async def mid_run(task_id: str = run["task_id"]) -> bool:
                current = await training.get_run(services.engine, task_id)
                return current["status"] == "training" and current["progress"] > 2

            await wait_for(mid_run, 90, "the run to be mid-way")
            own_postgres.stop()
            # the pipeline finishes in its thread, then the final write meets the outage
            await worker.wait_log("(attempt 1:", 240)
            if expected == "failed":
                await worker.wait_log("announcing it only", 60)
            else:
                await asyncio.sleep(3)  # a few more failed attempts
            own_postgres.start()
            back = time.monotonic()
            await services.engine.dispose()  # connections from before the restart are dead

            async def ended(task_id: str = run["task_id"]) -> dict[str, Any] | None:
                try:
                    current = await training.get_run(services.engine, task_id)
                except Exception:
                    return None
                return current if current["status"] not in ("queued", "training") else None

            done = await wait_for(ended, 120, f"the run to end ({expected})")
            print(f"\nrun {expected} {time.monotonic() - back:.1f} s after PostgreSQL came back")
            assert done["status"] == expected, done
            async with services.engine.connect() as conn:
                models = (
                    await conn.execute(sa.select(sa.func.count()).select_from(Model))
                ).scalar_one()
            if expected == "completed":
                assert done["model_version"] and done["error_message"] is None
                assert models == 1
            else:
                assert "database was unreachable" in done["error_message"], done
                assert "lost" not in done["error_message"]
                assert models == 1  # nothing half-written
            assert worker.alive() and "Traceback" not in worker.text()
            worker.stop()
        assert await stuck_runs(services.engine) == 0
        # nothing is reaped later either
        ctx = RunContext(services.engine, services.events)
        assert await reap_stale_runs(ctx, 0.1) == []
    finally:
        await services.close()


async def test_the_api_answers_503_while_postgres_is_down_and_recovers(own_postgres, tmp_path):
    """A request that meets a PostgreSQL outage is answered 503 SERVICE_UNAVAILABLE with
    Retry-After (REST) or with that code (GraphQL) and the database's reason, never a 500;
    once PostgreSQL is back the same requests succeed without a restart."""
    import httpx

    from server.api.app import create_app

    await _seed(own_postgres.url)
    app = create_app(Settings(database_url=own_postgres.url, data_dir=tmp_path))
    query = {"query": "{ models { version } leagues { code } }"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://localhost"
        ) as client,
    ):
        assert (await client.get("/api/model/leagues")).status_code == 200
        own_postgres.stop()
        for path in ("/api/model/leagues", "/api/model/versions", "/api/model/status"):
            answer = await client.get(path)
            assert answer.status_code == 503, (path, answer.text)
            assert answer.headers["retry-after"] == "5"
            body = answer.json()
            assert body["code"] == "SERVICE_UNAVAILABLE" and "database" in body["detail"], body
        errors = (await client.post("/graphql", json=query)).json()["errors"]
        assert {e["extensions"]["code"] for e in errors} == {"SERVICE_UNAVAILABLE"}, errors
        assert all("database is unavailable" in e["message"] for e in errors)
        own_postgres.start()

        async def answers() -> bool:
            return (await client.get("/api/model/leagues")).status_code == 200

        await wait_for(answers, 60, "the API to answer again")
        data = (await client.post("/graphql", json=query)).json()
        assert "errors" not in data and data["data"]["leagues"], data
