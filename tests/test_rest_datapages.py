"""The legacy Data Ingestion and Data Cleaning pages' contract (server/api/datapages.py): batch
downloads from a local football-data.co.uk stand-in with a result per league and season,
the batch log, and the team list and search, pinned in tests/contracts/data/*.json and
replayed on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import httpx
import pytest

from server.runs import datapages
from server.store import download as files
from server.store.download import DownloadError
from tests.test_rest_jackpots import contract

DATA = Path(__file__).parent / "contracts" / "data"


@pytest.fixture(params=["sqlite", "postgresql"])
async def data_api(request, make_api, football_data_server):
    return await make_api(request.param, download_base_url=football_data_server)


async def test_the_data_pages_session(data_api):
    _, client = data_api
    teams = (await contract(client, "teams", "all", DATA))["data"]
    arsenal = next(t for t in teams if t["name"] == "Arsenal")
    assert arsenal["leagueName"] == "Premier League" and arsenal["canonicalName"] == "Arsenal"
    found = (await contract(client, "teams", "search", DATA))["data"]
    assert found[0]["name"] == "Arsenal" and 0.9 < found[0]["similarity"] <= 1
    part = (await contract(client, "teams", "search-part", DATA))["data"]
    assert {"Man City", "Man United"} <= {t["name"] for t in part}
    assert all(0.4 <= t["similarity"] <= 1 for t in part)
    await contract(client, "teams", "search-no-query", DATA)

    await contract(client, "data", "batches-empty", DATA)
    done = (await contract(client, "data", "batch-download", DATA))["data"]
    by = {(r["leagueCode"], r["season"]): r for r in done["results"]}
    assert by[("E0", "2425")]["stats"]["skipped"] == 380  # seeded already: unchanged
    assert by[("SP1", "2425")]["stats"]["inserted"] == 380  # the others still went in
    assert "does not publish a league 'XX9'" in by[("XX9", None)]["error"]
    assert "404" in by[("D1", "2627")]["error"]
    assert done["status"] == "partial" and done["totalStats"]["errors"] == 2
    log = (await contract(client, "data", "batches-one", DATA))["data"]
    assert log["batches"][0]["batchId"] == done["batchId"]
    refreshed = (await contract(client, "data", "refresh", DATA))["data"]
    assert refreshed["results"][0]["stats"]["skipped"] == 380
    for name in ("bad-source", "bad-season", "too-many", "no-leagues"):
        await contract(client, "data", f"batch-download-{name}", DATA)
    spain = (await client.get("/api/teams/search?q=Barcelona&limit=1")).json()["data"]
    assert spain[0]["leagueName"] == "La Liga"


def test_every_recorded_exchange_is_exercised():
    source = Path(__file__).read_text()
    for path in DATA.glob("*.json"):
        for name in json.loads(path.read_text()):
            short = name.removeprefix("batch-download-")
            assert f'"{name}"' in source or f'"{short}"' in source, f"{path.name}: {name}"


def test_season_choices():
    today = date(2026, 12, 7)
    assert datapages.seasons_for(None, today) == ["2627"]
    assert datapages.seasons_for("last7", today) == [
        "2627", "2526", "2425", "2324", "2223", "2122", "2021"
    ]  # fmt: skip
    assert len(datapages.seasons_for("last10", today)) == 10
    assert datapages.seasons_for("all", date(2001, 3, 1)) == ["0001"]


async def test_an_html_page_is_never_saved_as_a_season_file(tmp_path):
    """football-data.co.uk answers some unknown paths with an HTML page and status 200."""

    def page(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="\n<!DOCTYPE html><html><body>Not here</body></html>")

    with pytest.raises(DownloadError, match="HTML page, not a CSV"):
        await files.download(
            "http://fd.test", tmp_path, ["E0"], ["2425"], transport=httpx.MockTransport(page)
        )
    assert not any(tmp_path.rglob("*.csv")) and not any(tmp_path.rglob("*.part"))
