"""A fixture's date must be within two years of today, either way."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from server.formats.fixture_dates import check_fixture_date

TODAY = date(2025, 5, 20)


@pytest.mark.parametrize(
    "day",
    [TODAY, date(2025, 5, 25), date(2023, 5, 20), date(2027, 5, 20), date(2024, 2, 29)],
)
def test_dates_within_two_years_pass(day):
    assert check_fixture_date(day, TODAY) is None


@pytest.mark.parametrize(
    ("day", "when"),
    [
        (date(1, 1, 1), "before"),
        (date(2023, 5, 18), "before"),
        (date(2027, 5, 22), "after"),
        (date(9999, 12, 31), "after"),
    ],
)
def test_dates_further_away_are_refused_with_the_reason(day, when):
    problem = check_fixture_date(day, TODAY)
    assert problem is not None
    assert day.isoformat() in problem and f"two years {when} today (2025-05-20)" in problem


def test_datetimes_are_compared_by_their_day():
    assert check_fixture_date(datetime(2025, 5, 25, 15, 0), datetime(2025, 5, 20, 23, 59)) is None
    assert check_fixture_date(datetime(1, 1, 1, 0, 0), TODAY) is not None
