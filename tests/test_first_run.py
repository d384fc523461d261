"""The README's first command in a fresh clone: it installs everything, creates the
embedded database, downloads seasons (from a local mirror of football-data.co.uk) and
serves the page and the API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_scripts_run_in_a_fresh_clone(tmp_path, football_data_server):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FPE_", "VIRTUAL_ENV"))}
    env.update(
        FPE_DATA_DIR=str(tmp_path / "data"),
        FPE_DOWNLOAD_BASE_URL=football_data_server,
        FPE_PORT=str(port),
        PYTHON=sys.executable,
    )
    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen(
        ["bash", "scripts/run"],
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600  # a fresh virtualenv: pip installs everything
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(1)
        else:
            pytest.fail("scripts/run did not serve within 10 minutes")
        leagues = httpx.get(f"{base}/api/model/leagues").json()["data"]
        assert {lg["code"] for lg in leagues} == {"E0", "SP1", "D1", "I1", "F1"}
        query = {"query": "{ leagues { code seasons } }"}
        leagues = httpx.post(f"{base}/graphql", json=query).json()["data"]["leagues"]
        assert all(lg["seasons"] == ["2425", "2324"] for lg in leagues)
        assert "ML Training" in httpx.get(f"{base}/").text
        assert httpx.get(f"{base}/graphql", headers={"accept": "text/html"}).status_code == 200
        assert (tmp_path / "data" / "fpe.sqlite3").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
