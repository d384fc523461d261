"""Ingestion speed: all 70 shared files into PostgreSQL and into SQLite, then a re-ingest.

    python benchmarks/ingest_speed.py [--postgres postgresql+asyncpg://postgres@127.0.0.1/test]

Peers, side by side on the same 26,517 matches: pandas ``read_csv`` + ``DataFrame.to_sql``
into SQLite (no validation, no upsert: the usual quick script), and asyncpg's binary COPY of
the already-parsed rows into an empty PostgreSQL table (the physical floor).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import FOOTBALL_DATA, fmt_seconds
from server.formats.footballdata import find_csv_files, read_file
from server.store import migrations
from server.store.db import create_engine
from server.store.ingest import ingest_paths


async def ours(url: str) -> tuple[float, float, int]:
    engine = create_engine(url)
    await migrations.upgrade(engine)
    start = time.perf_counter()
    first = await ingest_paths(engine, [FOOTBALL_DATA])
    t_first = time.perf_counter() - start
    start = time.perf_counter()
    await ingest_paths(engine, [FOOTBALL_DATA])
    t_again = time.perf_counter() - start
    await engine.dispose()
    return t_first, t_again, sum(r.inserted for r in first)


def pandas_to_sql(path: Path) -> float:
    start = time.perf_counter()
    with sqlite3.connect(path) as conn:
        for csv in find_csv_files([FOOTBALL_DATA]):
            frame = pd.read_csv(csv, encoding="utf-8-sig", encoding_errors="replace")
            frame = frame.dropna(how="all")
            frame = frame[["Div", "Date", "HomeTeam", "AwayTeam", "FTHG", "FTAG", "FTR"]]
            frame.to_sql("matches", conn, if_exists="append", index=False)
    return time.perf_counter() - start


async def copy_floor(admin_url: str) -> float:
    frames = [read_file(p).matches for p in find_csv_files([FOOTBALL_DATA])]
    frame = pd.concat(frames)
    records = list(
        zip(
            frame["league"],
            frame["date"].dt.date,
            frame["home_team"],
            frame["away_team"],
            frame["home_goals"].astype(int),
            frame["away_goals"].astype(int),
            strict=True,
        )
    )
    conn = await asyncpg.connect(admin_url.replace("+asyncpg", ""))
    table = f"bench_copy_{uuid.uuid4().hex[:8]}"
    try:
        await conn.execute(
            f"CREATE TEMP TABLE {table} (div text, d date, h text, a text, hg int, ag int)"
        )
        start = time.perf_counter()
        await conn.copy_records_to_table(table, records=records)
        return time.perf_counter() - start
    finally:
        await conn.close()


async def fresh_database(admin_url: str) -> tuple[str, str]:
    name = f"fpe_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url.replace("+asyncpg", ""))
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return admin_url.rsplit("/", 1)[0] + f"/{name}", name


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url.replace("+asyncpg", ""))
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1/test")
    args = parser.parse_args()

    url, name = await fresh_database(args.postgres)
    try:
        pg_first, pg_again, n = await ours(url)
    finally:
        await drop_database(args.postgres, name)
    with tempfile.TemporaryDirectory() as tmp:
        lite_first, lite_again, _ = await ours(f"sqlite+aiosqlite:///{tmp}/fpe.sqlite3")
        peer_sqlite = pandas_to_sql(Path(tmp) / "peer.sqlite3")
    floor = await copy_floor(args.postgres)

    print(f"Ingest all 70 shared files ({n} matches with odds, validated, upserted)")
    print(f"{'':<12}{'first pass':>12}{'re-ingest':>12}   peer")
    print(
        f"{'PostgreSQL':<12}{fmt_seconds(pg_first):>12}{fmt_seconds(pg_again):>12}   "
        f"binary COPY of the parsed rows, no checks: {fmt_seconds(floor)} "
        f"({pg_first / floor:.1f}x of ours)"
    )
    print(
        f"{'SQLite':<12}{fmt_seconds(lite_first):>12}{fmt_seconds(lite_again):>12}   "
        f"pandas read_csv + to_sql, 7 columns, no checks: {fmt_seconds(peer_sqlite)} "
        f"(ours is {lite_first / peer_sqlite:.1f}x its time)"
    )


if __name__ == "__main__":
    asyncio.run(main())
