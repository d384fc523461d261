"""GraphQL types of a stored model evaluated on chosen matches, built from
:func:`server.runs.predictions.evaluate`'s answer: its scores against the market and the
betting report of :func:`core.betting.betting_report`, typed."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry

from schema.rows import from_row
from schema.versions import Scores

__all__ = [
    "BetSource",
    "BetStats",
    "Betting",
    "Ceiling",
    "Evaluation",
    "EvaluationSelection",
    "Interval",
    "LeagueBets",
]


@strawberry.type(description="A 95 % bootstrap confidence interval (bets resampled).")
class Interval:
    low: float
    high: float

    @staticmethod
    def from_list(pair: list[float] | None) -> Interval | None:
        return None if not pair else Interval(low=pair[0], high=pair[1])


@strawberry.type(
    description="The bets one price source selects: flat-stake ROI (mean profit per unit "
    "staked), fractional-Kelly log growth of the bankroll per bet and in all, closing-line "
    "value (mean log of bet price over the closing price; positive beats the close), each "
    "with its interval (null under two bets). Null figures: no bets."
)
class BetStats:
    bets: int
    roi: float | None
    roi_ci: Interval | None
    kelly_growth_per_bet: float | None
    kelly_growth_ci: Interval | None
    kelly_log_growth_total: float | None
    clv: float | None
    clv_ci: Interval | None
    clv_bets: int | None = strawberry.field(description="Bets with a closing price.")

    @staticmethod
    def from_dict(s: dict[str, Any]) -> BetStats:
        return BetStats(
            bets=s["bets"],
            roi=s.get("roi"),
            roi_ci=Interval.from_list(s.get("roi_ci")),
            kelly_growth_per_bet=s.get("kelly_growth_per_bet"),
            kelly_growth_ci=Interval.from_list(s.get("kelly_growth_ci")),
            kelly_log_growth_total=s.get("kelly_log_growth_total"),
            clv=s.get("clv"),
            clv_ci=Interval.from_list(s.get("clv_ci")),
            clv_bets=s.get("clv_bets"),
        )


@strawberry.type
class LeagueBets:
    league: str
    stats: BetStats


@strawberry.type(
    description="Betting at one pre-match price source (max_pre, bbmax_pre: the best price "
    "across books, football-data's and BetBrain's; avg_pre, bbav_pre: market averages), on "
    "the matches it prices."
)
class BetSource:
    source: str
    matches_priced: int
    matches_without_prices: int
    overall: BetStats
    leagues: list[LeagueBets]

    @staticmethod
    def from_dict(source: str, block: dict[str, Any]) -> BetSource:
        return BetSource(
            source=source,
            matches_priced=block["matches_priced"],
            matches_without_prices=block["matches_without_prices"],
            overall=BetStats.from_dict(block["overall"]),
            leagues=[
                LeagueBets(league=k, stats=BetStats.from_dict(v))
                for k, v in block["leagues"].items()
            ],
        )


@strawberry.type(
    description="Per match, the outcome with the largest edge (probability x price - 1) "
    "is bet when that edge is over minEdge; Kelly stakes kellyFraction x edge / (price - "
    "1) of the bankroll, at most maxStake."
)
class Betting:
    min_edge: float
    kelly_fraction: float
    max_stake: float
    closing_source: str
    sources: list[BetSource]

    @staticmethod
    def from_dict(b: dict[str, Any]) -> Betting:
        return Betting(
            min_edge=b["min_edge"],
            kelly_fraction=b["kelly_fraction"],
            max_stake=b["max_stake"],
            closing_source=b["closing_source"],
            sources=[BetSource.from_dict(k, v) for k, v in b["sources"].items()],
        )


@strawberry.type(description="The model against the closing market: the ceiling.")
class Ceiling:
    market_source: str
    n: int
    market: Scores
    rps_diff: float
    rps_diff_se: float | None


@strawberry.type(description="The matches evaluated on.")
class EvaluationSelection:
    leagues: list[str]
    seasons: list[str]
    date_from: date | None
    date_to: date | None
    default: str | None = strawberry.field(
        description="Which of the version's defaults filled the selection (null: none)."
    )


@strawberry.type(
    description="A version's forecasts scored against the market on chosen matches "
    "(rpsDiff: model - market, negative is better) and the bets their edges select. "
    "forecasts says which were scored: the version's held-out forecasts of its validation "
    "matches (made by the fit on the data before them: out of sample) or the stored "
    "model's. inSampleMatches were on or before the end of the data the stored model was "
    "fitted on: figures on them flatter it (0 for held-out forecasts)."
)
class Evaluation:
    model_version: str
    forecasts: str = strawberry.field(
        description="Which forecasts were scored: 'held-out forecasts of the validation "
        "fit' or 'the stored model' (with why, when held-out ones were wanted but not kept)."
    )
    held_out: bool = strawberry.field(
        description="Whether the forecasts scored are the version's held-out ones."
    )
    market_kind: str
    market_source: str
    n: int = strawberry.field(description="Matches scored (those the market source prices).")
    model: Scores
    market: Scores
    rps_diff: float
    rps_diff_se: float | None
    ceiling: Ceiling | None
    matches_without_market: int
    skipped_unknown_teams: int
    skipped_without_forecast: int = strawberry.field(
        description="Selected matches the version held out no forecast of (outside its "
        "validation period): not scored. 0 for the stored model."
    )
    in_sample_matches: int
    period_from: date
    period_to: date
    selection: EvaluationSelection
    betting: Betting

    @staticmethod
    def from_dict(r: dict[str, Any]) -> Evaluation:
        """From :func:`~server.runs.predictions.evaluate`'s answer made JSON-ready (NaN
        standard errors are null)."""
        c, s = r.get("ceiling"), r["selection"]
        ceiling = None
        if c is not None:
            ceiling = from_row(Ceiling, c, market=Scores.from_dict(c["market"] | {"n": c["n"]}))
        return from_row(
            Evaluation,
            r,
            model=Scores.from_dict(r["model"] | {"n": r["n"]}),
            market=Scores.from_dict(r["market"] | {"n": r["n"]}),
            ceiling=ceiling,
            period_from=date.fromisoformat(r["period"]["from"]),
            period_to=date.fromisoformat(r["period"]["to"]),
            selection=from_row(
                EvaluationSelection, s, date_from=_day(s["date_from"]), date_to=_day(s["date_to"])
            ),
            betting=Betting.from_dict(r["betting"]),
        )


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)
