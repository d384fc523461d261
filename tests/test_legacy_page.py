"""The legacy frontend's way of calling the REST shim, in real headless Chromium: a page of our
own (tests/legacy_client/) served from a different origin than ``fpe serve`` calls it with
``fetch`` (JSON content type on GETs, so every call is preflighted), starts a run with only a
model type, polls ``/api/tasks/{id}`` every 2 s until "completed" and lists the history."""

from __future__ import annotations

import functools
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import stop_process
from tests.test_page import ARTIFACTS, _serve, browser  # noqa: F401 - the fixture

CLIENT = Path(__file__).parent / "legacy_client"


@pytest.fixture
def page_origin() -> Iterator[str]:
    """The test page on its own HTTP server (another port: another origin)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(CLIENT))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_a_page_on_another_origin_trains_and_polls_to_completion(
    browser,  # noqa: F811
    seeded_url,
    tmp_path,
    page_origin,
):
    proc, api = await _serve(seeded_url, tmp_path, FPE_CORS_ORIGINS=page_origin)
    try:
        assert page_origin.rsplit(":", 1)[1] != api.rsplit(":", 1)[1]
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        sent: list[tuple[str, str, str | None]] = []
        page.on(
            "request",
            lambda r: (
                sent.append((r.method, r.url, r.headers.get("content-type")))
                if r.url.startswith(api)
                else None
            ),
        )
        await page.goto(f"{page_origin}/index.html?api={api}")
        await page.wait_for_function(
            "['completed', 'failed', 'cancelled', 'Training Failed']"
            ".includes(document.querySelector('#status').textContent)",
            timeout=120_000,
        )
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "legacy-client.png"), full_page=True)
        assert await page.text_content("#status") == "completed", await page.text_content("#error")
        assert errors == []
        assert "E0 Premier League (tier 1)" in await page.text_content("#leagues")
        assert await page.text_content("#model") == "No active model found"
        assert await page.text_content("#phase") == "Completed"

        # the history shows this run with its Brier score, as the API has it
        this_run = await page.text_content("#history li.this-run")
        async with httpx.AsyncClient(base_url=api) as client:
            history = (await client.get("/api/model/training-history")).json()["data"]
        brier = history[0]["brierScore"]
        assert f"Brier {brier:.4f}" in this_run and "poisson completed (active)" in this_run

        # how it called: JSON content type on every call, GETs included, and polling
        gets = [(m, u, c) for m, u, c in sent if m == "GET"]
        assert gets and all(c == "application/json" for _, _, c in gets)
        polls = [u for m, u, _ in sent if re.search(r"/api/tasks/\w+$", u)]
        assert len(polls) == await page.evaluate("window.polls.length") >= 1
        assert [m for m, u, _ in sent if u.endswith("/api/model/train")] == ["POST"]

        # every call was preflighted: the browser sent OPTIONS and the server allowed it
        async with httpx.AsyncClient(base_url=api) as client:
            metrics = (await client.get("/metrics")).text
        preflights = re.search(
            r'fpe_http_requests_total\{method="OPTIONS",route="unmatched",status="200"\} (\S+)',
            metrics,
        )
        assert preflights is not None and float(preflights.group(1)) >= 4  # one per URL
    finally:
        stop_process(proc)


async def test_a_page_on_an_origin_not_allowed_gets_nothing(
    browser,  # noqa: F811
    seeded_url,
    tmp_path,
    page_origin,
):
    proc, api = await _serve(seeded_url, tmp_path)  # the default FPE_CORS_ORIGINS
    try:
        page = await browser.new_page()
        await page.goto(f"{page_origin}/index.html?api={api}")
        await page.wait_for_function(
            "document.querySelector('#status').textContent === 'Training Failed'",
            timeout=30_000,
        )
        assert "Failed to fetch" in await page.text_content("#error")
        async with httpx.AsyncClient(base_url=api) as client:
            runs = (await client.get("/api/model/training-history")).json()
        assert runs == {"success": True, "data": [], "count": 0}  # the preflight stopped it
    finally:
        stop_process(proc)
