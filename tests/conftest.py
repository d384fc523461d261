"""Shared fixtures: paths to the real and synthetic data in ../shared/data, and factories."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
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


@pytest.fixture
async def database_url(request, tmp_path):
    """Factory: the URL of a new, empty database of the given dialect (dropped afterwards)."""
    import uuid

    import asyncpg

    created: list[str] = []

    async def make(dialect: str) -> str:
        if dialect == "sqlite":
            return f"sqlite+aiosqlite:///{tmp_path / f'fpe-{uuid.uuid4().hex[:8]}.sqlite3'}"
        server = request.getfixturevalue("postgres_url")
        name = f"fpe_test_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(server.replace("+asyncpg", ""))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        created.append(name)
        return server.rsplit("/", 1)[0] + f"/{name}"

    yield make
    if created:
        conn = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
        try:
            for name in created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture(params=["postgresql", "sqlite"])
async def engine(request, database_url):
    """A migrated database on each dialect: the same test runs against both."""
    from server import migrations
    from server.db import create_engine

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
