"""Ingestion into PostgreSQL and SQLite: idempotent, corrections, bad files, real corpus."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa
import sqlalchemy.orm

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
    from server.runs.predictions import resolve_teams

    await ingest_file(engine, write(tmp_path, "E0.csv", ROWS))
    await ingest_file(
        engine, write(tmp_path, "E0b.csv", ["E0,17/08/2024,15:00,arsenal,Fulham,1,1,D"])
    )
    (found,) = await resolve_teams(engine, [("Arsenal", "Fulham", "E0")])
    assert found[1] == "Arsenal"


async def test_predict_finds_a_team_beside_a_variant_stored_before_the_fix(engine, tmp_path):
    from server.runs.predictions import resolve_teams

    await ingest_file(engine, write(tmp_path, "E0.csv", ROWS))
    async with engine.begin() as conn:  # as an older ingest left it
        await conn.execute(sa.insert(Team).values(name="arsenal", country="England"))
    found = await resolve_teams(
        engine,
        [("Arsenal", "Fulham", "E0"), ("arsenal", "Fulham", None), ("ARSENAL", "Fulham", "E0")],
    )
    assert found[0][1] == "Arsenal" and found[1][1] == "arsenal"
    assert found[2] == "'ARSENAL' matches 'Arsenal', 'arsenal': use the exact spelling"
    # the resolver folds names as the ingest does: spaces, Unicode forms, case
    (folded,) = await resolve_teams(engine, [("  \uff21rsenal ", "FULHAM", "E0")])
    assert folded[1] == "Arsenal" and folded[3] == "Fulham"
    (spoof,) = await resolve_teams(engine, [("\u0410rsenal", "Fulham", "E0")])
    assert "mixes Latin and Cyrillic" in spoof


# --- large files: chunk by chunk, still one transaction --------------------------------------


def season_rows(n: int, start: str = "2024-08-10") -> list[str]:
    """``n`` distinct E0 rows, one a day from ``start``, with odds."""
    import pandas as pd

    first = pd.Timestamp(start)
    return [
        f"E0,{(first + pd.Timedelta(days=i)).strftime('%d/%m/%Y')},15:00,Arsenal,"
        f"{('Wolves', 'Everton', 'Fulham')[i % 3]},{i % 4},1,,,,,1.5,4.0,6.0,1.5,4.0,6.0"
        for i in range(n)
    ]


async def all_matches(engine) -> list[tuple]:
    async with engine.connect() as conn:
        query = sa.select(
            Match.match_date, Match.season, Match.home_goals, MatchOdds.pinnacle_close_h
        ).join(MatchOdds, MatchOdds.match_id == Match.id)
        return sorted(tuple(r) for r in (await conn.execute(query)).all())


async def test_a_file_written_in_chunks_is_the_file_written_at_once(engine, tmp_path):
    rows = season_rows(11)
    rows.insert(7, rows[1])  # a duplicate two chunks after its original
    rows.insert(4, "E0,12/08/2024,15:00,Leeds,Hull,x,0,,,,,,,,,,")
    path = write(tmp_path, "E0.csv", rows)
    report = await ingest_file(engine, path, chunk_rows=3)
    assert report.ok, report.error
    assert (report.read, report.inserted, report.rejected) == (13, 11, 2)
    assert [p.line for p in report.problems] == [6, 10]
    assert report.league == "E0" and report.season == "2425"
    written = await all_matches(engine)
    again = await ingest_file(engine, path)  # one chunk: nothing differs
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 11)
    assert await all_matches(engine) == written and len(written) == 11


async def test_a_file_refused_after_its_first_chunks_writes_nothing(engine, tmp_path):
    rows = [*season_rows(4), *(f'E0,"{i},x' for i in range(6))]  # 6 of 10 rows unsplittable
    report = await ingest_file(engine, write(tmp_path, "E0.csv", rows), chunk_rows=2)
    assert not report.ok and "6 of 10 rows cannot be split" in report.error
    assert (report.inserted, report.notes) == (0, [])
    assert await count(engine, Match.__table__) == 0
    assert await count(engine, Team.__table__) == 0


async def test_a_late_chunk_with_an_earlier_season_rewrites_the_file_in_one_season(
    engine, tmp_path
):
    rows = [*season_rows(5, start="2024-08-10"), *season_rows(2, start="2024-05-01")]
    report = await ingest_file(engine, write(tmp_path, "E0.csv", rows), chunk_rows=2)
    assert report.ok and report.inserted == 7 and report.season == "2324"
    assert {m[1] for m in await all_matches(engine)} == {"2324"}
    assert await count(engine, Match.__table__) == 7


async def test_only_the_first_rejected_rows_are_listed(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "MAX_LISTED_PROBLEMS", 3)
    rows = [*season_rows(2), *(f"E0,1{i}/09/2024,15:00,Leeds,Hull,x,0" for i in range(7))]
    report = await ingest_file(engine, write(tmp_path, "E0.csv", rows), chunk_rows=2)
    assert report.ok and report.rejected == 7 and report.inserted == 2
    assert [p.line for p in report.problems] == [4, 5, 6]
    assert report.notes == ["4 more rejected rows are not listed (only the first 3)"]


# --- look-alike team names ------------------------------------------------------------------


async def test_look_alike_names_never_make_a_second_team(engine, tmp_path):
    await ingest_file(engine, write(tmp_path, "E0.csv", ROWS))
    teams = await count(engine, Team.__table__)
    later = [
        "E0,17/08/2024,15:00,\u0410rsenal,Brighton,1,1,D,,,,,,,,,",  # Cyrillic A: rejected
        "E0,18/08/2024,15:00,Ars\u0435nal,Everton,1,1,D,,,,,,,,,",  # Cyrillic e: rejected
        "E0,24/08/2024,15:00,Ars\u200benal,Everton,2,0,H,,,,,,,,,",  # zero-width space
        "E0,31/08/2024,15:00,\uff21rsenal,Fulham,0,1,A,,,,,,,,,",  # full-width A
        "E0,14/09/2024,15:00,\u200fArsenal,Wolves,0,1,A,,,,,,,,,",  # right-to-left mark
    ]
    report = await ingest_file(engine, write(tmp_path, "E0b.csv", later))
    assert report.ok and report.inserted == 3 and report.rejected == 2
    assert [p.reason.split(" (")[0] for p in report.problems] == [
        "team '\u0410rsenal' mixes Latin and Cyrillic letters",
        "team 'Ars\u0435nal' mixes Latin and Cyrillic letters",
    ]
    assert report.notes == []  # the parser already made them 'Arsenal'
    assert await count(engine, Team.__table__) == teams
    async with engine.connect() as conn:
        names = (await conn.execute(sa.select(Team.name))).scalars().all()
    assert [n for n in names if "rsenal" in n or "rs\u0435nal" in n] == ["Arsenal"]


async def test_a_look_alike_stored_before_the_rule_is_the_same_team(engine, tmp_path):
    async with engine.begin() as conn:  # as an older ingest left it
        await conn.execute(sa.insert(League).values(code="E0", name="x", country="England"))
        await conn.execute(sa.insert(Team).values(name="Ars\u200benal", country="England"))
    report = await ingest_file(engine, write(tmp_path, "E0.csv", ROWS))
    assert report.ok and report.inserted == 4
    assert report.notes == [
        "team 'Arsenal' is taken as 'Ars\\u200benal' (invisible or look-alike characters differ)"
    ]
    assert await count(engine, Team.__table__) == 8


def csv_shots(path) -> dict[tuple[date, str, str], tuple[int | None, int | None]]:
    """(date, home, away) -> (HST, AST) read from the CSV itself, not through the parser."""
    import csv

    def count(value: str) -> int | None:
        return int(value) if value.strip() else None

    with open(path, encoding="utf-8-sig", newline="") as f:
        return {
            (datetime.strptime(r["Date"], "%d/%m/%Y").date(), r["HomeTeam"], r["AwayTeam"]): (
                count(r["HST"]),
                count(r["AST"]),
            )
            for r in csv.DictReader(f)
            if r.get("Div")
        }


async def stored_shots(engine) -> dict[tuple[date, str, str], tuple[int | None, int | None]]:
    home, away = sa.orm.aliased(Team), sa.orm.aliased(Team)
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(
                Match.match_date,
                home.name,
                away.name,
                Match.home_shots_on_target,
                Match.away_shots_on_target,
            )
            .join(home, home.id == Match.home_team_id)
            .join(away, away.id == Match.away_team_id)
        )
        return {(d, h, a): (hs, as_) for d, h, a, hs, as_ in rows}


async def test_a_shared_file_stores_its_shots_on_target(engine, football_data_dir):
    path = football_data_dir / "2324" / "E0.csv"
    expected = csv_shots(path)
    report = await ingest_file(engine, path)
    assert report.ok and report.inserted == len(expected) == 380
    stored = await stored_shots(engine)
    assert stored == expected
    # a few by hand: the season's first match and a later one
    assert stored[(date(2023, 8, 11), "Burnley", "Man City")] == (1, 8)
    assert all(h is not None and a is not None for h, a in stored.values())


async def test_ingesting_again_fills_in_shots_stored_before_0008(engine, football_data_dir):
    """A database whose matches were ingested before migration 0008 has NULL shots; ingesting
    the file again updates them (as for a corrected file), and once more changes nothing."""
    path = football_data_dir / "2324" / "E0.csv"
    await ingest_file(engine, path)
    async with engine.begin() as conn:
        stamps = dict((await conn.execute(sa.select(Match.id, Match.updated_at))).all())
        await conn.execute(
            sa.update(Match).values(home_shots_on_target=None, away_shots_on_target=None)
        )
    again = await ingest_file(engine, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 380, 0)
    assert await stored_shots(engine) == csv_shots(path)
    async with engine.connect() as conn:
        after = dict((await conn.execute(sa.select(Match.id, Match.updated_at))).all())
    assert after.keys() == stamps.keys() and all(after[i] >= stamps[i] for i in stamps)
    third = await ingest_file(engine, path)
    assert (third.inserted, third.updated, third.unchanged) == (0, 0, 380)


async def test_corrected_shots_update_and_a_file_without_them_stores_null(engine, tmp_path):
    header = HEADER.replace(",HTR,", ",HTR,HST,AST,")
    rows = [r.replace(",D,1.6,", ",D,5,3,1.6,", 1) for r in ROWS[:1]]  # Man United-Fulham
    rows += [",".join([*r.split(",")[:11], "", "4", *r.split(",")[11:]]) for r in ROWS[1:]]
    first = await ingest_file(engine, write(tmp_path, "E0.csv", rows, header))
    assert first.inserted == 4
    shots = await stored_shots(engine)
    assert shots[(date(2024, 8, 9), "Man United", "Fulham")] == (5, 3)
    assert shots[(date(2024, 8, 10), "Arsenal", "Wolves")] == (None, 4)  # a blank HST
    corrected = [rows[0].replace(",D,5,3,", ",D,6,3,"), *rows[1:]]
    report = await ingest_file(engine, write(tmp_path, "E0_fixed.csv", corrected, header))
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 3)
    assert (await stored_shots(engine))[(date(2024, 8, 9), "Man United", "Fulham")] == (6, 3)
    # a file without HST and AST (as football-data's before 2000/01): NULL
    await ingest_file(
        engine, write(tmp_path, "E1.csv", ["E1,09/08/2024,20:00,Leeds,Hull,1,1,D,,,,,,,,,"])
    )
    shots = await stored_shots(engine)
    assert shots[(date(2024, 8, 9), "Leeds", "Hull")] == (None, None)
