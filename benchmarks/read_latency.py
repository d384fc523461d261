"""Read latency while a large ingest writes: embedded SQLite against PostgreSQL.

    python benchmarks/read_latency.py [--clients 16] [--postgres postgresql+asyncpg://...]

For each database a fresh, migrated one gets all 70 shared files from ``fpe ingest`` in a
separate process (26,517 matches, one write transaction per file), while ``--clients``
concurrent readers loop over the service layer's reads (the league list with match counts,
and the training history) until the ingest ends. Reported: the ingest time and the reads'
p50, p99 and maximum latency and their count. Three rows: SQLite as it is now (deferred
read transactions in WAL mode), SQLite with every read starting ``BEGIN IMMEDIATE`` (as
before: reads queued for the writer's lock), and PostgreSQL, the peer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import FOOTBALL_DATA, fmt_seconds
from server.runs import training
from server.store import catalog, migrations
from server.store.db import create_engine
from server.store.tables import Match


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(url: str, clients: int, reads_lock: bool) -> dict[str, float]:
    engine = create_engine(url)
    await migrations.upgrade(engine)
    reader = engine.execution_options(fpe_write=True) if reads_lock else engine
    env = {**os.environ, "FPE_DATABASE_URL": url}
    started = time.perf_counter()
    ingest = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "ingest",
        str(FOOTBALL_DATA),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    await first_write(engine, ingest)  # the command's start-up is not part of the ingest
    latencies: list[float] = []
    errors = 0

    async def client(i: int) -> None:
        nonlocal errors
        while ingest.returncode is None:
            start = time.perf_counter()
            try:
                if i % 2:
                    await catalog.list_leagues(reader)
                else:
                    await training.list_runs(reader, limit=20)
            except Exception:
                errors += 1
            latencies.append(time.perf_counter() - start)

    readers = [asyncio.create_task(client(i)) for i in range(clients)]
    code = await ingest.wait()
    elapsed = time.perf_counter() - started
    await asyncio.gather(*readers)
    await engine.dispose()
    if code != 0:
        raise SystemExit(f"fpe ingest failed with exit code {code}")
    return {
        "ingest": elapsed,
        "p50": pct(latencies, 0.50),
        "p99": pct(latencies, 0.99),
        "max": max(latencies),
        "reads": len(latencies),
        "errors": errors,
    }


async def first_write(engine: AsyncEngine, process: asyncio.subprocess.Process) -> None:
    """Wait until the ingest has committed its first file."""
    while process.returncode is None:
        async with engine.connect() as conn:
            if (await conn.execute(sa.select(sa.func.count()).select_from(Match))).scalar():
                return
        await asyncio.sleep(0.05)


async def fresh_postgres(server: str) -> tuple[str, str]:
    name = f"fpe_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(server.replace("+asyncpg", ""))
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return server.rsplit("/", 1)[0] + f"/{name}", name


async def drop_postgres(server: str, name: str) -> None:
    conn = await asyncpg.connect(server.replace("+asyncpg", ""))
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1/test")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, reads_lock in (
            ("SQLite, deferred reads (now)", False),
            ("SQLite, reads BEGIN IMMEDIATE (before)", True),
        ):
            url = f"sqlite+aiosqlite:///{tmp}/{uuid.uuid4().hex[:8]}.sqlite3"
            rows.append((label, await measure(url, args.clients, reads_lock)))
    url, name = await fresh_postgres(args.postgres)
    try:
        rows.append(("PostgreSQL (peer)", await measure(url, args.clients, False)))
    finally:
        await drop_postgres(args.postgres, name)

    print(f"{args.clients} readers during `fpe ingest` of all 70 shared files (26,517 matches)")
    print(f"{'':<40}{'ingest':>9}{'p50':>10}{'p99':>10}{'max':>10}{'reads':>8}{'errors':>8}")
    for label, r in rows:
        print(
            f"{label:<40}{fmt_seconds(r['ingest']):>9}{fmt_seconds(r['p50']):>10}"
            f"{fmt_seconds(r['p99']):>10}{fmt_seconds(r['max']):>10}{r['reads']:>8}"
            f"{r['errors']:>8}"
        )
    peer = rows[-1][1]["p99"]
    for label, r in rows[:-1]:
        print(f"p99 {label} / PostgreSQL: {r['p99'] / peer:.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
