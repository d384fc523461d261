"""Ingestion into PostgreSQL and SQLite: idempotent, corrections, bad files, real corpus."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.formats.footballdata import FootballDataError
from server.store import ingest
from server.store.ingest import ingest_file, ingest_paths
from server.store.tables import League, Match, MatchOdds, Team
from tests.test_footballdata import DIVS, EXPECTED_ROWS

HEADER = (
    "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HTHG,HTAG,HTR,PSCH,PSCD,PSCA,B365H,B365D,B365A"
)
ROWS = [
    "E0,09/08/2024,20:00,Man United,Fulham,1,0,H,0,0,D,1.6,4.2,5.5,1.6,4.0,5.25",
    "E0,10/08/2024,12:30,Ipswich,Liverpool,0,2,A,0,0,D,7.5,5.0,1.4,7.0,5.0,1.4",
    "E0,10/08/2024,15:00,Arsenal,Wolves,2,0,H,1,0,H,1.25,6.5,12.0,1.25,6.0,11.0",
    "E0,10/08/2024,15:00,Everton,Brighton,0,3,A,0,1,A,2.5,3.4,2.9,2.5,3.3,2.8",
]


def write(tmp_path, name: str, rows: list[str], header: str = HEADER) -> str:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(path)


async def count(engine, table) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()


async def test_first_ingest_inserts_and_second_changes_nothing(engine, tmp_path):
    path = write(tmp_path, "E0.csv", ROWS)
    first = await ingest_file(engine, path)
    assert (first.inserted, first.updated, first.unchanged, first.rejected) == (4, 0, 0, 0)
    assert first.league == "E0" and first.season == "2425" and first.ok
    async with engine.connect() as conn:
        stamps = (await conn.execute(sa.select(Match.updated_at).order_by(Match.id))).all()
    second = await ingest_file(engine, path)
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 4)
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(Match.updated_at).order_by(Match.id))).all() == stamps
    assert await count(engine, Match.__table__) == 4
    assert await count(engine, MatchOdds.__table__) == 4
    assert await count(engine, Team.__table__) == 8
    assert await count(engine, League.__table__) == 1


async def test_corrected_file_updates_only_the_changed_rows(engine, tmp_path):
    await ingest_file(engine, write(tmp_path, "E0.csv", ROWS))
    corrected = list(ROWS)
    corrected[0] = corrected[0].replace(",1,0,H,0,0,D,", ",1,1,D,0,0,D,")  # score fixed
    corrected[3] = corrected[3].replace(",2.5,3.4,2.9,", ",2.45,3.4,2.95,")  # odds fixed
    report = await ingest_file(engine, write(tmp_path, "E0_fixed.csv", corrected))
    assert (report.inserted, report.updated, report.unchanged) == (0, 2, 2)
    async with engine.connect() as conn:
        m = (
            await conn.execute(
                sa.select(Match.home_goals, Match.away_goals, Match.result, Match.source)
                .join(Team, Team.id == Match.home_team_id)
                .where(Team.name == "Man United")
            )
        ).one()
        odds = (
            await conn.execute(
                sa.select(MatchOdds.pinnacle_close_h, MatchOdds.pinnacle_close_a)
                .join(Match, Match.id == MatchOdds.match_id)
                .join(Team, Team.id == Match.home_team_id)
                .where(Team.name == "Everton")
            )
        ).one()
    assert tuple(m) == (1, 1, "D", "E0_fixed.csv")
    assert tuple(odds) == (2.45, 2.95)


async def test_bad_rows_are_reported_and_skipped(engine, tmp_path):
    rows = [
        *ROWS,
        "E0,31/02/2025,15:00,Leeds,Hull,1,0,H,,,,,,,,,",  # impossible date
        "E0,11/08/2024,15:00,Leeds,Hull,-1,0,A,,,,,,,,,",  # negative goals
        ROWS[1],  # duplicated row
        "E0,12/08/2024,15:00,Leeds",  # truncated
    ]
    report = await ingest_file(engine, write(tmp_path, "E0.csv", rows))
    assert report.ok and report.inserted == 4 and report.rejected == 4
    lines = {p.line: p.reason for p in report.problems}
    assert set(lines) == {6, 7, 8, 9}
    assert "date" in lines[6] and "negative" in lines[7] and "duplicate of line 3" in lines[8]
    assert "missing FTHG" in lines[9]
    assert await count(engine, Match.__table__) == 4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"Div;Date;HomeTeam;AwayTeam;FTHG;FTAG\nE0;10/08/2024;A;B;1;0\n", "delimiter"),
        (bytes(range(256)) * 20, "not a CSV text file"),
        ("\n".join([HEADER.replace(",FTAG", ""), ROWS[0]]).encode(), "FTAG"),
        (b"", "empty"),
    ],
)
async def test_unreadable_file_writes_nothing(engine, tmp_path, content, message):
    path = tmp_path / "E0.csv"
    path.write_bytes(content)
    report = await ingest_file(engine, path)
    assert not report.ok and message in report.error
    assert "nothing written" in report.summary()
    assert await count(engine, Match.__table__) == 0
    assert await count(engine, Team.__table__) == 0


async def test_a_database_failure_mid_file_rolls_the_whole_file_back(engine, tmp_path, monkeypatch):
    real = ingest._odds_params

    def dangling_odds(match_id, odds, key):  # odds for a match that does not exist
        return real(match_id + 1_000_000, odds, key)

    monkeypatch.setattr(ingest, "_odds_params", dangling_odds)
    report = await ingest_file(engine, write(tmp_path, "E0.csv", ROWS))
    assert not report.ok and report.error.startswith("database error")
    assert report.inserted == 0
    assert await count(engine, Match.__table__) == 0  # the matches inserted first are gone
    assert await count(engine, Team.__table__) == 0


async def test_teams_are_shared_across_divisions_of_one_country(engine, tmp_path):
    await ingest_file(engine, write(tmp_path, "E0.csv", ROWS))
    e1 = ["E1,09/08/2023,20:00,Ipswich,Leeds,1,1,D,,,,,,,,,"]
    await ingest_file(engine, write(tmp_path, "E1.csv", e1))
    async with engine.connect() as conn:
        ipswich = (await conn.execute(sa.select(Team.id).where(Team.name == "Ipswich"))).all()
        leagues = (await conn.execute(sa.select(League.code, League.name, League.country))).all()
    assert len(ipswich) == 1
    assert sorted(map(tuple, leagues)) == [
        ("E0", "Premier League", "England"),
        ("E1", "Championship", "England"),
    ]


async def test_missing_path_is_an_error(engine, tmp_path):
    with pytest.raises(FootballDataError, match="nowhere"):
        await ingest_paths(engine, [tmp_path / "nowhere"])


async def test_all_shared_files_ingest_with_the_readme_counts(engine, football_data_dir):
    seen = []
    reports = await ingest_paths(
        engine, [football_data_dir], on_file=lambda r, i, n: seen.append(i)
    )
    assert seen == list(range(1, 71))
    assert all(r.ok for r in reports)
    assert sum(r.rejected for r in reports) == 0
    assert sum(r.inserted for r in reports) == 26_517
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(League.code, Match.season, sa.func.count())
            .join(League, League.id == Match.league_id)
            .group_by(League.code, Match.season)
        )
        counts = {(code, season): n for code, season, n in rows}
    expected = {
        (div, season): n
        for season, per_div in EXPECTED_ROWS.items()
        for div, n in zip(DIVS, per_div, strict=True)
    }
    assert counts == expected
    again = await ingest_paths(engine, [football_data_dir])
    assert sum(r.unchanged for r in again) == 26_517
    assert sum(r.inserted + r.updated for r in again) == 0


async def test_case_and_space_variants_are_one_team(engine, tmp_path):
    """``arsenal`` beside ``Arsenal`` made two teams, and predict for Arsenal broke."""
    await ingest_file(engine, write(tmp_path, "E0.csv", ROWS))
    later = [
        "E0,17/08/2024,15:00,arsenal,Brighton,1,1,D,,,,,,,,,",
        "E0,24/08/2024,15:00, ARSENAL ,Everton,2,0,H,,,,,,,,,",
        "E0,24/08/2024,17:30,New  Team,new team x,0,0,D,,,,,,,,,",
        "E0,31/08/2024,15:00,new team,Fulham,0,1,A,,,,,,,,,",
        "E0,31/08/2024,17:30,Wolves,new team,0,1,A,,,,,,,,,",
    ]
    report = await ingest_file(engine, write(tmp_path, "E0b.csv", later))
    assert report.ok and report.inserted == 5 and report.rejected == 0
    assert sorted(report.notes) == [
        "team 'ARSENAL' is taken as 'Arsenal' (case or spaces differ)",
        "team 'New Team' is taken as 'new team' (case or spaces differ)",
        "team 'arsenal' is taken as 'Arsenal' (case or spaces differ)",
    ]
    async with engine.connect() as conn:
        names = (await conn.execute(sa.select(Team.name))).scalars().all()
    assert sorted(n for n in names if "arsenal" in n.lower()) == ["Arsenal"]
    assert sorted(n for n in names if n.lower().startswith("new team")) == [
        "new team",
        "new team x",
    ]
    again = await ingest_file(engine, write(tmp_path, "E0b.csv", later))
    assert again.unchanged == 5 and again.inserted == 0


async def test_predict_finds_a_team_ingested_in_several_spellings(engine, tmp_path):
    from server.runs.predictions import _lookup_teams

    await ingest_file(engine, write(tmp_path, "E0.csv", ROWS))
    await ingest_file(
        engine, write(tmp_path, "E0b.csv", ["E0,17/08/2024,15:00,arsenal,Fulham,1,1,D"])
    )
    (found,) = await _lookup_teams(engine, ["Arsenal"], "E0")
    assert found[1] == "Arsenal"


async def test_predict_finds_a_team_beside_a_variant_stored_before_the_fix(engine, tmp_path):
    from server.runs.predictions import TeamLookupError, _lookup_teams

    await ingest_file(engine, write(tmp_path, "E0.csv", ROWS))
    async with engine.begin() as conn:  # as an older ingest left it
        await conn.execute(sa.insert(Team).values(name="arsenal", country="England"))
    assert (await _lookup_teams(engine, ["Arsenal"], "E0"))[0][1] == "Arsenal"
    assert (await _lookup_teams(engine, ["arsenal"], None))[0][1] == "arsenal"
    with pytest.raises(TeamLookupError, match="'ARSENAL' matches 'Arsenal', 'arsenal'"):
        await _lookup_teams(engine, ["ARSENAL"], "E0")
