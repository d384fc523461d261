"""Dates as the APIs take them: a date, a datetime (its day), ISO text, or nothing."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

__all__ = ["as_date"]


def as_date(value: Any) -> date | None:
    """``value``'s day; ``None`` for ``None`` or ``""``.  :class:`ValueError` when it is
    neither a date nor ISO text (``YYYY-MM-DD``): the caller names the input."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
