"""Shared fixtures: paths to the real and synthetic data in ../shared/data, and factories."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# FPE_SHARED_DATA: the data of a checkout that is not next to ../shared (a git worktree)
SHARED_DATA = Path(
    os.environ.get("FPE_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
FOOTBALL_DATA = SHARED_DATA / "football-data"
SYNTHETIC = SHARED_DATA / "synthetic"
# CI sets this: then missing services or shared data fail the run instead of skipping.
REQUIRE = bool(os.environ.get("FPE_REQUIRE_SERVICES"))

_SYNTHETIC_COLUMNS = {
    "team_home": "home_team",
    "team_away": "away_team",
    "goals_home": "home_goals",
    "goals_away": "away_goals",
}


def _need(path: Path) -> Path:
    if not path.exists():
        if REQUIRE:
            pytest.fail(f"shared data not found at {path}")
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture(scope="session")
def football_data_dir() -> Path:
    return _need(FOOTBALL_DATA)


@pytest.fixture
def fixtures_csv(football_data_dir, tmp_path) -> Callable[[], Path]:
    """Factory: the last round of E0 2024/25 as a football-data.co.uk fixtures.csv (results
    and closing prices removed), plus a row with an unknown team (line 12) and one with an
    unknown division (line 13)."""
    import csv
    import re

    pre_match = re.compile(
        r"(Div|Date|Time|HomeTeam|AwayTeam|(B365|BW|BF|PS|WH|1XB|Max|Avg|BFE)[HDA]"
        r"|(B365|P|Max|Avg|BFE)[<>]2\.5)"
    )

    def make() -> Path:
        with (football_data_dir / "2425" / "E0.csv").open(encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
        keep = [i for i, c in enumerate(rows[0]) if pre_match.fullmatch(c)]
        path = tmp_path / "fixtures.csv"
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            for row in [rows[0], *rows[-10:]]:
                writer.writerow([row[i] for i in keep])
            writer.writerow(["E0", "25/05/2025", "16:00", "Atlantis", "Chelsea"])
            writer.writerow(["X9", "25/05/2025", "16:00", "Arsenal", "Chelsea"])
        return path

    return make


@pytest.fixture(scope="session")
def synthetic() -> Callable[[str], pd.DataFrame]:
    """Load ``../shared/data/synthetic/<name>.csv`` with the estimator's column names."""
    cache: dict[str, pd.DataFrame] = {}

    def load(name: str) -> pd.DataFrame:
        if name not in cache:
            frame = pd.read_csv(_need(SYNTHETIC / f"{name}.csv"))
            if "date" in frame:
                frame["date"] = pd.to_datetime(frame["date"])
            cache[name] = frame.rename(columns=_SYNTHETIC_COLUMNS)
        return cache[name].copy()

    return load


@pytest.fixture
def make_matches() -> Callable[..., pd.DataFrame]:
    """Factory: a simulated league (double round robin per season) from known parameters.

    Returns a frame with date, home_team, away_team, home_goals, away_goals; the true
    parameters are in ``frame.attrs``.
    """

    def make(
        n_teams: int = 10,
        seasons: int = 2,
        home: float = 0.25,
        rho: float = 0.0,
        seed: int = 0,
        spread: float = 0.3,
    ) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        teams = [f"T{i:02d}" for i in range(n_teams)]
        attack = rng.normal(0, spread, n_teams)
        attack -= attack.mean()
        defence = rng.normal(0, spread, n_teams) - 0.2
        rows = []
        day = pd.Timestamp("2020-08-01")
        for _ in range(seasons):
            for i in range(n_teams):
                for j in range(n_teams):
                    if i == j:
                        continue
                    lam = np.exp(home + attack[i] - defence[j])
                    mu = np.exp(attack[j] - defence[i])
                    x, y = _draw_score(rng, lam, mu, rho)
                    rows.append((day, teams[i], teams[j], x, y))
                    day += pd.Timedelta(days=1)
        frame = pd.DataFrame(
            rows, columns=["date", "home_team", "away_team", "home_goals", "away_goals"]
        )
        frame.attrs.update(
            teams=teams, attack=attack.tolist(), defence=defence.tolist(), home=home, rho=rho
        )
        return frame

    return make


def _draw_score(rng: np.random.Generator, lam: float, mu: float, rho: float) -> tuple[int, int]:
    """Rejection sampling from the Dixon-Coles score distribution."""
    bound = max(1.0 - lam * mu * rho, 1.0 + lam * rho, 1.0 + mu * rho, 1.0 - rho, 1.0)
    while True:
        x, y = int(rng.poisson(lam)), int(rng.poisson(mu))
        tau = 1.0
        if x == 0 and y == 0:
            tau = 1.0 - lam * mu * rho
        elif x == 0 and y == 1:
            tau = 1.0 + lam * rho
        elif x == 1 and y == 0:
            tau = 1.0 + mu * rho
        elif x == 1 and y == 1:
            tau = 1.0 - rho
        if rng.random() * bound <= tau:
            return x, y


# --- databases -------------------------------------------------------------------------------

POSTGRES_URL = os.environ.get(
    "FPE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable() -> str | None:
    """None when the test server accepts connections, else the reason."""
    import socket

    from sqlalchemy.engine import make_url

    url = make_url(POSTGRES_URL)
    try:
        socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=3).close()
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the PostgreSQL server the tests create their databases on."""
    reason = _postgres_reachable()
    if reason is not None:
        message = f"PostgreSQL not reachable at {POSTGRES_URL}: {reason}"
        if REQUIRE:
            pytest.fail(message)
        pytest.skip(message)
    return POSTGRES_URL


async def create_database(server: str, template: str | None = None) -> str:
    """A new PostgreSQL database on ``server`` (a copy of ``template``); its URL."""
    import uuid

    import asyncpg

    name = f"fpe_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template else ""
    conn = await asyncpg.connect(server.replace("+asyncpg", ""))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"{copy}')
    finally:
        await conn.close()
    return server.rsplit("/", 1)[0] + f"/{name}"


async def drop_databases(urls: list[str]) -> None:
    if not urls:
        return
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    try:
        for url in urls:
            await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def database_url(request, tmp_path):
    """Factory: the URL of a new, empty database of the given dialect (dropped afterwards)."""
    import uuid

    created: list[str] = []

    async def make(dialect: str) -> str:
        if dialect == "sqlite":
            return f"sqlite+aiosqlite:///{tmp_path / f'fpe-{uuid.uuid4().hex[:8]}.sqlite3'}"
        url = await create_database(request.getfixturevalue("postgres_url"))
        created.append(url)
        return url

    yield make
    await drop_databases(created)


@pytest.fixture(params=["postgresql", "sqlite"])
async def engine(request, database_url):
    """A migrated database on each dialect: the same test runs against both."""
    from server.store import migrations
    from server.store.db import create_engine

    eng = create_engine(await database_url(request.param))
    await migrations.upgrade(eng)
    yield eng
    await eng.dispose()


@pytest.fixture(scope="session")
def football_data_server(football_data_dir):
    """A local HTTP server laid out like football-data.co.uk's mmz4281/ folder, serving the
    shared files; ``/broken/...`` answers 500."""
    import functools
    import http.server
    import threading

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/broken/"):
                self.send_error(500, "Internal Server Error")
                return
            super().do_GET()

        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Handler, directory=str(football_data_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# --- seeded databases and Redis ----------------------------------------------------------------

SEED_FILES = ("*/E0.csv", "*/E1.csv")


@pytest.fixture(scope="session")
def _seed_templates(tmp_path_factory):
    """Per dialect, a migrated database with E0 and E1 2015/16-2024/25 ingested once; tests
    get copies (PostgreSQL ``CREATE DATABASE ... TEMPLATE``, SQLite a file copy)."""
    return {"dir": tmp_path_factory.mktemp("seed"), "made": {}}


async def _make_template(dialect: str, templates: dict, server: str | None) -> str:
    import uuid

    import asyncpg

    from server.store import migrations
    from server.store.db import create_engine
    from server.store.ingest import ingest_paths

    if dialect in templates["made"]:
        return templates["made"][dialect]
    if dialect == "sqlite":
        url = f"sqlite+aiosqlite:///{templates['dir'] / 'seed.sqlite3'}"
    else:
        name = f"fpe_seed_{uuid.uuid4().hex[:10]}"
        conn = await asyncpg.connect(server.replace("+asyncpg", ""))
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        url = server.rsplit("/", 1)[0] + f"/{name}"
    engine = create_engine(url)
    await migrations.upgrade(engine)
    files = [p for pattern in SEED_FILES for p in sorted(FOOTBALL_DATA.glob(pattern))]
    reports = await ingest_paths(engine, files)
    assert all(r.ok for r in reports)
    await engine.dispose()
    templates["made"][dialect] = url
    return url


@pytest.fixture
async def seeded_url(request, _seed_templates, tmp_path):
    """Factory: a fresh copy of the seeded database (E0 and E1, ten seasons)."""
    import shutil
    import uuid

    _need(FOOTBALL_DATA)
    created: list[str] = []

    async def make(dialect: str) -> str:
        server = request.getfixturevalue("postgres_url") if dialect == "postgresql" else None
        template = await _make_template(dialect, _seed_templates, server)
        if dialect == "sqlite":
            target = tmp_path / f"fpe-{uuid.uuid4().hex[:8]}.sqlite3"
            shutil.copy(template.split("///", 1)[1], target)
            return f"sqlite+aiosqlite:///{target}"
        url = await create_database(server, template=template)
        created.append(url)
        return url

    yield make
    await drop_databases(created)


@pytest.fixture(scope="session", autouse=True)
def _drop_seed_databases(_seed_templates):
    yield
    import asyncio

    import asyncpg

    names = [u.rsplit("/", 1)[1] for d, u in _seed_templates["made"].items() if d != "sqlite"]
    if not names:
        return

    async def drop() -> None:
        conn = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    asyncio.run(drop())


REDIS_URL = os.environ.get("FPE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url() -> str:
    import socket

    from redis.connection import parse_url

    info = parse_url(REDIS_URL)
    try:
        socket.create_connection(
            (info.get("host", "127.0.0.1"), info.get("port", 6379)), timeout=3
        ).close()
    except OSError as exc:
        message = f"Redis not reachable at {REDIS_URL}: {exc}"
        if REQUIRE:
            pytest.fail(message)
        pytest.skip(message)
    return REDIS_URL


@pytest.fixture
async def redis_prefix(redis_url):
    """A key prefix of this test's own; its keys are deleted afterwards."""
    import uuid

    prefix = f"fpe-test-{uuid.uuid4().hex[:10]}"
    yield prefix
    await delete_redis_keys(redis_url, prefix)


async def delete_redis_keys(redis_url: str, prefix: str) -> None:
    """Every key with ``prefix`` in its name: ours and arq's (``arq:job:<prefix>...``)."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    keys = [k async for k in client.scan_iter(match=f"*{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


# --- servers in subprocesses ------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_server(env: dict[str, str], *extra_args: str):
    """``fpe serve`` in a subprocess on a free port; returns (process, base URL) once
    ``/readyz`` answers 200."""
    import subprocess
    import sys

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
            *extra_args,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    if await wait_ready(proc, base, seconds=30):
        return proc, base
    stop_process(proc)
    raise RuntimeError(f"fpe serve did not start: {proc.stderr.read().decode()[-2000:]}")


async def wait_ready(proc, base: str, seconds: float) -> bool:
    """Poll ``base``/readyz until it answers 200 (True), the process exits or ``seconds``
    pass (False)."""
    import asyncio

    import httpx

    async with httpx.AsyncClient() as client:
        for _ in range(int(seconds * 10)):
            if proc.poll() is not None:
                return False
            try:
                if (await client.get(f"{base}/readyz")).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    return False


def stop_process(proc) -> None:
    import subprocess

    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stderr is not None and not proc.stderr.closed:
        proc.stderr.close()


# --- the API in-process ---------------------------------------------------------------------


@pytest.fixture
async def make_api(seeded_url, tmp_path):
    """Factory: (app, httpx client) on a seeded database; embedded (in-process training)."""
    import contextlib

    import httpx

    from server.api.app import create_app
    from server.base.config import Settings

    stack = contextlib.AsyncExitStack()

    async def make(dialect: str = "sqlite", **settings_kw):
        settings = Settings(
            database_url=await seeded_url(dialect),
            data_dir=tmp_path,
            heartbeat_seconds=0.2,
            stale_seconds=5.0,
            **settings_kw,
        )
        app = create_app(settings)
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")
        )
        return app, client

    yield make
    await stack.aclose()


@pytest.fixture
async def api(make_api):
    """An embedded API on SQLite with no token; ``(app, client)``."""
    return await make_api("sqlite")
