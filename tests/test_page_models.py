"""The page's Models tab in headless Chromium (issue 19): leagues and data-to per version,
candidates, a version's detail (per-league scores, calibration with bin counts, its run's
logs) and two versions compared; at desktop and phone widths."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import stop_process
from tests.test_page import SEASONS, _no_overflow, _serve, _shot, browser  # noqa: F401

TRAIN = "mutation($i: TrainingInput!) { startTraining(input: $i) { taskId } }"


async def _train(client, **input_) -> None:
    started = await client.post(
        "/graphql",
        json={
            "query": TRAIN,
            "variables": {"i": {"modelType": "POISSON", "seasons": SEASONS, **input_}},
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
        status = r.json()["data"]["task"]["status"]
        if status in ("COMPLETED", "FAILED", "CANCELLED"):
            assert status == "COMPLETED"
            return
        await asyncio.sleep(0.2)
    pytest.fail("training did not finish")


@pytest.fixture
async def two_models(seeded_url, tmp_path):
    import httpx

    proc, base = await _serve(seeded_url, tmp_path)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            await _train(client, leagues=["E0"])
            await _train(
                client, leagues=["E0", "E1"], activate="NEVER", hyperparameters={"xi": 0.004}
            )
        yield base
    finally:
        stop_process(proc)


@pytest.mark.parametrize("width", ["desktop", "phone"])
async def test_models_detail_and_compare(browser, two_models, width):  # noqa: F811
    size = {"desktop": (1280, 900), "phone": (390, 844)}[width]
    page = await browser.new_page(viewport={"width": size[0], "height": size[1]})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(two_models + "/")
    await page.click('nav button[data-tab="models"]')
    await page.wait_for_selector("#models tbody tr .badge.candidate")
    rows = await page.eval_on_selector_all(
        "#models tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent.trim()))"
    )
    assert [r[2] for r in rows] == ["candidate", "active"]
    assert [r[3] for r in rows] == ["E0, E1", "E0"]
    assert [r[4] for r in rows] == ["2025-05-25", "2025-05-25"]
    await _no_overflow(page, size[0])

    # a version in detail
    await page.click("#models tbody tr:first-child button[data-action='detail']")
    await page.wait_for_selector("#model-detail:not([hidden])")
    assert "candidate" in await page.text_content("#detail-title")
    leagues = await page.eval_on_selector_all(
        "#detail-leagues tbody tr", "rs => rs.map(r => r.cells[0].textContent)"
    )
    assert leagues == ["E0", "E1"]
    validation = int(rows[0][6])
    for outcome in ("home", "draw", "away"):
        counts = await page.eval_on_selector_all(
            f"#detail-calibration tr:has(th:text-is('{outcome}')) td",
            "ts => ts.map(t => Number(t.dataset.count))",
        )
        assert len(counts) == 10 and sum(counts) == validation
    logs = await page.text_content("#detail-logs")
    assert "refitted on all" in logs and "kept as a candidate: activate: never" in logs
    await _no_overflow(page, size[0])
    await _shot(page, f"models-detail-{width}")

    # two versions compared
    assert await page.is_disabled("#compare-models")
    for box in await page.query_selector_all("#models input[data-compare]"):
        await box.check()
    assert await page.is_enabled("#compare-models")
    await page.click("#compare-models")
    await page.wait_for_selector("#model-compare:not([hidden]) #compare-paired tbody tr")
    paired = await page.eval_on_selector_all(
        "#compare-paired tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent.trim()))"
    )
    assert [r[0] for r in paired] == ["overall", "E0"] and int(paired[0][1]) > 0
    differs = await page.eval_on_selector_all(
        "#compare-settings tbody tr:has(td.differs)", "rs => rs.map(r => r.cells[0].textContent)"
    )
    assert "xi" in differs and "scope" in differs and "l2" not in differs
    assert await page.locator("#compare-calibration td[data-count]").count() == 60
    assert "paired on the" in await page.text_content("#compare-note")
    await _no_overflow(page, size[0])
    await _shot(page, f"models-compare-{width}")

    # the candidate activated by hand: both active (other leagues)
    await page.click("#models tbody tr:first-child button[data-action='activate']")
    await page.wait_for_function(
        "document.querySelectorAll('#models tbody .badge.active').length === 2"
    )
    assert errors == []
