"""The live training page in real headless Chromium (Debian's chromium, driven by
Playwright): configure and run, watch progress to the end, history, models, cancel, predict,
fixtures, GraphiQL subscriptions; every view at desktop and phone widths (no sideways
overflow at 390 px).  Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest

from server.api.rest import PHASES
from server.cli.predict import FIXTURE_COLUMNS
from tests.conftest import REQUIRE, start_server, stop_process

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SEASONS = ["2122", "2223", "2324", "2425"]
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser():
    if CHROMIUM is None:
        if REQUIRE:
            pytest.fail("chromium is not installed (scripts/test installs it with apt-get)")
        pytest.skip("chromium is not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        instance = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        await instance.close()


async def _serve(seeded_url, tmp_path, **env_extra):
    env = {
        **os.environ,
        "FPE_DATABASE_URL": await seeded_url("sqlite"),
        "FPE_DATA_DIR": str(tmp_path),
        "FPE_HEARTBEAT_SECONDS": "0.2",
        **env_extra,
    }
    env.pop("FPE_REDIS_URL", None)  # embedded: training runs in the server process
    return await start_server(env)


@pytest.fixture
async def server(seeded_url, tmp_path):
    proc, base = await _serve(seeded_url, tmp_path)
    yield base
    stop_process(proc)


async def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


VIEWS = ("train", "history", "models", "predict", "fixtures")
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


async def _no_overflow(page, width: int) -> None:
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"the page is {scroll} px wide at {width} px"


async def _train_via_api(base: str, leagues: list[str]) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        started = await client.post(
            "/graphql",
            json={
                "query": "mutation($i: TrainingInput!) { startTraining(input: $i) { taskId } }",
                "variables": {"i": {"modelType": "FULL", "leagues": leagues, "seasons": SEASONS}},
            },
        )
        task = started.json()["data"]["startTraining"]["taskId"]
        for _ in range(600):
            r = await client.post(
                "/graphql",
                json={
                    "query": "query($t: String!) { task(taskId: $t) { status } }",
                    "variables": {"t": task},
                },
            )
            if r.json()["data"]["task"]["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
                assert r.json()["data"]["task"]["status"] == "COMPLETED"
                return
            await asyncio.sleep(0.2)
    pytest.fail("training did not finish")


async def _configure(page, leagues: list[str], seasons: list[str], model_type: str) -> None:
    await page.wait_for_selector('input[name="league"]')
    for code in leagues:
        await page.check(f'input[name="league"][value="{code}"]')
    for season in seasons:
        await page.check(f'input[name="season"][value="{season}"]')
    await page.check(f'input[name="modelType"][value="{model_type}"]')


async def test_train_watch_history_models_cancel_predict(browser, server):
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(server + "/")

    # configure: leagues from the API, seasons follow the leagues, a summary
    await _configure(page, ["E0"], SEASONS, "FULL")
    summary = await page.text_content("#summary")
    assert "full model on E0" in summary and "2425" in summary
    await page.click("#toggle-config")
    assert await page.is_hidden("#config")
    await page.click("#toggle-config")

    # start and watch the live progress reach the end
    await page.click("#start")
    await page.wait_for_selector("#run:not([hidden])")
    await page.wait_for_function(
        "document.querySelector('#phase').textContent === 'completed'", timeout=90_000
    )
    assert await page.get_attribute(".progress", "aria-valuenow") == "100"
    await page.wait_for_timeout(400)  # let the bar's CSS transition finish
    metrics = await page.text_content("#final-metrics")
    assert "model" in metrics and "market" in metrics
    assert (await page.text_content("#promotion")).endswith("is active")  # promoted (auto)
    await _shot(page, "1-run-completed")

    # history: the run with a green badge
    await page.click('nav button[data-tab="history"]')
    await page.wait_for_selector("#history tbody tr")
    assert await page.text_content("#history tbody tr .badge") == "completed"
    await _shot(page, "2-history")

    # models: the new model is active, with a calibration chart and team strengths
    await page.click('nav button[data-tab="models"]')
    await page.wait_for_selector("#models tbody tr .badge.active")
    await page.wait_for_selector("#calibration path[data-outcome='home']")
    assert await page.locator("#strengths circle").count() > 10
    await _shot(page, "3-models")

    # a second, slow run: cancel it while it trains
    await page.click('nav button[data-tab="train"]')
    await page.uncheck('input[name="season"][value="2122"]')
    await page.check('input[name="league"][value="E1"]')
    await page.click("#clear-seasons")
    await page.click("#advanced summary")
    await page.fill('input[name="refitDays"]', "1")
    await page.click("#start")
    await page.wait_for_function(
        "parseFloat(document.querySelector('.progress').getAttribute('aria-valuenow')) > 2 "
        "&& document.querySelector('#phase').textContent !== 'completed'",
        timeout=60_000,
    )
    phase = await page.text_content("#phase")
    assert phase in PHASES.values(), f"the badge shows {phase!r}, not a phase in words"
    await page.click("#cancel")
    await page.wait_for_function(
        "document.querySelector('#phase').textContent === 'cancelled'", timeout=10_000
    )
    await _shot(page, "4-cancelled")

    # predict: league, two teams, 1X2 and the score grid heat map
    await page.click('nav button[data-tab="predict"]')
    await page.wait_for_selector("#predict-home option", state="attached")
    await page.select_option("#predict-league", "E0")
    await page.wait_for_function("document.querySelector('#predict-home').options.length > 10")
    await page.select_option("#predict-home", "Arsenal")
    await page.select_option("#predict-away", "Chelsea")
    await page.click("#predict-form button")
    await page.wait_for_selector("#prediction:not([hidden])")
    shares = [await page.text_content(s) for s in ("#p-home", "#p-draw", "#p-away")]
    assert abs(sum(float(s.rstrip("%")) for s in shares) - 100) < 0.2
    assert await page.locator("#grid tr").count() == 8
    await _shot(page, "5-predict")
    # the model's leagues only (E0), and odds give the market and the edges
    options = "os => os.map(o => o.value)"
    leagues = await page.eval_on_selector_all("#predict-league option", options)
    assert leagues == ["E0"]
    for name, price in (("oddsHome", "2.1"), ("oddsDraw", "3.5"), ("oddsAway", "3.6")):
        await page.fill(f'input[name="{name}"]', price)
    await page.click("#predict-form button")
    await page.wait_for_function("document.querySelector('#edges').textContent.includes('edge')")
    # charts: tick values on both axes, team labels that do not overlap
    await page.click('nav button[data-tab="models"]')
    await page.wait_for_selector("#strengths .tick-x")
    assert await page.locator("#calibration .tick-y").count() >= 5
    boxes = await page.eval_on_selector_all(
        "#strengths text.label",
        "ts => ts.map(t => { const b = t.getBBox(); return [b.x, b.y, b.width, b.height]; })",
    )
    assert len(boxes) > 5
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = (
                a[0] + a[2] <= b[0]
                or b[0] + b[2] <= a[0]
                or a[1] + a[3] <= b[1]
                or (b[1] + b[3] <= a[1])
            )
            assert apart, (a, b)
    assert errors == []


async def test_validation_errors_are_shown_next_to_the_field(browser, server):
    page = await browser.new_page()
    await page.goto(server + "/")
    await _configure(page, ["E0"], [], "POISSON")
    await page.fill('input[name="dateFrom"]', "2024-05-01")
    await page.fill('input[name="dateTo"]', "2023-05-01")
    await page.click("#start")
    error = page.locator('[data-error-for="dateFrom"]')
    await error.wait_for()
    # named as the form labels them (From, To), not as the API spells them
    assert await error.text_content() == "“From” 2024-05-01 is after “To” 2023-05-01"
    await _shot(page, "6-validation-error")


async def test_the_page_asks_for_the_token_once(browser, seeded_url, tmp_path):
    proc, base = await _serve(seeded_url, tmp_path, FPE_API_TOKEN="page-secret")
    try:
        page = await browser.new_page()
        await page.goto(base + "/")
        await _configure(page, ["E0"], SEASONS, "POISSON")
        await page.click("#start")
        await page.wait_for_selector("#token-dialog[open]")
        await page.fill("#token-dialog input", "page-secret")
        await page.click("#token-dialog button")
        await page.wait_for_function(
            "document.querySelector('#phase').textContent === 'completed'", timeout=90_000
        )
        stored = await page.evaluate("sessionStorage.getItem('fpe-token')")
        assert stored == "page-secret"
    finally:
        stop_process(proc)


async def test_graphiql_runs_a_subscription_over_the_websocket(browser, server):
    """GraphiQL's fetcher sends subscriptions over graphql-transport-ws: a training run
    started elsewhere shows up live in the response pane."""
    import httpx

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    query = "subscription Live { trainingEvents { taskId status } }"
    await page.goto(server + "/graphql?q=" + quote(query))
    await page.click(".graphiql-execute-button")
    await page.wait_for_function("document.querySelector('.graphiql-execute-button svg') !== null")
    await page.wait_for_timeout(500)  # the socket is open and subscribed
    async with httpx.AsyncClient(base_url=server) as client:
        started = await client.post(
            "/graphql",
            json={
                "query": "mutation($i: TrainingInput!) { startTraining(input: $i) { taskId } }",
                "variables": {"i": {"modelType": "POISSON", "leagues": ["E0"]}},
            },
        )
    task_id = started.json()["data"]["startTraining"]["taskId"]
    await page.wait_for_function(
        f"document.querySelector('.graphiql-response').textContent.includes('{task_id}')",
        timeout=30_000,
    )
    assert sockets and sockets[0].startswith("ws://") and sockets[0].endswith("/graphql")
    await _shot(page, "graphiql-subscription")
    assert errors == []


async def test_every_view_at_desktop_and_phone_width_with_fixtures(browser, server, fixtures_csv):
    """Each view screenshotted at both widths without sideways overflow; the Fixtures view
    predicts a pasted fixtures.csv (unknown team and league reported per row) and exports
    CSV; the header, tables and charts fit a 390 px phone."""
    await _train_via_api(server, ["E0", "E1"])
    text = fixtures_csv().read_text()
    errors: list[str] = []
    for label, (width, height) in WIDTHS.items():
        page = await browser.new_page(viewport={"width": width, "height": height})
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(server + "/")
        assert await page.title() == "Football Probability Engine"
        await page.wait_for_selector('input[name="league"]')
        for view in VIEWS:
            await page.click(f'nav button[data-tab="{view}"]')
            if view == "history":
                await page.wait_for_selector("#history tbody tr")
            if view == "models":
                await page.wait_for_selector("#strengths .team")
                # more than 40 teams: no labels, the name on keyboard focus
                assert await page.locator("#strengths text.label").count() == 0
                await page.focus("#strengths .team")
                tip = page.locator("#strengths .tip")
                assert await tip.get_attribute("visibility") == "visible"
                assert await tip.text_content()
            if view == "predict":
                await page.wait_for_function(
                    "document.querySelector('#predict-home').options.length > 10"
                )
                await page.click("#predict-form button")
                await page.wait_for_selector("#prediction:not([hidden])")
            if view == "fixtures":
                await page.wait_for_selector("#fixtures-league option", state="attached")
                await page.fill("#fixtures-text", text)
                await page.click("#fixtures-run")
                await page.wait_for_selector("#fixtures-table:not([hidden]) tbody tr")
                rows = page.locator("#fixtures-table tbody tr")
                assert await rows.count() == 12
                bad = page.locator("#fixtures-table tbody tr.bad")
                assert await bad.count() == 2
                assert "no team called 'Atlantis'" in await bad.nth(0).text_content()
                first = await rows.nth(0).text_content()
                assert "Bournemouth v Leicester" in first and "%" in first
                async with page.expect_download() as download:
                    await page.click("#fixtures-export")
                exported = Path(await (await download.value).path()).read_text()
                rows_out = list(csv.DictReader(io.StringIO(exported)))
                assert tuple(rows_out[0]) == FIXTURE_COLUMNS  # the CLI's --csv columns
                assert len(rows_out) == 12 and rows_out[0]["league"] == "E0"
                assert rows_out[0]["date"] and rows_out[0]["model"].startswith("full-")
                assert rows_out[10]["error"] and not rows_out[10]["model"]
            await page.wait_for_timeout(300)
            await _no_overflow(page, width)
            await _shot(page, f"view-{view}-{label}")
        # typed fixtures for a chosen league, one with odds
        await page.fill("#fixtures-text", "Arsenal v Chelsea 2.10 3.50 3.60\nLiverpool v Everton")
        await page.click("#fixtures-run")
        await page.wait_for_function(
            "document.querySelectorAll('#fixtures-table tbody tr').length === 2"
        )
        edges = await page.locator("#fixtures-table tbody tr").nth(0).text_content()
        assert edges.count("%") == 8  # 1X2, over 2.5, BTTS and three edges
        # a request that fails leaves no stale results under its error
        await page.fill("#fixtures-text", "not a fixture")
        await page.click("#fixtures-run")
        await page.wait_for_selector("#fixtures-table", state="hidden")
        assert "Home v Away" in await page.text_content("#fixtures-error")
        assert await page.is_disabled("#fixtures-export")
        assert errors == []
        await page.close()
