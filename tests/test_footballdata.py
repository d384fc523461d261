"""Tests of the football-data.co.uk parser (``server.formats.footballdata``).

The first part reads the 70 real files of the shared data folder (skipped when it is absent);
the second part feeds the parser a corrupted corpus built in memory or in ``tmp_path``.
"""

from __future__ import annotations

import random
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInputError
from core.sources import ODDS_COLUMNS
from server.formats.footballdata import (
    FileChunks,
    FootballDataError,
    ParsedFile,
    RowProblem,
    find_csv_files,
    parse_bytes,
    read_file,
)
from tests.conftest import FOOTBALL_DATA, REQUIRE

DATA_DIR = FOOTBALL_DATA
needs_data = pytest.mark.skipif(
    not DATA_DIR.is_dir() and not REQUIRE, reason=f"no real data at {DATA_DIR}"
)

DIVS: tuple[str, ...] = ("E0", "E1", "SP1", "D1", "I1", "F1", "N1")
# Matches per file, from the table "Rows per file" in /work/shared/data/README.md.
EXPECTED_ROWS: dict[str, tuple[int, ...]] = {
    "1516": (380, 552, 380, 306, 380, 380, 306),
    "1617": (380, 552, 380, 306, 380, 380, 306),
    "1718": (380, 552, 380, 306, 380, 380, 306),
    "1819": (380, 552, 380, 306, 380, 380, 306),
    "1920": (380, 552, 380, 306, 380, 279, 232),
    "2021": (380, 552, 380, 306, 380, 380, 306),
    "2122": (380, 552, 380, 306, 380, 380, 306),
    "2223": (380, 552, 380, 306, 380, 380, 306),
    "2324": (380, 552, 380, 306, 380, 306, 306),
    "2425": (380, 552, 380, 306, 380, 306, 306),
}
REAL_FILES: list[tuple[str, str, int]] = [
    (season, div, count)
    for season, counts in EXPECTED_ROWS.items()
    for div, count in zip(DIVS, counts, strict=True)
]
FILES_WITH_BLANK_LINE: frozenset[tuple[str, str]] = frozenset({("1516", "I1"), ("1516", "F1")})

CORE_COLUMNS: list[str] = [
    "league",
    "season",
    "date",
    "time",
    "home_team",
    "away_team",
    "home_goals",
    "away_goals",
    "result",
    "ht_home_goals",
    "ht_away_goals",
    "ht_result",
    "home_shots_on_target",
    "away_shots_on_target",
]

# A small synthetic file in the 1920+ layout; each test mutates a copy of it.
HEADER = "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HTHG,HTAG,HTR,PSH,PSD,PSA,PSCH,PSCD,PSCA"
ROWS: list[str] = [
    "E0,09/08/2019,20:00,Liverpool,Norwich,4,1,H,4,0,H,1.14,10.0,19.0,1.14,10.5,20.0",
    "E0,10/08/2019,12:30,West Ham,Man City,0,5,A,0,1,A,12.0,6.5,1.25,12.5,6.6,1.24",
    "E0,05/01/2020,15:00,Arsenal,Chelsea,1,1,D,1,0,H,2.9,3.5,2.5,2.95,3.4,2.55",
]


def csv_bytes(rows: list[str] | None = None, header: str = HEADER, newline: str = "\n") -> bytes:
    """Join a header and rows into CSV bytes (UTF-8), each line ended by ``newline``."""
    lines = [header, *(ROWS if rows is None else rows)]
    return "".join(line + newline for line in lines).encode("utf-8")


def reasons(parsed: ParsedFile) -> dict[int, str]:
    """Map line number -> reason for the problems of a parsed file."""
    return {p.line: p.reason for p in parsed.problems}


@cache
def parse_real(season: str, div: str) -> ParsedFile:
    """Parse one real file once per test session."""
    return read_file(DATA_DIR / season / f"{div}.csv")


# ------------------------------------------------------------------------------------------
# Real data
# ------------------------------------------------------------------------------------------


@needs_data
@pytest.mark.parametrize(("season", "div", "count"), REAL_FILES, ids=lambda v: str(v))
def test_real_file_parses_cleanly(season: str, div: str, count: int) -> None:
    parsed = parse_real(season, div)
    assert parsed.problems == []
    assert len(parsed.matches) == count
    assert parsed.rows_read == count
    assert parsed.blank_lines == (1 if (season, div) in FILES_WITH_BLANK_LINE else 0)
    assert parsed.season == season
    assert parsed.league == div
    assert (parsed.matches["league"] == div).all()
    assert (parsed.matches["season"] == season).all()
    assert parsed.matches["line"].is_unique


@needs_data
@pytest.mark.parametrize(("season", "div", "count"), REAL_FILES, ids=lambda v: str(v))
def test_real_file_has_closing_pinnacle_odds(season: str, div: str, count: int) -> None:
    matches = parse_real(season, div).matches
    for column in ("pinnacle_close_h", "pinnacle_close_d", "pinnacle_close_a"):
        assert matches[column].notna().sum() >= count - 3, column
        assert (matches[column].dropna() > 1.0).all()


@needs_data
def test_real_data_totals_and_warnings() -> None:
    parsed = [parse_real(season, div) for season, div, _ in REAL_FILES]
    assert sum(len(p.matches) for p in parsed) == 26_517
    # The only dropped values in the real files are a few junk odds cells ('0', '#', ...).
    warnings = [w for p in parsed for w in p.warnings]
    assert 0 < len(warnings) < 30
    assert all(w.reason.startswith("bad odds ") for w in warnings)


@needs_data
@pytest.mark.parametrize("div", DIVS)
def test_2425_bom_header_is_read(div: str) -> None:
    assert (DATA_DIR / "2425" / f"{div}.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    parsed = parse_real("2425", div)
    assert parsed.league == div
    assert (parsed.matches["league"] == div).all()


@needs_data
@pytest.mark.parametrize(
    ("season", "div", "line", "expected"),
    [
        # dd/mm/yy era
        ("1617", "E0", 9, ("2016-08-14", None, "Arsenal", "Liverpool", 3, 4, "A")),
        ("1617", "E0", 63, ("2016-10-01", None, "Hull", "Chelsea", 0, 2, "A")),
        # dd/mm/yyyy era, with a kick-off time
        ("2425", "E0", 2, ("2024-08-16", "20:00", "Man United", "Fulham", 1, 0, "H")),
        ("2425", "E0", 62, ("2024-10-05", "12:30", "Crystal Palace", "Liverpool", 0, 1, "A")),
        # the COVID season ends in July 2020 but stays season 1920
        ("1920", "E0", 381, ("2020-07-26", "16:00", "West Ham", "Aston Villa", 1, 1, "D")),
    ],
)
def test_real_rows_spot_check(
    season: str, div: str, line: int, expected: tuple[object, ...]
) -> None:
    matches = parse_real(season, div).matches
    row = matches.loc[matches["line"] == line].iloc[0]
    day, kick_off, home, away, home_goals, away_goals, result = expected
    assert row["date"] == pd.Timestamp(str(day))
    assert row["time"] == kick_off
    assert (row["home_team"], row["away_team"]) == (home, away)
    assert (row["home_goals"], row["away_goals"], row["result"]) == (
        home_goals,
        away_goals,
        result,
    )


@needs_data
def test_real_market_average_from_both_eras() -> None:
    old = parse_real("1516", "E0").matches  # BbAvH era: BetBrain's average, its own source
    new = parse_real("2021", "E0").matches  # AvgH / AvgCH era
    assert old["bbav_pre_h"].notna().all()
    assert old["bbav_pre_over25"].notna().all()
    assert old["avg_pre_h"].isna().all()
    assert old["avg_close_h"].isna().all()
    assert new["bbav_pre_h"].isna().all()
    assert new["avg_pre_h"].notna().all()
    assert new["avg_close_h"].notna().all()
    assert new["b365_close_over25"].notna().sum() > 370


@needs_data
def test_real_best_price_from_both_eras() -> None:
    old = parse_real("1718", "E0").matches  # BbMx era: BetBrain's maximum, its own source
    new = parse_real("2021", "E0").matches  # Max / MaxC era: football-data's own maximum
    for outcome in ("h", "d", "a", "over25", "under25"):
        assert old[f"bbmax_pre_{outcome}"].notna().all()
        assert old[f"max_pre_{outcome}"].isna().all()
        assert old[f"max_close_{outcome}"].isna().all()
        assert new[f"max_pre_{outcome}"].notna().all()
        assert new[f"bbmax_pre_{outcome}"].isna().all()
    assert new["max_close_h"].notna().all()
    # the best price across books is never below that books' average
    assert (old["bbmax_pre_h"] >= old["bbav_pre_h"]).all()
    assert (new["max_pre_h"] >= new["avg_pre_h"]).all()


@needs_data
def test_the_shared_folder_holds_seventy_files() -> None:
    assert len(find_csv_files([DATA_DIR])) == 70


# ------------------------------------------------------------------------------------------
# Frame shape and happy path
# ------------------------------------------------------------------------------------------


def test_frame_columns_and_dtypes() -> None:
    parsed = parse_bytes(csv_bytes(), source="demo.csv")
    frame = parsed.matches
    assert list(frame.columns) == [*CORE_COLUMNS, *ODDS_COLUMNS, "line"]
    assert frame["date"].dtype == np.dtype("datetime64[ns]")
    assert frame["home_goals"].dtype == np.int64
    assert frame["away_goals"].dtype == np.int64
    assert frame["ht_home_goals"].dtype == pd.Int64Dtype()
    assert frame["line"].tolist() == [2, 3, 4]
    assert all(frame[name].dtype == np.float64 for name in ODDS_COLUMNS)
    assert parsed.source == "demo.csv"
    assert (parsed.season, parsed.league) == ("1920", "E0")
    assert (parsed.rows_read, parsed.blank_lines) == (3, 0)
    assert parsed.problems == [] and parsed.warnings == []
    first = frame.iloc[0]
    assert first["pinnacle_pre_h"] == pytest.approx(1.14)
    assert first["pinnacle_close_a"] == pytest.approx(20.0)
    assert np.isnan(first["b365_pre_h"])  # column absent from the file


def test_header_only_gives_empty_frame() -> None:
    parsed = parse_bytes(csv_bytes([]))
    assert parsed.matches.empty
    assert list(parsed.matches.columns) == [*CORE_COLUMNS, *ODDS_COLUMNS, "line"]
    assert parsed.matches.dtypes.equals(parse_bytes(csv_bytes()).matches.dtypes)
    assert (parsed.rows_read, parsed.problems, parsed.season) == (0, [], "")


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        (  # today's names; AvgD and the older BbAvD are two sources, each in its column
            {"B365CH": 2.11, "AvgD": 3.31, "BbAvD": 3.41, "Max>2.5": 1.91, "PC<2.5": 2.02},
            {
                "b365_close_h": 2.11,
                "avg_pre_d": 3.31,
                "bbav_pre_d": 3.41,
                "max_pre_over25": 1.91,
                "pinnacle_close_under25": 2.02,
            },
        ),
        (  # the Betbrain names of the older files, alone
            {"BbAvD": 3.41, "BbMx>2.5": 1.88, "AvgC<2.5": 1.97},
            {"bbav_pre_d": 3.41, "bbmax_pre_over25": 1.88, "avg_close_under25": 1.97},
        ),
        (  # MaxH and the older BbMxH are two maxima (over different books), each its column
            {"MaxH": 2.2, "BbMxH": 2.25, "MaxC<2.5": 1.8},
            {"max_pre_h": 2.2, "bbmax_pre_h": 2.25, "max_close_under25": 1.8},
        ),
    ],
)
def test_odds_headers_of_both_eras_land_in_their_columns(
    sources: dict[str, float], expected: dict[str, float]
) -> None:
    header = "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG," + ",".join(sources)
    row = "E0,09/08/2019,Liverpool,Norwich,4,1," + ",".join(map(str, sources.values()))
    odds = parse_bytes(csv_bytes([row], header=header)).matches.iloc[0][list(ODDS_COLUMNS)]
    assert odds.dropna().to_dict() == expected  # and no other odds column is filled


def test_day_first_dates_with_two_and_four_digit_years() -> None:
    rows = [
        "E0,05/01/2020,,A,B,1,0,H",
        "E0,06/01/20,,C,D,1,0,H",
        "E0,7/2/2020,,E,F,1,0,H",
    ]
    parsed = parse_bytes(csv_bytes(rows))
    assert parsed.problems == []
    assert parsed.matches["date"].tolist() == [
        pd.Timestamp("2020-01-05"),
        pd.Timestamp("2020-01-06"),
        pd.Timestamp("2020-02-07"),
    ]
    assert parsed.season == "1920"  # January belongs to the season that began the July before


def test_season_code_from_earliest_date_with_july_start() -> None:
    covid = ["E0,09/08/2019,,A,B,1,0,H", "E0,26/07/2020,,B,A,1,0,H", "E0,01/08/2020,,C,A,1,0,H"]
    assert parse_bytes(csv_bytes(covid)).season == "1920"
    assert parse_bytes(csv_bytes(["E0,01/07/2099,,A,B,1,0,H"])).season == "9900"


def test_league_is_most_common_div_and_rows_keep_their_own() -> None:
    rows = ["E1,09/08/2019,,A,B,1,0,H", "E0,10/08/2019,,C,D,1,0,H", "E0,11/08/2019,,E,F,1,0,H"]
    parsed = parse_bytes(csv_bytes(rows))
    assert parsed.league == "E0"
    assert parsed.matches["league"].tolist() == ["E1", "E0", "E0"]


def test_result_is_computed_and_ftr_optional() -> None:
    header = "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG"
    parsed = parse_bytes(csv_bytes(["E0,09/08/2019,A,B,0,2", "E0,09/08/2019,C,D,3,3"], header))
    assert parsed.matches["result"].tolist() == ["A", "D"]
    assert parsed.matches["time"].tolist() == [None, None]
    assert parsed.matches["ht_home_goals"].isna().all()


# ------------------------------------------------------------------------------------------
# Corrupted corpus: whole-file failures
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_wrong_delimiter_is_a_file_error_with_a_hint(delimiter: str) -> None:
    data = csv_bytes().decode().replace(",", delimiter).encode()
    with pytest.raises(FootballDataError, match="delimiter looks wrong") as info:
        parse_bytes(data, source="semi.csv")
    assert "semi.csv" in str(info.value)
    assert "HomeTeam" in str(info.value)


def test_binary_garbage_is_rejected() -> None:
    with pytest.raises(FootballDataError, match="not a CSV text file"):
        parse_bytes(bytes(range(256)) * 40)
    rng = random.Random(0)
    no_nul = bytes(rng.randrange(1, 256) for _ in range(5000))
    with pytest.raises(FootballDataError, match="not a CSV text file"):
        parse_bytes(no_nul)
    with pytest.raises(FootballDataError, match="not a CSV text file"):
        parse_bytes(csv_bytes().decode().encode("utf-16"))


@pytest.mark.parametrize("data", [b"", b"   \n\n", b"\xef\xbb\xbf"])
def test_empty_file_is_rejected(data: bytes) -> None:
    with pytest.raises(FootballDataError, match="empty"):
        parse_bytes(data, source="empty.csv")


def test_missing_required_columns_are_all_named() -> None:
    rows = [",".join(r.split(",")[:6]) for r in ROWS]
    with pytest.raises(FootballDataError, match="FTAG") as info:
        parse_bytes(csv_bytes(rows, "Div,Date,Time,HomeTeam,AwayTeam,FTHG"))
    assert "delimiter" not in str(info.value)
    with pytest.raises(FootballDataError) as info:
        parse_bytes(csv_bytes([], "Date,Home,Away,FTHG,FTAG"))
    for name in ("Div", "HomeTeam", "AwayTeam"):
        assert name in str(info.value)


def test_football_data_error_is_an_invalid_input_error() -> None:
    assert issubclass(FootballDataError, InvalidInputError)
    assert issubclass(FootballDataError, ValueError)


# ------------------------------------------------------------------------------------------
# Corrupted corpus: rejected rows
# ------------------------------------------------------------------------------------------


def test_truncated_file_mid_row_is_a_row_problem() -> None:
    data = csv_bytes()
    cut = data[: data.index(b"Arsenal,Che") + len(b"Arsenal,Che")]
    parsed = parse_bytes(cut)
    assert len(parsed.matches) == 2
    assert reasons(parsed) == {4: "missing FTHG; missing FTAG"}
    assert parsed.rows_read == 3


def test_truncated_file_after_the_score_keeps_the_row() -> None:
    data = csv_bytes()
    cut = data[: data.index(b"Chelsea,1,1,D,1") + len(b"Chelsea,1,1,D,1")]
    parsed = parse_bytes(cut)
    assert parsed.problems == []
    last = parsed.matches.iloc[-1]
    assert (last["line"], last["home_goals"], last["away_goals"]) == (4, 1, 1)
    assert last["ht_home_goals"] == 1 and pd.isna(last["ht_away_goals"])
    assert np.isnan(last["pinnacle_pre_h"])


def test_unterminated_quote_at_end_of_file() -> None:
    parsed = parse_bytes(csv_bytes()[:-1] + b',"unfinished')
    assert [p.line for p in parsed.problems] == [4] and len(parsed.matches) == 2
    assert "stray quote" in parsed.problems[0].reason


def test_a_stray_quote_spoils_only_its_own_row() -> None:
    """It used to open a quoted field that swallowed every later row as one rejected row."""
    good = [f"E0,{d:02d}/09/2019,,H{d},A{d},1,0,H" for d in range(1, 29)]
    rows = [
        *good[:3],
        'E0,09/08/2019,,"Arsenal,Chelsea,1,0,H',
        *good[3:],
        'E0,10/08/2019,,X,Y,"2,0,H',
    ]
    parsed = parse_bytes(csv_bytes(rows))
    assert [p.line for p in parsed.problems] == [5, 31]
    assert all("stray quote" in p.reason for p in parsed.problems)
    assert len(parsed.matches) == 28 and parsed.rows_read == 30


def test_quoted_fields_that_close_on_their_line_are_fine() -> None:
    parsed = parse_bytes(csv_bytes(['E0,09/08/2019,,"Brighton, Hove","Man ""United""",1,0,H']))
    assert parsed.problems == []
    assert parsed.matches.iloc[-1][["home_team", "away_team"]].tolist() == [
        "Brighton, Hove",
        'Man "United"',
    ]


def test_a_file_whose_rows_mostly_cannot_be_split_is_refused_whole() -> None:
    rows = [f'E0,0{d}/09/2019,"H{d},A{d},1,0,H' for d in range(1, 4)]
    with pytest.raises(FootballDataError, match=r"3 of 4 rows cannot be split.*line 2"):
        parse_bytes(csv_bytes([*rows, "E0,09/09/2019,,A,B,1,0,H"]))


def test_a_header_that_cannot_be_split_refuses_the_file() -> None:
    with pytest.raises(FootballDataError, match=r"line 1 \(the header\).*stray quote"):
        parse_bytes(b'Div,"Date,HomeTeam,AwayTeam,FTHG,FTAG\nE0,09/08/2019,A,B,1,0\n')


@pytest.mark.parametrize("goals", ["12345678901234567890", "100", "1" * 5000, "-99999999999"])
def test_huge_goal_counts_are_rejected_not_a_crash(goals: str) -> None:
    parsed = parse_bytes(csv_bytes([f"E0,09/08/2019,,A,B,{goals},0,H"]))
    (problem,) = parsed.problems
    assert problem.line == 2 and "goals: FTHG=" in problem.reason
    assert len(problem.reason) < 120
    assert parsed.matches.empty


def test_team_names_are_decided_once_within_a_file() -> None:
    rows = ["E0,09/08/2019,,  Man   City ,Arsenal,1,0,H", "E0,09/08/2019,,man city,ARSENAL,1,0,H"]
    parsed = parse_bytes(csv_bytes(rows))
    assert parsed.matches.iloc[-1]["home_team"] == "Man City"
    assert [p.line for p in parsed.problems] == [3]
    assert "duplicate of line 2" in parsed.problems[0].reason
    same = parse_bytes(csv_bytes(["E0,09/08/2019,,arsenal,Arsenal,1,0,H"]))
    assert "both" in same.problems[0].reason


def test_bad_dates_are_rejected_with_line_numbers() -> None:
    rows = [
        "E0,31/02/2020,,A,B,1,0,H",
        "E0,2020-01-05,,C,D,1,0,H",
        "E0,,,E,F,1,0,H",
        "E0,05/01/2020,,G,H,1,0,H",
        "E0,13/13/2020,,I,J,1,0,H",
    ]
    parsed = parse_bytes(csv_bytes(rows))
    assert reasons(parsed) == {
        2: "bad date '31/02/2020'",
        3: "bad date '2020-01-05'",
        4: "missing Date",
        6: "bad date '13/13/2020'",
    }
    assert parsed.matches["line"].tolist() == [5]


def test_bad_goals_are_rejected() -> None:
    rows = [
        "E0,09/08/2019,,A,B,-1,0,A",
        "E0,09/08/2019,,C,D,1.5,0,H",
        "E0,09/08/2019,,E,F,1,two,H",
        "E0,09/08/2019,,G,H,,0,",
        "E0,09/08/2019,,I,J,2.0,0,H",
    ]
    parsed = parse_bytes(csv_bytes(rows))
    assert reasons(parsed) == {
        2: "negative goals: FTHG=-1",
        3: "fractional goals: FTHG=1.5",
        4: "non-numeric goals: FTAG='two'",
        5: "missing FTHG",
    }
    assert parsed.matches["home_goals"].tolist() == [2]


def test_inconsistent_ftr_is_rejected_and_res_is_understood() -> None:
    rows = ["E0,09/08/2019,,A,B,1,1,H", "E0,09/08/2019,,C,D,2,1,", "E0,09/08/2019,,E,F,0,1,A"]
    parsed = parse_bytes(csv_bytes(rows))
    assert reasons(parsed) == {2: "FTR is 'H' but the score is 1-1"}
    assert parsed.matches["result"].tolist() == ["H", "A"]
    header = "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,Res"
    parsed = parse_bytes(csv_bytes(["E0,09/08/2019,A,B,0,0,A"], header))
    assert reasons(parsed) == {2: "Res is 'A' but the score is 0-0"}


def test_bad_teams_are_rejected() -> None:
    rows = ["E0,09/08/2019,,Arsenal, Arsenal ,1,1,D", "E0,09/08/2019,,,B,1,1,D"]
    parsed = parse_bytes(csv_bytes(rows))
    assert reasons(parsed) == {
        2: "home and away team are both 'Arsenal'",
        3: "missing HomeTeam",
    }


def test_duplicate_rows_are_rejected() -> None:
    rows = [*ROWS, ROWS[0], ROWS[2].replace("1,1,D", "2,2,D")]
    parsed = parse_bytes(csv_bytes(rows))
    dup = "duplicate of line {} (same league, date, home and away)"
    assert reasons(parsed) == {5: dup.format(2), 6: dup.format(4)}
    assert len(parsed.matches) == 3
    assert parsed.rows_read == 5


def test_several_reasons_are_joined() -> None:
    parsed = parse_bytes(csv_bytes(["E0,32/01/2020,,A,A,x,-2,H"]))
    reason = reasons(parsed)[2]
    for part in ("bad date", "both 'A'", "FTHG='x'", "FTAG=-2"):
        assert part in reason


# ------------------------------------------------------------------------------------------
# Corrupted corpus: kept rows and layout variations
# ------------------------------------------------------------------------------------------


def test_latin1_and_cp1252_and_bom_bytes_decode() -> None:
    row = "D1,09/08/2019,,Düsseldorf,Köln,1,0,H"
    for encoding in ("latin-1", "cp1252", "utf-8", "utf-8-sig"):
        parsed = parse_bytes(f"{HEADER}\n{row}\n".encode(encoding))
        assert parsed.matches["home_team"].tolist() == ["Düsseldorf"], encoding
        assert parsed.league == "D1"


def test_crlf_and_lf_give_identical_frames() -> None:
    rows = [*ROWS, "", ROWS[0], "E0,31/02/2020,,A,B,1,0,H"]
    lf = parse_bytes(csv_bytes(rows, newline="\n"))
    crlf = parse_bytes(csv_bytes(rows, newline="\r\n"))
    pd.testing.assert_frame_equal(lf.matches, crlf.matches)
    assert lf.problems == crlf.problems and len(lf.problems) == 2
    assert lf.blank_lines == crlf.blank_lines == 1


def test_unknown_columns_and_column_order_are_ignored() -> None:
    base = parse_bytes(csv_bytes()).matches
    header = "Future1," + HEADER.replace("PSH,", "PSH,NewBookH,") + ",BFEH,Zzz"
    after_psh = HEADER.split(",").index("PSH") + 1
    rows = []
    for row in ROWS:
        cells = row.split(",")
        cells.insert(after_psh, "x")
        rows.append(",".join(["junk", *cells, "2.0", "??"]))
    wide = parse_bytes(csv_bytes(rows, header))
    assert wide.warnings == [] and wide.problems == []
    pd.testing.assert_frame_equal(wide.matches, base)

    names = HEADER.split(",")
    order = list(reversed(range(len(names))))
    shuffled = [",".join(r.split(",")[i] for i in order) for r in ROWS]
    flipped = parse_bytes(csv_bytes(shuffled, ",".join(names[i] for i in order)))
    pd.testing.assert_frame_equal(flipped.matches, base)


def test_short_rows_are_padded_and_trailing_commas_ignored() -> None:
    rows = ["E0,09/08/2019,20:00,A,B,1,0", "E0,10/08/2019,,C,D,0,0,D,0,0,D,2,3,4,,,,,,,"]
    parsed = parse_bytes(csv_bytes(rows, HEADER + ",,,"))
    assert parsed.problems == [] and parsed.warnings == []
    frame = parsed.matches
    assert frame["result"].tolist() == ["H", "D"]
    assert frame["ht_home_goals"].isna().tolist() == [True, False]
    assert frame["ht_result"].tolist() == [None, "D"]
    assert np.isnan(frame["pinnacle_pre_h"].iloc[0])
    assert frame["pinnacle_pre_a"].iloc[1] == 4.0


def test_extra_non_empty_cells_give_a_warning() -> None:
    parsed = parse_bytes(csv_bytes([ROWS[0] + ",surprise"]))
    assert len(parsed.matches) == 1
    assert parsed.warnings == [RowProblem(2, "1 non-empty cell(s) beyond the header ignored")]


def test_blank_lines_are_counted_and_line_numbers_stay_physical() -> None:
    rows = [ROWS[0], "", ",,,,,,,,,,,,,,,,", "  , ,", ROWS[1]]
    parsed = parse_bytes(csv_bytes(rows))
    assert parsed.blank_lines == 3
    assert parsed.rows_read == 2
    assert parsed.matches["line"].tolist() == [2, 6]


def test_bad_odds_cells_become_nan_with_a_warning() -> None:
    rows = [
        ROWS[0].replace(",1.14,10.0,19.0,", ",abc,10.0,19.0,"),
        ROWS[1].replace(",12.0,6.5,1.25,", ",12.0,1.0,,"),
        ROWS[2].replace(",2.9,3.5,2.5,", ",0,3.5, 2.5 ,"),
    ]
    parsed = parse_bytes(csv_bytes(rows))
    assert parsed.problems == []
    assert [(w.line, w.reason.split(" (")[0]) for w in parsed.warnings] == [
        (2, "bad odds PSH='abc'"),
        (3, "bad odds PSD='1.0'"),
        (4, "bad odds PSH='0'"),
    ]
    frame = parsed.matches
    assert frame["pinnacle_pre_h"].isna().tolist() == [True, False, True]
    assert frame["pinnacle_pre_d"].isna().tolist() == [False, True, False]
    assert frame["pinnacle_pre_a"].isna().tolist() == [False, True, False]  # blank: silent
    assert frame["pinnacle_pre_a"].iloc[2] == 2.5


def test_bad_half_time_and_time_cells_give_warnings() -> None:
    rows = [
        "E0,09/08/2019,25:00,A,B,1,0,H,-1,0,A",
        "E0,09/08/2019,9:05,C,D,1,0,H,1,0,D",
        "E0,09/08/2019,,E,F,1,0,H,,,X",
    ]
    parsed = parse_bytes(csv_bytes(rows))
    assert len(parsed.matches) == 3
    assert [w.line for w in parsed.warnings] == [2, 2, 3, 4]
    assert "bad time '25:00'" in parsed.warnings[0].reason
    assert "HTHG=-1" in parsed.warnings[1].reason
    frame = parsed.matches
    assert frame["time"].tolist() == [None, "09:05", None]
    assert frame["ht_home_goals"].isna().tolist() == [True, False, True]
    assert frame["ht_result"].tolist() == ["A", "H", None]


# ------------------------------------------------------------------------------------------
# Files and folders
# ------------------------------------------------------------------------------------------


def test_read_file_and_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "E0.csv"
    path.write_bytes(csv_bytes(newline="\r\n"))
    parsed = read_file(path)
    assert parsed.source == str(path)
    assert len(parsed.matches) == 3
    missing = tmp_path / "nope.csv"
    with pytest.raises(FootballDataError, match=r"nope\.csv"):
        read_file(missing)
    with pytest.raises(FootballDataError, match="cannot read"):
        read_file(tmp_path)


def test_find_csv_files(tmp_path: Path) -> None:
    (tmp_path / "b" / "deep").mkdir(parents=True)
    (tmp_path / "a").mkdir()
    for name in ("b/deep/X.CSV", "b/one.csv", "a/two.csv", "a/notes.txt", "single.dat"):
        (tmp_path / name).write_bytes(csv_bytes())
    found = find_csv_files([tmp_path / "b", str(tmp_path / "a"), tmp_path / "single.dat"])
    assert found == sorted(
        [
            tmp_path / "b" / "deep" / "X.CSV",
            tmp_path / "b" / "one.csv",
            tmp_path / "a" / "two.csv",
            tmp_path / "single.dat",
        ]
    )
    assert find_csv_files([tmp_path / "a", tmp_path / "a" / "two.csv"]) == [
        tmp_path / "a" / "two.csv"
    ]


def test_find_csv_files_errors(tmp_path: Path) -> None:
    with pytest.raises(FootballDataError, match="ghost"):
        find_csv_files([tmp_path, tmp_path / "ghost"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FootballDataError, match="no CSV"):
        find_csv_files([tmp_path / "empty"])
    with pytest.raises(FootballDataError, match="no CSV"):
        find_csv_files([])


def test_row_problem_is_frozen() -> None:
    problem = RowProblem(3, "x")
    with pytest.raises(AttributeError):
        problem.line = 4  # type: ignore[misc]


# ------------------------------------------------------------------------------------------
# Team names (the rule itself: tests/test_teamnames.py)
# ------------------------------------------------------------------------------------------


def test_look_alike_team_names_are_folded_or_rejected_on_their_row() -> None:
    rows = [
        "E0,09/08/2019,20:00,\uff21rsenal,Norwich,4,1,H,,,,,,,,,",  # full-width A: Arsenal
        "E0,10/08/2019,15:00,West Ham,Ars\u200benal,0,5,A,,,,,,,,,",  # zero-width space
        "E0,11/08/2019,15:00,\u200fArsenal,Chelsea,1,1,D,,,,,,,,,",  # right-to-left mark
        "E0,12/08/2019,15:00,\u0410rsenal,Everton,1,0,H,,,,,,,,,",  # Cyrillic A
        "E0,13/08/2019,15:00,Fulham,Ars\u0435nal,1,0,H,,,,,,,,,",  # Cyrillic e
    ]
    parsed = parse_bytes(csv_bytes(rows))
    assert parsed.matches["home_team"].tolist() == ["Arsenal", "West Ham", "Arsenal"]
    assert parsed.matches["away_team"].tolist() == ["Norwich", "Arsenal", "Chelsea"]
    assert reasons(parsed) == {
        5: "team '\u0410rsenal' mixes Latin and Cyrillic letters ('\u0410' U+0410): fix the "
        "spelling",
        6: "team 'Ars\u0435nal' mixes Latin and Cyrillic letters ('\u0435' U+0435): fix the "
        "spelling",
    }


def test_a_duplicate_hidden_by_an_invisible_character_is_a_duplicate() -> None:
    rows = [ROWS[0], ROWS[0].replace("Liverpool", "Liver\u200bpool")]
    parsed = parse_bytes(csv_bytes(rows))
    assert len(parsed.matches) == 1 and reasons(parsed)[3].startswith("duplicate of line 2")


# ------------------------------------------------------------------------------------------
# Large files: chunks, refused paths, size limit
# ------------------------------------------------------------------------------------------


def many_rows(n: int, start: str = "2019-08-09") -> list[str]:
    """``n`` distinct valid rows, one a day from ``start``."""
    first = pd.Timestamp(start)
    return [
        f"E0,{(first + pd.Timedelta(days=i)).strftime('%d/%m/%Y')},15:00,"
        f"Team {i % 7},Team {(i % 7) + 1},{i % 3},1,,,,,2.0,3.0,4.0,,,"
        for i in range(n)
    ]


def test_chunks_give_the_same_matches_as_one_pass() -> None:
    import io

    rows = many_rows(23)
    rows[5] = rows[5].replace(",15:00,", ",25:00,")  # a warning
    rows[11] = rows[11].replace(",1,,", ",x,,")  # a rejected row
    rows.append(rows[3])  # a duplicate of a row three chunks back
    data = csv_bytes(rows)
    whole = parse_bytes(data)
    file = FileChunks(io.BytesIO(data), "<bytes>", chunk_rows=4)
    chunks = list(file)
    assert [c.rows_read for c in chunks] == [4, 4, 4, 4, 4, 4, 0]  # the last: what is left
    assert [len(c.matches) for c in chunks] == [4, 4, 3, 4, 4, 3, 0]  # lines 13, 25 rejected
    frame = pd.concat([c.matches for c in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(frame, whole.matches)
    assert [p for c in chunks for p in c.problems] == whole.problems
    assert reasons(whole) == {13: "non-numeric goals: FTAG='x'", 25: reasons(whole)[25]}
    assert reasons(whole)[25].startswith("duplicate of line 5")
    assert [w for c in chunks for w in c.warnings] == whole.warnings
    assert sum(c.rows_read for c in chunks) == file.rows_read == whole.rows_read == 24
    assert (file.season, file.league) == (whole.season, whole.league) == ("1920", "E0")


def test_the_season_comes_from_the_earliest_match_in_any_chunk() -> None:
    import io

    rows = [*many_rows(6, start="2020-08-01"), *many_rows(2, start="2020-06-01")]
    whole = parse_bytes(csv_bytes(rows))
    assert whole.season == "1920" and set(whole.matches["season"]) == {"1920"}
    file = FileChunks(io.BytesIO(csv_bytes(rows)), "<bytes>", chunk_rows=3)
    assert {c.season for c in file} == {"2021"}  # the first chunk's guess...
    assert file.season == "1920"  # ...which the consumer must correct
    again = FileChunks(io.BytesIO(csv_bytes(rows)), "<bytes>", chunk_rows=3, season=file.season)
    assert {s for c in again for s in c.matches["season"]} == {"1920"}


def test_unsplittable_rows_in_a_late_chunk_still_refuse_the_file() -> None:
    import io

    rows = [*many_rows(3), *(f'E0,"{i},x' for i in range(4))]
    file = FileChunks(io.BytesIO(csv_bytes(rows)), "<bytes>", chunk_rows=2)
    got = []
    with pytest.raises(FootballDataError, match="4 of 7 rows cannot be split"):
        got.extend(file)
    assert len(got) == 3  # chunks were already out: a writer must undo them


def test_parsing_a_large_file_keeps_memory_bounded_by_the_chunk(tmp_path: Path) -> None:
    """A 200,000-row file took 2.8 GB: the whole text, every line and every row's cells were
    held at once.  Now a chunk is held, plus ~150 bytes a row for finding duplicates."""
    import tracemalloc

    path = tmp_path / "big.csv"
    wide = HEADER + "".join(f",X{i}" for i in range(100))  # a real file is ~120 columns wide
    path.write_bytes(csv_bytes([r + ",1.5" * 100 for r in many_rows(20_000)], header=wide))
    assert path.stat().st_size > 9_000_000
    with path.open("rb") as stream:
        tracemalloc.start()
        try:
            matches = sum(len(c.matches) for c in FileChunks(stream, str(path), chunk_rows=500))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert matches == 20_000
    assert peak < 12_000_000, f"peak {peak:,} bytes"  # the file alone is 9 MB; all of it ~200 MB


def test_only_regular_files_are_read(tmp_path: Path) -> None:
    import os

    with pytest.raises(FootballDataError, match="/dev/zero: it is a character device"):
        read_file("/dev/zero")
    fifo = tmp_path / "E0.csv"
    os.mkfifo(fifo)  # opening it would wait for a writer forever
    with pytest.raises(FootballDataError, match=r"E0\.csv: it is a named pipe"):
        read_file(fifo)
    with pytest.raises(FootballDataError, match="it is a directory, not a regular file"):
        read_file(tmp_path)


def test_files_over_the_size_limit_are_refused(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "E0.csv"
    path.write_bytes(csv_bytes())
    size = path.stat().st_size
    monkeypatch.setenv("FPE_MAX_FILE_BYTES", str(size))
    assert len(read_file(path).matches) == 3
    monkeypatch.setenv("FPE_MAX_FILE_BYTES", str(size - 1))
    with pytest.raises(
        FootballDataError, match=f"larger than {size - 1:,} bytes, the limit set by FPE_MAX"
    ):
        read_file(path)
    monkeypatch.setenv("FPE_MAX_FILE_BYTES", "lots")
    with pytest.raises(InvalidInputError.__base__, match="FPE_MAX_FILE_BYTES='lots'"):
        read_file(path)


def test_a_file_that_grows_past_the_limit_while_read_is_refused(tmp_path: Path) -> None:
    from server.formats.source import open_data_file

    path = tmp_path / "E0.csv"
    path.write_bytes(csv_bytes())
    with open_data_file(path, limit=path.stat().st_size) as stream:
        path.write_bytes(csv_bytes(many_rows(50)))  # same inode, now larger
        with pytest.raises(FootballDataError, match="larger than"):
            list(FileChunks(stream, str(path)))
