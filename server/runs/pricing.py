"""A fair score grid and every market from bookmaker odds alone: the part of the prediction
service that needs no database and no fitted model, so that ``fpe price`` imports no
SQLAlchemy, pandas or model-fitting code (:mod:`server.runs.predictions` re-exports it)."""

from __future__ import annotations

from core.errors import InvalidInputError
from core.pricing import price as price_grid
from core.serving import Markets, markets_of
from server.base.config import odds_rule

__all__ = ["check_line", "price"]


def check_line(line: float) -> None:
    if not (line >= 0 and (line * 2) % 2 == 1):
        raise InvalidInputError(f"the totals line must be a half-goal line (2.5), got {line}")


def price(
    odds: tuple[float, float, float],
    over_under: tuple[float, float] | None = None,
    line: float = 2.5,
    margin: str = "power",
    rho: float = 0.0,
) -> Markets:
    """The fair score grid and every derived market from 1X2 (+ over/under) odds alone,
    no fitted model: the service behind ``fpe price``."""
    rule = odds_rule()
    rule.check(odds, "the 1X2 odds")
    if over_under is not None:
        rule.check(over_under, "the over/under odds")
    check_line(line)
    grid = price_grid(
        [odds], None if over_under is None else [over_under], line=line, margin=margin, rho=rho
    )
    return markets_of(grid)[0]
