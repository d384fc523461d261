"""The query attacks of issue 18 against a live server: how long each takes to be answered
and how long /healthz waits meanwhile.

    FPE_DATA_DIR=$(mktemp -d) fpe serve --port 8123 &
    python benchmarks/query_shape.py --base http://127.0.0.1:8123 [--pid PID]

Attacks, each sent ``--copies`` times at once (distinct texts: no cache answers them) while
a probe asks ``/healthz`` every 20 ms: fragments that each spread the next twice (22 and 40
levels), ``{ leagues { code } }`` 495 times, 20 aliases of ``predictions`` with 500
fixtures, and a query with a 10 MB operation name. With ``--pid`` (the server's process
id): its resident memory before and after 30 distinct queries with a 10 MB operation name,
then 30 distinct queries of 99,000 characters (accepted, parsed, not all kept by the cache).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

RUN = uuid.uuid4().hex[:8]


def bomb(levels: int) -> str:
    fragments = " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    )
    return f"query {{ ...F0 }} {fragments} fragment F{levels} on Query {{ leagues {{ code }} }}"


ALIASES = (
    "query($f: [FixtureInput!]!) { "
    + " ".join(f"a{i}: predictions(fixtures: $f) {{ homeWin }}" for i in range(20))
    + " }"
)
ATTACKS: dict[str, dict[str, Any]] = {
    "fragments x2, 22 levels": {"query": bomb(22)},
    "fragments x2, 40 levels": {"query": bomb(40)},
    "leagues { code } x495": {"query": "{ " + " ".join(["leagues { code }"] * 495) + " }"},
    "20 aliases x 500 predictions": {
        "query": ALIASES,
        "variables": {"f": [{"home": "Arsenal", "away": "Chelsea"}] * 500},
    },
    "10 MB operation name": {"query": "query " + "A" * 10_000_000 + " { leagues { code } }"},
}


def distinct(query: str, i: int) -> str:
    """``query`` as a syntax tree no earlier run sent (its operation named after this run
    and ``i``): a comment would not do, as the validation cache compared trees."""
    name = f"Q{RUN}_{i}"
    named = re.sub(r"^(?:query\s*)?(?=[{(])", f"query {name} ", query, count=1)
    return named if named != query else f"{query} # {name}"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def probe(client: httpx.AsyncClient, stop: asyncio.Event, waits: list[float]) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        await client.get("/healthz")
        waits.append((time.perf_counter() - start) * 1000)
        await asyncio.sleep(0.02)


async def post(client: httpx.AsyncClient, body: dict) -> httpx.Response | str:
    """The answer, or "closed" when the server refused the body (413, logged) and closed the
    connection while it was still being sent."""
    try:
        return await client.post("/graphql", json=body)
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
        return "closed"


async def attack(client: httpx.AsyncClient, body: dict, copies: int) -> tuple[list, float]:
    waits: list[float] = []
    stop = asyncio.Event()
    prober = asyncio.create_task(probe(client, stop, waits))
    await asyncio.sleep(0.1)
    start = time.perf_counter()
    bodies = [{**body, "query": distinct(body["query"], i)} for i in range(copies)]
    answers = await asyncio.gather(*(post(client, b) for b in bodies))
    elapsed = (time.perf_counter() - start) * 1000
    await asyncio.sleep(0.05)
    stop.set()
    await prober
    codes = []
    for answer in answers:
        if isinstance(answer, str):
            codes.append("413, connection closed")
            continue
        if answer.status_code == 413:
            codes.append(413)
            continue
        errors = answer.json().get("errors") or [{}]
        codes.append(errors[0].get("extensions", {}).get("code", answer.status_code))
    return [elapsed, sorted(set(codes)), statistics.median(waits), max(waits)], elapsed


async def memory(client: httpx.AsyncClient, pid: int) -> None:
    before = rss_mb(pid)
    for i in range(30):
        query = f"query Q{i}{'A' * 10_000_000} {{ __typename }}"
        await post(client, {"query": query})
    after_long = rss_mb(pid)
    for i in range(30):
        await client.post("/graphql", json={"query": f"query Q{i}{'B' * 99_000} {{ __typename }}"})
    after = rss_mb(pid)
    print(
        f"RSS: {before:.0f} MB before, {after_long:.0f} MB after 30 x 10 MB names, "
        f"{after:.0f} MB after 30 x 99,000-character queries"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:8123")
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--pid", type=int)
    args = parser.parse_args()
    async with httpx.AsyncClient(base_url=args.base, timeout=600) as client:
        print("| attack | at once | answered after | code | /healthz p50 | /healthz max |")
        print("|---|---:|---:|---|---:|---:|")
        for name, body in ATTACKS.items():
            for copies in args.copies:
                (elapsed, codes, p50, worst), _ = await attack(client, body, copies)
                print(
                    f"| {name} | {copies} | {elapsed:.0f} ms | {', '.join(map(str, codes))} "
                    f"| {p50:.1f} ms | {worst:.1f} ms |"
                )
        if args.pid:
            await memory(client, args.pid)


if __name__ == "__main__":
    asyncio.run(main())
