"""Freshness: each league's last match and last ingest, in the catalogue, the CLI and
GraphQL; and ``fpe refresh --status``."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from server.cli import main
from server.store import catalog
from server.store.ingest import ingest_paths
from tests.conftest import FOOTBALL_DATA


async def test_last_match_and_last_ingest_per_league(engine):
    before = datetime.now(UTC)
    await ingest_paths(
        engine, [FOOTBALL_DATA / "2324" / "E0.csv", FOOTBALL_DATA / "2425" / "E1.csv"]
    )
    leagues = {lg["code"]: lg for lg in await catalog.list_leagues(engine)}
    assert leagues["E0"]["last_match_date"] == date(2024, 5, 19)
    assert leagues["E1"]["last_match_date"] == date(2025, 5, 3)
    first = leagues["E0"]["last_ingest_at"]
    assert first is not None and first >= before and first.tzinfo is not None
    # ingesting again (nothing changes) still records the ingest; a newer season moves the date
    await ingest_paths(engine, [FOOTBALL_DATA / "2425" / "E0.csv"])
    again = {lg["code"]: lg for lg in await catalog.list_leagues(engine)}
    assert again["E0"]["last_match_date"] == date(2025, 5, 25)
    assert again["E0"]["last_ingest_at"] > first
    assert again["E1"]["last_ingest_at"] == leagues["E1"]["last_ingest_at"]


def test_fpe_leagues_and_refresh_status(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("FPE_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    monkeypatch.setenv("FPE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FPE_REDIS_URL", raising=False)
    assert main(["ingest", str(FOOTBALL_DATA / "2425" / "E0.csv")]) == 0
    capsys.readouterr()
    assert main(["leagues"]) == 0
    out = capsys.readouterr().out
    assert "last match" in out and "2025-05-25" in out and "Premier League" in out
    assert main(["leagues", "--json"]) == 0
    (league,) = json.loads(capsys.readouterr().out)
    assert league["last_match_date"] == "2025-05-25" and league["last_ingest_at"]

    assert main(["refresh", "--status"]) == 0
    assert capsys.readouterr().out.strip() == "scheduled refresh: off"
    monkeypatch.setenv("FPE_REFRESH", "weekly")
    monkeypatch.setenv("FPE_REFRESH_AT", "06:15")
    assert main(["refresh", "--status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["description"] == "Mondays at 06:15 UTC"
    due = datetime.fromisoformat(status["next_due"])
    assert due.weekday() == 0 and (due.hour, due.minute) == (6, 15) and due > datetime.now(UTC)
    monkeypatch.setenv("FPE_REFRESH", "hourly")
    assert main(["refresh", "--status"]) == 1
    assert "FPE_REFRESH='hourly'" in capsys.readouterr().err


async def test_graphql_leagues_carry_their_freshness(make_api):
    _, client = await make_api("sqlite")
    out = (
        await client.post(
            "/graphql", json={"query": "{ leagues { code lastMatchDate lastIngestAt } }"}
        )
    ).json()
    leagues = {lg["code"]: lg for lg in out["data"]["leagues"]}
    assert leagues["E0"]["lastMatchDate"] == "2025-05-25"
    assert leagues["E1"]["lastIngestAt"]
