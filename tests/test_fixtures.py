"""server.formats.fixtures: a fixtures file's rows, prices under the odds rule, dates."""

from __future__ import annotations

from datetime import date

import pytest

from server.formats.fixtures import RowCounter, parse_fixtures

HEADER = "Div,Date,HomeTeam,AwayTeam,PSH,PSD,PSA,AvgH,AvgD,AvgA,B365H,B365D,B365A,P>2.5,P<2.5"


def parse(*rows: str):
    return parse_fixtures("\n".join([HEADER, *rows]).encode())


def test_a_bad_price_rejects_that_book_for_that_row_only():
    rows = parse(
        "E0,13/12/2026,Arsenal,Chelsea,abc,3.4,3.5,2.0,3.3,3.6,2.05,3.3,3.5,1.9,1.95",
        "E0,13/12/2026,Fulham,Everton,1.2,1.5,1.9,2.5,3.1,2.9,0.5,3.0,3.0,,",
        "E0,13/12/2026,Leeds,Wolves,2.2,3.3,3.4,2.1,3.2,3.5,2.1,3.3,3.4,1.9,1.95",
    )
    assert [r.problem for r in rows] == [None, None, None]
    arsenal, fulham, leeds = (r.fixture for r in rows)
    # Pinnacle's 'abc': the average is the market, and the note says why
    assert arsenal["odds"] == {
        "home": 2.0,
        "draw": 3.3,
        "away": 3.6,
        "over25": 1.9,
        "under25": 1.95,
    }
    assert arsenal["notes"] == ["PSH/PSD/PSA ignored: 'abc' is not a decimal price"]
    assert arsenal["edge_odds"]["home"] == 2.05  # B365's, Pinnacle's left out
    # a 202 % book and a price below 1.01: both books out, the row still predicted
    assert fulham["odds"] == {"home": 2.5, "draw": 3.1, "away": 2.9}
    assert len(fulham["notes"]) == 2
    assert (
        "PSH/PSD/PSA ignored: the prices 1.2 1.5 1.9 add up to a 202.6 % book" in fulham["notes"][0]
    )
    assert "B365H/B365D/B365A ignored: 0.5 is outside" in fulham["notes"][1]
    assert fulham["edge_odds"] is None  # no book left (the average is none)
    assert leeds["notes"] == [] and leeds["odds"]["home"] == 2.2


def test_iso_and_day_first_dates():
    rows = parse(
        "E0,2026-12-13,Arsenal,Chelsea",
        "E0,13/12/2026,Arsenal,Chelsea",
        "E0,13/12/26,Arsenal,Chelsea",
        "E0,2026-13-01,Arsenal,Chelsea",
        "E0,12/13/2026,Arsenal,Chelsea",
    )
    assert [r.fixture["date"] for r in rows[:3]] == [date(2026, 12, 13)] * 3
    for row in rows[3:]:
        assert row.problem and "dd/mm/yyyy, dd/mm/yy or YYYY-MM-DD" in row.problem


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_rows_are_counted_as_the_bytes_arrive(chunk):
    body = (HEADER + "\n" + "E0,13/12/2026,A,B\n\n  \n" * 3 + "E0,13/12/2026,A,B").encode()
    counter = RowCounter()
    seen = [counter.feed(body[i : i + chunk]) for i in range(0, len(body), chunk)]
    assert counter.rows == 4 == len(parse_fixtures(body))
    assert seen == sorted(seen)  # the count only grows: it can refuse before the end


def test_a_price_that_once_failed_the_whole_file_is_one_rows_note():
    """'1e999' read as infinity passed the old cell check and failed the whole request."""
    (row,) = parse("E0,13/12/2026,Arsenal,Chelsea,1e999,3.4,3.5,2.0,3.3,3.6,5000,3.3,3.5,,")
    assert row.problem is None and row.fixture["odds"] == {"home": 2.0, "draw": 3.3, "away": 3.6}
    assert [n.split(" ignored")[0] for n in row.fixture["notes"]] == [
        "PSH/PSD/PSA",
        "B365H/B365D/B365A",
    ]
    assert "1e999 is outside the decimal odds range" in row.fixture["notes"][0]
