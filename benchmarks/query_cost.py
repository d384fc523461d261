"""The fan-out attack of issue 11, before and after the query cost limit.

    python benchmarks/query_cost.py [--models 200] [--attackers 4] [--seconds 5]

Sets up a throw-away PostgreSQL database (E0 and E1 2021/22-2024/25, one ``poisson`` model
trained, then copied to ``--models`` stored versions), and starts one ``fpe serve`` process
twice: "before" with the cost budget, the answer cap and the threaded encoding switched
off (as the service was when it was attacked), and "after" as it ships. Each time a probe
sends ``{ leagues { code } }`` 20 times a second while, one second in, ``--attackers``
clients send the attack (20 aliases of ``models(limit: 200) { teamStrengths { team { name }
} trainingRuns { logs config } }``) at once; it prints the attacks' answers, when the last
was answered, and the probe's latency until then (the peer is the same server with the
limits off).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import FOOTBALL_DATA

ATTACK = (
    "{ "
    + " ".join(
        f"a{i}: models(limit: 200) {{ teamStrengths {{ team {{ name }} }} "
        "trainingRuns { logs config } }"
        for i in range(20)
    )
    + " }"
)
PROBE = {"query": "{ leagues { code } }"}
LAUNCH = """
import sys, uvicorn
if sys.argv[1] == "before":
    import schema.cost, server.api.app
    schema.cost.MAX_COST = server.api.app.MAX_RESPONSE_BYTES = server.api.app._INLINE_ITEMS = 10**15
from server.api.app import create_app
uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def prepare(db_url: str, copies: int) -> None:
    from server.base.config import Settings
    from server.runs.services import open_services, start_training
    from server.store import migrations
    from server.store.db import create_engine
    from server.store.ingest import ingest_paths

    engine = create_engine(db_url)
    await migrations.upgrade(engine)
    await engine.dispose()
    services = await open_services(Settings(database_url=db_url, data_dir=Path("/tmp")))
    files = [p for d in ("E0", "E1") for p in sorted(FOOTBALL_DATA.glob(f"*/{d}.csv"))]
    await ingest_paths(services.engine, files)
    seasons = ["2122", "2223", "2324", "2425"]
    await start_training(
        services, {"model_type": "poisson", "leagues": ["E0", "E1"], "seasons": seasons}
    )
    await services.queue.join()
    await services.close()
    conn = await asyncpg.connect(db_url.replace("+asyncpg", ""))
    try:  # the stored versions an attacker multiplies: copies of the trained model
        columns = [
            r["column_name"]
            for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'models' AND column_name NOT IN ('id', 'version', 'status')"
            )
        ]
        names = ", ".join(columns)
        await conn.execute(
            f"INSERT INTO models (version, status, {names}) "
            f"SELECT version || '-copy' || n, 'archived', {names} "
            f"FROM models, generate_series(1, {copies - 1}) AS n"
        )
    finally:
        await conn.close()


async def measure(base: str, attackers: int, seconds: float) -> dict:
    """A probe at 20 requests/s for ``seconds``; one second in, ``attackers`` clients send
    the attack once each, at the same time. The probe runs on until every attack has been
    answered."""
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:
        for _ in range(300):
            try:
                if (await client.get("/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.1)
        quiet = []
        for _ in range(40):
            t0 = time.perf_counter()
            await client.post("/graphql", json=PROBE)
            quiet.append(time.perf_counter() - t0)
            await asyncio.sleep(0.05)
        attacks: list[tuple[float, int, str]] = []
        probes: list[tuple[float, int]] = []
        done = asyncio.Event()

        # each attacker has its own connection, made beforehand (making an httpx client
        # costs the client's loop tens of milliseconds, which would count as latency)
        own = [httpx.AsyncClient(base_url=base, timeout=300) for _ in range(attackers)]
        for c in own:
            await c.get("/healthz")

        async def attacker(own: httpx.AsyncClient) -> None:
            await asyncio.sleep(1.0)
            t0 = time.perf_counter()
            r = await own.post("/graphql", json={"query": ATTACK})
            errors = r.json().get("errors") if r.status_code == 200 else None
            code = errors[0].get("extensions", {}).get("code", "error") if errors else "-"
            answer = f"{r.status_code} {code}"
            attacks.append((time.perf_counter() - t0, len(r.content), answer))

        async def probe() -> None:
            tasks = []
            start = time.perf_counter()
            i = 0

            async def one(scheduled: float) -> None:
                r = await client.post("/graphql", json=PROBE)
                probes.append((time.perf_counter() - scheduled, r.status_code))

            while time.perf_counter() < start + seconds or not done.is_set():
                scheduled = start + i / 20
                i += 1
                await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
                tasks.append(asyncio.create_task(one(scheduled)))
            await asyncio.gather(*tasks)

        async def attack() -> None:
            await asyncio.gather(*(attacker(c) for c in own))
            done.set()

        await asyncio.gather(probe(), attack())
        for c in own:
            await c.aclose()
    return {"quiet": quiet, "probes": probes, "attacks": attacks}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1/test")
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--attackers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--modes", nargs="+", default=["before", "after"])
    args = parser.parse_args()

    name = f"fpe_cost_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.postgres.replace("+asyncpg", ""))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    db_url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
    env = {**os.environ, "FPE_DATABASE_URL": db_url}
    env.pop("FPE_REDIS_URL", None)
    try:
        await prepare(db_url, args.models)
        print(f"attack: {len(ATTACK):,} bytes, {args.attackers} clients; {args.models} models")
        print(
            "| server | attack answers (status, code, size) | all answered after | "
            "probe p50 quiet | probe p50 | probe p99 | probe max | probes failed |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for mode in args.modes:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            proc = subprocess.Popen([sys.executable, "-c", LAUNCH, mode, str(port)], env=env)
            try:
                out = await measure(f"http://127.0.0.1:{port}", args.attackers, args.seconds)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            answers = sorted({f"{code}, {size:,} B" for _, size, code in out["attacks"]})
            latency = [t for t, _ in out["probes"]]
            if os.environ.get("FPE_BENCH_DEBUG"):
                print([round(t * 1e3) for t in latency])
            failed = sum(status != 200 for _, status in out["probes"])
            ms = 1e3
            print(
                f"| {mode} | {'; '.join(answers)} | "
                f"{max(t for t, _, _ in out['attacks']):.2f} s | "
                f"{statistics.median(out['quiet']) * ms:.1f} ms | "
                f"{pct(latency, 0.5) * ms:.1f} ms | {pct(latency, 0.99) * ms:.1f} ms | "
                f"{max(latency) * ms:.1f} ms | {failed} of {len(latency)} |"
            )
    finally:
        admin = await asyncpg.connect(args.postgres.replace("+asyncpg", ""))
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
