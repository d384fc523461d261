"""The package as a user installs it: build the wheel, install it in a fresh virtual
environment in a folder outside the source tree, and run the installed ``fpe`` against the
real PostgreSQL and Redis (``fpe db upgrade``, ``fpe ingest``, ``fpe serve``, ``fpe worker``).
Through that server, ``scripts/smoke_check.py`` checks the page and its assets, GraphiQL and
its assets, ``/readyz`` and one training run done by that worker."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import (
    FOOTBALL_DATA,
    create_database,
    delete_redis_keys,
    drop_databases,
    free_port,
    stop_process,
)

ROOT = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
pytestmark = pytest.mark.slow


def _run(*argv: str | Path, cwd: Path, env: dict | None = None, timeout: float = 600):
    return subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    done = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", out, ROOT, cwd=out)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (path,) = out.glob("football_probability_engine-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Iterator[tuple[Path, Path]]:
    """(bin folder of a fresh venv with the wheel installed, a work folder outside the tree)."""
    home = tmp_path_factory.mktemp("user")
    done = _run(sys.executable, "-m", "venv", home / "venv", cwd=home)
    assert done.returncode == 0, done.stderr
    done = _run(home / "venv" / "bin" / "pip", "install", "--quiet", wheel, cwd=home)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    yield home / "venv" / "bin", home


def test_the_wheel_carries_the_page_graphiql_migrations_and_the_kernel(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = [
        p.relative_to(ROOT).as_posix()
        for folder in ("server/static", "sql")
        for p in (ROOT / folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert sources and set(sources) <= names, set(sources) - names
    assert any(n.startswith("core/_kernel.") and n.endswith(".so") for n in names)


def test_installed_fpe_runs_from_outside_the_source_tree(installed):
    bin_dir, home = installed
    done = _run(bin_dir / "fpe", "--version", cwd=home)
    assert done.returncode == 0 and done.stdout.strip() == f"fpe {VERSION}", done
    where = _run(
        bin_dir / "python", "-c", "import core._kernel, server; print(server.__file__)", cwd=home
    )
    assert where.returncode == 0, where.stderr
    assert "site-packages" in where.stdout and str(ROOT) not in where.stdout


def test_an_unbuilt_source_tree_says_how_to_build_it(installed, tmp_path):
    """Fitting from inside a fresh clone (no compiled kernel, which shadows the installed
    package, as in the old Dockerfile) names the fix; ``core`` loads its exports on first
    use, so the first use is what fails."""
    bin_dir, _ = installed
    (tmp_path / "core").mkdir()
    for source in (ROOT / "core").glob("*.py"):
        (tmp_path / "core" / source.name).write_text(source.read_text())
    done = _run(bin_dir / "python", "-c", "from core import DixonColes", cwd=tmp_path)
    assert done.returncode == 1
    assert "core._kernel is missing" in done.stderr and "pip install -e ." in done.stderr
    assert "ModuleNotFoundError: No module named 'core._kernel'" in done.stderr  # the cause


async def test_installed_wheel_serves_the_page_graphiql_and_trains_on_a_worker(
    installed, postgres_url, redis_url
):
    bin_dir, home = installed
    seasons = [FOOTBALL_DATA / s / "E0.csv" for s in ("2122", "2223", "2324")]
    if not all(p.exists() for p in seasons):
        pytest.fail(f"shared data missing: {seasons}")
    db_url = await create_database(postgres_url)
    prefix = f"fpe-test-{uuid.uuid4().hex[:10]}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FPE_")},
        "FPE_DATABASE_URL": db_url,
        "FPE_REDIS_URL": redis_url,
        "FPE_REDIS_PREFIX": prefix,
        "FPE_DATA_DIR": str(home / "data"),
        "FPE_HEARTBEAT_SECONDS": "0.2",
    }
    procs: list[subprocess.Popen] = []
    try:
        for argv in (("db", "upgrade"), ("ingest", *seasons)):
            done = _run(bin_dir / "fpe", *argv, cwd=home, env=env)
            assert done.returncode == 0, (argv, done.stdout, done.stderr)
        port = free_port()
        for argv in (("worker",), ("serve", "--port", str(port), "--workers", "2")):
            procs.append(
                subprocess.Popen(
                    [bin_dir / "fpe", *argv],
                    cwd=home,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
        check = _run(
            bin_dir / "python",
            ROOT / "scripts" / "smoke_check.py",
            f"http://127.0.0.1:{port}",
            "--wait",
            "60",
            cwd=home,
            env=env,
        )
        errors = [p.stderr.read1().decode(errors="replace")[-2000:] for p in procs if p.poll()]
        assert check.returncode == 0, check.stdout + check.stderr + "\n".join(errors)
        assert "smoke check passed" in check.stdout
    finally:
        for proc in procs:
            stop_process(proc)
        await drop_databases([db_url])
        await delete_redis_keys(redis_url, prefix)
