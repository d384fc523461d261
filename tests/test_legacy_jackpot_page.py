"""The legacy jackpot pages' whole flow in real headless Chromium, from another origin: a page of
our own (tests/legacy_client/jackpot.html) calls ``fpe serve`` with ``fetch`` as those pages do
(JSON content type on every call, so every call is preflighted; demo mode, no token): a
12-fixture jackpot of real E0 fixtures with their odds, the sets, a saved ticket, the actual
results PUT twice 2 s apart, then latest, all and the scores."""

from __future__ import annotations

import asyncio
import csv
import re

import httpx
import numpy as np
import pytest

from tests.conftest import FOOTBALL_DATA, stop_process
from tests.test_legacy_page import page_origin  # noqa: F401 - the fixture
from tests.test_page import ARTIFACTS, _serve, browser  # noqa: F401 - the fixture

SEASONS = ["2223", "2324", "2425"]
RESULT = {"H": "1", "D": "X", "A": "2"}


def _last_round() -> tuple[list[dict], dict[str, str]]:
    """The last 12 matches of E0 2024/25 as the Jackpot Input page sends them (Bet365 odds),
    and their actual results."""
    with (FOOTBALL_DATA / "2425" / "E0.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))[-12:]
    fixtures = [
        {
            "id": f"E0-{i + 1}",
            "homeTeam": r["HomeTeam"],
            "awayTeam": r["AwayTeam"],
            "odds": {
                "home": float(r["B365H"]),
                "draw": float(r["B365D"]),
                "away": float(r["B365A"]),
            },
            "matchDate": None,
            "league": None,
        }
        for i, r in enumerate(rows)
    ]
    return fixtures, {f["id"]: RESULT[r["FTR"]] for f, r in zip(fixtures, rows, strict=True)}


async def _train(api: str, model_type: str) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        body = {"modelType": model_type, "leagues": ["E0"], "seasons": SEASONS}
        task = (await client.post("/api/model/train", json=body)).json()["data"]["taskId"]
        for _ in range(600):
            status = (await client.get(f"/api/tasks/{task}")).json()["data"]["status"]
            if status in ("completed", "failed", "cancelled"):
                assert status == "completed"
                return
            await asyncio.sleep(0.2)
    pytest.fail("training did not finish")


async def test_the_jackpot_flow_from_another_origin(
    browser,  # noqa: F811
    seeded_url,
    tmp_path,
    page_origin,  # noqa: F811
):
    proc, api = await _serve(seeded_url, tmp_path, FPE_CORS_ORIGINS=page_origin)
    try:
        await _train(api, "full")
        await _train(api, "draw")
        fixtures, actual = _last_round()
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
        await page.goto(f"{page_origin}/jackpot.html?api={api}")
        await page.evaluate(
            "([f, a]) => { window.runFlow(f, a); }", [fixtures, {**actual, "E0-12": None}]
        )
        await page.wait_for_function(
            "['done', 'failed'].includes(document.querySelector('#status').textContent)",
            timeout=60_000,
        )
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "legacy-jackpot.png"), full_page=True)
        assert await page.text_content("#status") == "done", await page.text_content("#error")
        assert errors == []
        flow = await page.evaluate("window.flow")

        # 1. the jackpot, 2. its sets: percent summing to 100, varying by fixture
        jid = flow["jackpot"]["id"]
        output = flow["output"]
        assert [f["id"] for f in output["fixtures"]] == [f["id"] for f in fixtures]
        assert set(output["probabilitySets"]) == {"A", "B", "C", "D", "E", "G"}
        for key, rows in output["probabilitySets"].items():
            p = np.array(
                [
                    [r["homeWinProbability"], r["drawProbability"], r["awayWinProbability"]]
                    for r in rows
                ]
            )
            assert np.all(np.round(p.sum(axis=1), 6) == 100), key
            assert p[:, 0].std() > 5 and len({tuple(r) for r in p}) == 12, key
        # 3. saved, 4. actual results PUT twice, 5. latest, all and the scores
        rid = flow["saved"]["id"]
        assert [r["id"] for r in flow["listed"]["results"]] == [rid]
        judged = {k: v for k, v in actual.items() if k != "E0-12"}
        first, second = flow["puts"]
        assert first == second  # idempotent
        assert first["actualResults"] == judged
        for key, picks in flow["selections"].items():
            correct = sum(picks[k] == v for k, v in judged.items())
            assert first["scores"][key] == {"correct": correct, "total": 11}, key
        assert flow["latest"]["result"]["id"] == rid
        assert flow["latest"]["result"]["jackpotId"] == jid
        assert flow["latest"]["result"]["actualResults"] == judged
        assert [r["id"] for r in flow["all"]["results"]] == [rid]
        assert flow["all"]["results"][0]["scores"] == first["scores"]
        assert "B " in await page.text_content("#scores")

        # how it called: JSON content type on every call, GETs included; PUT went through
        gets = [c for m, _, c in sent if m == "GET"]
        assert gets and all(c == "application/json" for c in gets)
        assert [m for m, u, _ in sent if u.endswith("/actual-results")] == ["PUT", "PUT"]
        # every call was preflighted: the browser sent OPTIONS and the server allowed it
        async with httpx.AsyncClient(base_url=api) as client:
            metrics = (await client.get("/metrics")).text
        preflights = re.search(
            r'fpe_http_requests_total\{method="OPTIONS",route="unmatched",status="200"\} (\S+)',
            metrics,
        )
        assert preflights is not None and float(preflights.group(1)) >= 6  # one per URL
    finally:
        stop_process(proc)
