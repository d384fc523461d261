"""A version's betting evaluation on the page's Models tab in headless Chromium (issue 21):
"Evaluate bets" waits visibly, then shows per price source the bets, ROI, Kelly growth and
closing-line value with their intervals, overall and per league, and a reading derived from
the intervals; the figures are the GraphQL ``evaluation``'s."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import stop_process
from tests.test_page import _no_overflow, _serve, _shot, _train_via_api, browser  # noqa: F401

EVALUATION = """query($v: String!) { evaluation(version: $v) { n inSampleMatches
  forecasts heldOut skippedWithoutForecast matchesWithoutMarket betting { sources { source
    overall { bets roi roiCi { low high } clv clvCi { low high } }
    leagues { league stats { bets roi roiCi { low high } kellyGrowthPerBet
      kellyGrowthCi { low high } clv clvCi { low high } } } } } } }"""


@pytest.fixture
async def trained_server(seeded_url, tmp_path):
    proc, base = await _serve(seeded_url, tmp_path)
    try:
        await _train_via_api(base, ["E0", "E1"])
        yield base
    finally:
        stop_process(proc)


MINUS = "\u2212"  # the page's minus sign


def _signed(value: float, digits: int = 1) -> str:
    return f"{'+' if value >= 0 else MINUS}{abs(100 * value):.{digits}f}%"


def _with_ci(value: float, ci: dict | None, digits: int = 1) -> str:
    interval = f" [{_signed(ci['low'], digits)}, {_signed(ci['high'], digits)}]" if ci else ""
    return _signed(value, digits) + interval


async def test_a_version_s_bets_evaluated_on_the_page(browser, trained_server):  # noqa: F811
    import httpx

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # hold the evaluation's request until the wait state has been seen
    release = asyncio.Event()

    async def hold(route):
        if "evaluation(" in (route.request.post_data or ""):
            await release.wait()
        await route.continue_()

    await page.route("**/graphql", hold)

    async def evaluate_again() -> None:
        """Click "Evaluate bets" once more: the old figures hide while it waits."""
        release.clear()
        await page.click("#evaluate-bets")
        await page.wait_for_selector("#bets[hidden]", state="attached")
        release.set()
        await page.wait_for_selector("#bets:not([hidden]) table.bets")

    await page.goto(trained_server + "/")
    await page.click('nav button[data-tab="models"]')
    await page.wait_for_selector("#models tbody tr .badge.active")
    version = await page.get_attribute("#models tbody tr:first-child", "data-version")
    await page.click("#models tbody tr:first-child button[data-action='detail']")
    await page.wait_for_selector("#model-detail:not([hidden])")
    assert await page.is_hidden("#bets")

    await page.click("#evaluate-bets")
    await page.wait_for_selector("#evaluate-bets:disabled")
    assert f"Evaluating {version}" in await page.text_content("#bets-status")
    release.set()
    await page.wait_for_selector("#bets:not([hidden]) table.bets")
    assert (await page.text_content("#bets-status")).startswith("Evaluated in")
    assert await page.is_enabled("#evaluate-bets")

    async with httpx.AsyncClient(base_url=trained_server, timeout=60) as client:
        answer = await client.post(
            "/graphql", json={"query": EVALUATION, "variables": {"v": version}}
        )
    e = answer.json()["data"]["evaluation"]
    sources = [s["source"] for s in e["betting"]["sources"]]
    assert sources[0] == "max_pre"
    tables = await page.eval_on_selector_all("table.bets", "ts => ts.map(t => t.dataset.source)")
    assert tables == sources
    for s in e["betting"]["sources"]:
        rows = await page.eval_on_selector_all(
            f"table.bets[data-source='{s['source']}'] tbody tr",
            "rs => rs.map(r => [...r.cells].map(c => c.textContent.trim()))",
        )
        assert [r[0] for r in rows] == ["all leagues", "E0", "E1"]
        o = s["overall"]
        assert int(rows[0][1]) == o["bets"] > 0
        assert sum(int(r[1]) for r in rows[1:]) == o["bets"]
        assert rows[0][2] == _with_ci(o["roi"], o["roiCi"])
        assert rows[0][5] == _with_ci(o["clv"], o["clvCi"])
        e1 = s["leagues"][1]["stats"]
        assert rows[2][3] == _with_ci(e1["kellyGrowthPerBet"], e1["kellyGrowthCi"], 2)
        assert rows[0][4].startswith("\u00d7")  # the bankroll multiple

    # the reading follows the intervals
    reading = await page.eval_on_selector_all(
        "#bets-reading li", "ls => ls.map(l => l.textContent)"
    )
    # by default the version's held-out forecasts: out of sample, no in-sample caveat
    assert e["heldOut"] and e["inSampleMatches"] == 0 == e["skippedWithoutForecast"]
    assert reading[0].startswith("Held-out forecasts: each made by the fit on the data before")
    assert not any("in-sample matches" in line for line in reading[1:])
    for s, line in zip(e["betting"]["sources"], reading[1:], strict=True):
        ci = s["overall"]["roiCi"]
        expected = (
            "interval below 0"
            if ci["high"] < 0
            else "interval above 0"
            if ci["low"] > 0
            else "ROI interval includes 0"
        )
        assert f"{s['overall']['bets']} bets: " in line and expected in line, line
    scope = await page.text_content("#bets-scope")
    assert "E0, E1" in scope and "validation period" in scope
    assert "forecasts: held-out forecasts of the validation fit;" in scope
    await _shot(page, "models-betting-desktop")

    # the stored model's forecasts instead: in-sample on the validation matches, and said so
    await page.select_option("#bets-forecasts", "stored")
    await evaluate_again()
    async with httpx.AsyncClient(base_url=trained_server, timeout=60) as client:
        answer = await client.post(
            "/graphql",
            json={
                "query": EVALUATION.replace("$v: String!", "$v: String!, $h: Boolean").replace(
                    "evaluation(version: $v)", "evaluation(version: $v, heldOut: $h)"
                ),
                "variables": {"v": version, "h": False},
            },
        )
    stored = answer.json()["data"]["evaluation"]
    assert (
        not stored["heldOut"]
        and stored["inSampleMatches"] == stored["n"] + stored["matchesWithoutMarket"]
    )
    reading = await page.eval_on_selector_all(
        "#bets-reading li", "ls => ls.map(l => l.textContent)"
    )
    assert not reading[0].startswith("Held-out")
    assert any("are in-sample" in line for line in reading)
    first = stored["betting"]["sources"][0]["overall"]
    rows = await page.eval_on_selector_all(
        "table.bets[data-source='max_pre'] tbody tr",
        "rs => rs.map(r => [...r.cells].map(c => c.textContent.trim()))",
    )
    assert int(rows[0][1]) == first["bets"] and rows[0][2] == _with_ci(first["roi"], first["roiCi"])
    await page.select_option("#bets-forecasts", "held-out")

    # dates narrow the selection: the version's leagues from 2025-01-01
    await page.fill("#bets-from", "2025-01-01")
    await evaluate_again()
    scope = await page.text_content("#bets-scope")
    assert "of E0, E1, 2025-01-" in scope and "to 2025-05-25 (the version's leagues)" in scope
    narrowed = int(scope.split()[0])
    assert 0 < narrowed < e["n"]
    await page.set_viewport_size({"width": 390, "height": 844})
    await _no_overflow(page, 390)
    await _shot(page, "models-betting-phone")
    assert errors == []
