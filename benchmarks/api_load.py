"""API load on loopback: query latency at a fixed rate, and subscription fan-out.

    python benchmarks/api_load.py [--rate 200] [--seconds 10] [--subscribers 500]

Sets up a throw-away PostgreSQL database (E0 and E1 ingested, a ``full`` model trained),
starts ``fpe serve`` and ``fpe worker`` against it and Redis, then:

1. open-loop load at ``--rate`` requests/s for each of the ``models``, ``trainingRuns`` and
   ``predict`` queries, reporting achieved throughput and p50/p99 latency (target: predict
   p99 under 20 ms at 200 requests/s);
2. closed-loop maximum throughput with 16 concurrent clients;
3. ``--subscribers`` WebSocket clients subscribed to one queued training run before a worker
   starts it: for every live event, the time from its publication to its arrival at each
   client (target: p99 under 250 ms with 500 subscribers).

The peer is the same server behind the same loopback: ratios are against the targets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import FOOTBALL_DATA

QUERIES = {
    "models": "{ models(limit: 20) { version status rps logLoss createdAt } }",
    "trainingRuns": "{ trainingRuns(limit: 20) { taskId status progress runType matchCount } }",
    "predict": '{ predict(home: "Arsenal", away: "Chelsea", league: "E0") '
    "{ homeWin draw awayWin totals { line over } btts { yes } } }",
}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class RawHTTP:
    """A lean keep-alive HTTP/1.1 client on asyncio streams: httpx costs about 1 ms of CPU
    per request, which on two cores would be measured as server latency."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.idle:  # the server may have closed an idle connection: then a fresh one
            reader, writer = self.idle.pop()
            try:
                return await self._send(reader, writer, path, body)
            except (ConnectionError, IndexError, asyncio.IncompleteReadError):
                writer.close()
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return await self._send(reader, writer, path, body)

    async def _send(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: bytes
    ) -> tuple[int, bytes]:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        status_line = await reader.readline()
        status = int(status_line.split()[1])  # IndexError: the server closed it
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        payload = await reader.readexactly(length)
        self.idle.append((reader, writer))
        return status, payload

    async def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


async def open_loop(http: RawHTTP, query: str, rate: float, seconds: float):
    """Requests sent on a fixed schedule; latency counts from the scheduled time, so a
    server that falls behind is measured as slow, not hidden by a waiting client."""
    latencies: list[float] = []
    errors = 0
    body = json.dumps({"query": query}).encode()

    async def one(scheduled: float) -> None:
        nonlocal errors
        status, payload = await http.post("/graphql", body)
        latencies.append(time.perf_counter() - scheduled)
        if status != 200 or b'"errors"' in payload:
            errors += 1

    tasks = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, latencies, errors


async def closed_loop(http: RawHTTP, query: str, seconds: float, workers: int = 16):
    count = 0
    stop = time.perf_counter() + seconds
    body = json.dumps({"query": query}).encode()

    async def worker() -> None:
        nonlocal count
        while time.perf_counter() < stop:
            await http.post("/graphql", body)
            count += 1

    await asyncio.gather(*(worker() for _ in range(workers)))
    return count / seconds


async def fan_out(ws_url: str, base: str, subscribers: int, token: str, start_worker: Any) -> dict:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        r = await client.post(
            "/graphql",
            headers={"authorization": f"Bearer {token}"},
            json={
                "query": "mutation($i: TrainingInput!) { startTraining(input: $i) { taskId } }",
                "variables": {
                    "i": {
                        "modelType": "FULL",
                        "leagues": ["E0", "E1"],
                        "hyperparameters": {"refitDays": 2},
                    }
                },
            },
        )
        task_id = r.json()["data"]["startTraining"]["taskId"]
    query = "subscription($t: String!) { trainingProgress(taskId: $t) { eventId status ts } }"
    delays: list[float] = []
    events_seen: list[int] = []
    ready = asyncio.Event()
    subscribed = asyncio.Event()
    connected = 0
    listening = 0

    async def client_task() -> None:
        nonlocal connected, listening
        async with connect(
            ws_url, subprotocols=["graphql-transport-ws"], open_timeout=60, max_size=None
        ) as ws:
            await ws.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
                )
            )
            await ws.recv()
            connected += 1
            if connected == subscribers:
                ready.set()
            await ready.wait()
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": query, "variables": {"t": task_id}},
                    }
                )
            )
            seen = 0
            first = True
            while True:
                message = json.loads(await ws.recv())
                if first:  # the run's current state (queued): now we are listening
                    first = False
                    listening += 1
                    if listening == subscribers:
                        subscribed.set()
                    continue
                if message["type"] != "next":
                    break
                now = datetime.now(UTC)
                event = message["payload"]["data"]["trainingProgress"]
                if event["ts"]:
                    delays.append((now - datetime.fromisoformat(event["ts"])).total_seconds())
                    seen += 1
            events_seen.append(seen)

    async def release_worker() -> None:
        await subscribed.wait()
        start_worker()

    await asyncio.gather(release_worker(), *(client_task() for _ in range(subscribers)))
    return {
        "subscribers": subscribers,
        "deliveries": len(delays),
        "events_per_client_min": min(events_seen),
        "events_per_client_max": max(events_seen),
        "p50_ms": 1000 * pct(delays, 0.5),
        "p99_ms": 1000 * pct(delays, 0.99),
        "max_ms": 1000 * max(delays),
    }


async def prepare(admin_url: str, db_url: str) -> None:
    from server.base.config import Settings
    from server.runs.services import open_services, start_training
    from server.store.ingest import ingest_paths

    settings = Settings(database_url=db_url, data_dir=Path("/tmp"))
    from server.store import migrations
    from server.store.db import create_engine

    engine = create_engine(db_url)
    await migrations.upgrade(engine)
    await engine.dispose()
    services = await open_services(settings)  # in-process training for the setup
    files = [p for d in ("E0", "E1") for p in sorted(FOOTBALL_DATA.glob(f"*/{d}.csv"))]
    await ingest_paths(services.engine, files)
    await start_training(
        services,
        {"model_type": "full", "leagues": ["E0"], "seasons": ["2122", "2223", "2324", "2425"]},
    )
    await services.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument(
        "--server-workers", type=int, default=2, help="fpe serve --workers (processes)"
    )
    args = parser.parse_args()

    name = f"fpe_load_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.postgres.replace("+asyncpg", ""))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    db_url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = uuid.uuid4().hex
    env = {
        **os.environ,
        "FPE_DATABASE_URL": db_url,
        "FPE_REDIS_URL": args.redis,
        "FPE_REDIS_PREFIX": f"fpe-load-{name}",
        "FPE_API_TOKEN": token,
    }
    procs = []
    try:
        await prepare(args.postgres, db_url)
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "server.cli",
                    "serve",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                    "--workers",
                    str(args.server_workers),
                ],
                env=env,
            )
        )

        def start_worker() -> None:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "server.cli", "worker"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )

        base = f"http://127.0.0.1:{port}"
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
            for _ in range(200):
                try:
                    if (await client.get("/api/model/status")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            # every server process must be up (a starting one holds the connections it
            # accepted until its event loop runs): wait until a burst is answered quickly
            for _ in range(60):
                t0 = time.perf_counter()
                await asyncio.gather(*(client.get("/api/model/status") for _ in range(50)))
                if time.perf_counter() - t0 < 1.0:
                    break
                await asyncio.sleep(0.5)
            for q in QUERIES.values():  # warm up every server process
                await asyncio.gather(
                    *(client.post("/graphql", json={"query": q}) for _ in range(100))
                )
            print(
                f"Open loop at {args.rate:.0f} requests/s for {args.seconds:.0f} s "
                "(2-core machine; server and load generator share it)"
            )
            print(
                f"{'query':<14}{'achieved/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
                f"{'max/s (16 clients)':>21}"
            )
            http = RawHTTP("127.0.0.1", port)
            for label, q in QUERIES.items():
                achieved, lat, errors = await open_loop(http, q, args.rate, args.seconds)
                peak = await closed_loop(http, q, min(args.seconds, 5.0))
                print(
                    f"{label:<14}{achieved:>11.0f}{1000 * statistics.median(lat):>9.2f}"
                    f"{1000 * pct(lat, 0.99):>9.2f}{errors:>8}{peak:>21.0f}"
                )
            await http.close()
        ws_url = f"ws://127.0.0.1:{port}/graphql"
        fan = await fan_out(ws_url, base, args.subscribers, token, start_worker)
        print(
            f"\nSubscription fan-out: {fan['subscribers']} subscribers on one run, "
            f"{fan['deliveries']} deliveries ({fan['events_per_client_min']}-"
            f"{fan['events_per_client_max']} events each)"
        )
        print(
            f"publication to arrival: p50 {fan['p50_ms']:.1f} ms, p99 {fan['p99_ms']:.1f} ms, "
            f"max {fan['max_ms']:.1f} ms (target p99 < 250 ms)"
        )
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=15)
        admin = await asyncpg.connect(args.postgres.replace("+asyncpg", ""))
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
