"""Check a deployed ``fpe serve`` from the outside, as a browser and a GraphQL client would.

    python scripts/smoke_check.py http://127.0.0.1:8000 [--token T] [--league E0 ...]

1. ``/readyz`` answers 200;
2. the page and every asset it references (``src``/``href`` and ES-module imports,
   followed recursively) answer 200 with content;
3. GraphiQL (``GET /graphql`` as a browser) and its assets answer 200;
4. a ``poisson`` training run started with the ``startTraining`` mutation is followed over
   the ``trainingProgress`` subscription (WebSocket, ``graphql-transport-ws``) until it
   completes, and its model is then the active one.

Used by ``tests/test_wheel.py`` (the installed wheel) and ``scripts/image-test`` (the
container image). Exits 0 when everything holds, else 1 with the first failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from urllib.parse import urljoin, urlsplit

import httpx
from websockets.asyncio.client import connect

_ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"'#]+)["']""")
_IMPORT = re.compile(r"""(?:import|from)\s*["'](\.{1,2}/[^"']+|/[^"']+)["']""")
START = """mutation($input: TrainingInput!) {
  startTraining(input: $input) { taskId status } }"""
PROGRESS = """subscription($taskId: String!) {
  trainingProgress(taskId: $taskId) { type status phase progress message version error } }"""
ACTIVE = """query { activeModel(modelType: "poisson") { version status } }"""


class CheckFailed(Exception):
    """One expectation about the deployment did not hold."""


async def check_assets(client: httpx.AsyncClient, page: str, accept: str) -> list[str]:
    """Fetch ``page`` and every same-origin asset it references; returns the asset URLs."""
    base = str(client.base_url)
    response = await client.get(page, headers={"accept": accept})
    if response.status_code != 200 or "<html" not in response.text.lower():
        raise CheckFailed(f"GET {page}: {response.status_code}, not an HTML page")
    pending = [urljoin(base + page, m) for m in _ASSET.findall(response.text)]
    seen: list[str] = []
    while pending:
        url = pending.pop()
        if urlsplit(url).netloc != urlsplit(base).netloc or url in seen:
            continue  # links elsewhere are not ours to serve
        seen.append(url)
        asset = await client.get(url)
        if asset.status_code != 200 or not asset.content:
            raise CheckFailed(f"GET {url} (referenced from {page}): {asset.status_code}")
        if url.endswith((".js", ".mjs")):
            pending += [urljoin(url, m) for m in _IMPORT.findall(asset.text)]
    if not seen:
        raise CheckFailed(f"{page} references no assets")
    return seen


async def gql(client: httpx.AsyncClient, query: str, variables: dict, token: str | None) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise CheckFailed(f"GraphQL {query.split('(')[0]}: {response.status_code} {body}")
    return body["data"]


async def follow(ws_url: str, task_id: str, token: str | None, timeout: float) -> list[dict]:
    """The run's events over the subscription, until it completes."""
    events: list[dict] = []
    params = {"authorization": f"Bearer {token}"} if token else {}
    async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": params}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if ack.get("type") != "connection_ack":
            raise CheckFailed(f"WebSocket: no connection_ack: {ack}")
        payload = {"query": PROGRESS, "variables": {"taskId": task_id}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        async with asyncio.timeout(timeout):
            while True:
                message = json.loads(await ws.recv())
                if message["type"] == "next":
                    if message["payload"].get("errors"):
                        raise CheckFailed(f"subscription error: {message['payload']}")
                    events.append(message["payload"]["data"]["trainingProgress"])
                elif message["type"] == "complete":
                    return events
                else:
                    raise CheckFailed(f"subscription: unexpected message {message}")


async def wait_ready(client: httpx.AsyncClient, wait: float) -> None:
    """Until ``/readyz`` answers 200, for at most ``wait`` seconds (a server starting up)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        try:
            ready = await client.get("/readyz")
            if ready.status_code == 200:
                return
            problem = f"{ready.status_code} {ready.text}"
        except httpx.TransportError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if loop.time() > deadline:
            raise CheckFailed(f"/readyz: {problem}")
        await asyncio.sleep(0.25)


async def run(
    base: str, token: str | None, leagues: list[str], timeout: float, wait: float
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        await wait_ready(client, wait)
        page_assets = await check_assets(client, "/", "text/html")
        graphiql_assets = await check_assets(client, "/graphql", "text/html")
        print(f"page: {len(page_assets)} assets; GraphiQL: {len(graphiql_assets)} assets")

        selection = {"modelType": "POISSON", "leagues": leagues}
        started = (await gql(client, START, {"input": selection}, token))["startTraining"]
        print(f"training run {started['taskId']}: {started['status']}")
        ws_url = base.replace("http", "ws", 1) + "/graphql"
        events = await follow(ws_url, started["taskId"], token, timeout)
        final = events[-1] if events else {}
        print(f"{len(events)} progress events; final: {final.get('status')} {final.get('version')}")
        if final.get("status") != "completed":
            raise CheckFailed(f"the run did not complete: {final}")
        active = (await gql(client, ACTIVE, {}, token))["activeModel"]
        if not active or active["version"] != final["version"]:
            raise CheckFailed(f"active model {active} is not the new {final['version']}")
        print(f"active poisson model: {active['version']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url")
    parser.add_argument("--token")
    parser.add_argument("--league", action="append", dest="leagues")
    parser.add_argument("--timeout", type=float, default=300.0, help="for the training run")
    parser.add_argument("--wait", type=float, default=0.0, help="for /readyz to answer 200")
    args = parser.parse_args(argv)
    base = args.base_url.rstrip("/")
    try:
        asyncio.run(run(base, args.token, args.leagues or ["E0"], args.timeout, args.wait))
    except (CheckFailed, httpx.HTTPError, OSError, TimeoutError) as exc:
        print(f"smoke check failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print("smoke check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
