"""The page's Data tab in headless Chromium: freshness per league, when the scheduled
refresh is next due, aliases (with "did you mean"), model files exported and imported; and
aliases in the Fixtures view.  Desktop and phone widths."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import stop_process
from tests.test_page import WIDTHS, _no_overflow, _serve, _shot, _train_via_api, browser  # noqa: F401


async def test_the_data_tab(browser, seeded_url, tmp_path):  # noqa: F811
    proc, base = await _serve(seeded_url, tmp_path, FPE_REFRESH="weekly", FPE_REFRESH_AT="04:30")
    try:
        await _train_via_api(base, ["E0"])
        errors: list[str] = []
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(base + "/")
        await page.click('nav button[data-tab="data"]')
        await page.wait_for_selector("#freshness tbody tr")
        rows = page.locator("#freshness tbody tr")
        assert await rows.count() == 2
        e0 = await rows.filter(has_text="Premier League").text_content()
        assert "2025-05-25" in e0 and "UTC" in e0  # last match, last ingest
        status = await page.text_content("#refresh-status")
        assert "Mondays at 04:30 UTC; next due" in status and "04:30 UTC" in status

        await page.fill('#alias-form input[name="alias"]', "Lilywhites")
        await page.fill('#alias-form input[name="team"]', "Totenham")
        await page.click("#alias-form button")
        await page.wait_for_selector("#alias-error:not(:empty)")
        assert "did you mean 'Tottenham'" in await page.text_content("#alias-error")
        await page.fill('#alias-form input[name="team"]', "Tottenham")
        await page.click("#alias-form button")
        await page.wait_for_selector("#alias-done:not(:empty)")
        assert "now names Tottenham (England)" in await page.text_content("#alias-done")
        assert await page.locator("#aliases tbody tr", has_text="Lilywhites").count() == 1

        await page.wait_for_selector("#export-link:not([hidden])")
        async with page.expect_download() as download:
            await page.click("#export-link")
        path = Path(await (await download.value).path())
        file = json.loads(path.read_text())
        assert file["format"] == "fpe-model" and file["model"]["model_type"] == "full"
        await page.set_input_files("#import-file", str(path))
        await page.wait_for_selector("#files-error:not(:empty)")
        assert "exists already" in await page.text_content("#files-error")
        file["model"]["version"] = "imported-copy"
        path.write_text(json.dumps(file))
        await page.set_input_files("#import-file", str(path))
        await page.wait_for_selector("#files-error:not(:empty)")
        assert "checksum does not match" in await page.text_content("#files-error")
        await _shot(page, "view-data-desktop")

        await page.click('nav button[data-tab="fixtures"]')
        await page.wait_for_selector("#fixtures-league option", state="attached")
        await page.fill("#fixtures-text", "Lilywhites v Man Utd\nTotenham v Arsenal")
        await page.click("#fixtures-run")
        await page.wait_for_function(
            "document.querySelectorAll('#fixtures-table tbody tr').length === 2"
        )
        table = page.locator("#fixtures-table tbody tr")
        assert "Tottenham v Man United" in await table.nth(0).text_content()
        assert "did you mean 'Tottenham'" in await table.nth(1).text_content()
        assert errors == []
        await page.close()

        width, height = WIDTHS["phone"]
        phone = await browser.new_page(viewport={"width": width, "height": height})
        await phone.goto(base + "/")
        await phone.click('nav button[data-tab="data"]')
        await phone.wait_for_selector("#freshness tbody tr")
        await phone.wait_for_timeout(300)
        await _no_overflow(phone, width)
        await _shot(phone, "view-data-phone")
        await phone.close()
    finally:
        stop_process(proc)
