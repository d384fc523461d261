"""How far from today a fixture's date may be.  A fixture dated 0001-01-01 was predicted
as if it were next week's: a date years away is a typo or a placeholder, and no model
knows the teams' strengths then.  The fixtures input (the JSON body and the fixtures CSV)
refuses such a fixture with this message; the other fixtures are still predicted."""

from __future__ import annotations

from datetime import date, datetime

__all__ = ["MAX_DAYS_FROM_TODAY", "check_fixture_date"]

MAX_DAYS_FROM_TODAY = 731
"""Two years either way (a leap day included)."""


def check_fixture_date(day: date, today: date) -> str | None:
    """What is wrong with a fixture on ``day``, or ``None`` when it is at most two years
    before or after ``today``."""
    day = day.date() if isinstance(day, datetime) else day
    today = today.date() if isinstance(today, datetime) else today
    if abs((day - today).days) <= MAX_DAYS_FROM_TODAY:
        return None
    when = "before" if day < today else "after"
    return (
        f"date {day.isoformat()} is more than two years {when} today ({today.isoformat()}): "
        "give the match's real date"
    )
