"""Jackpots in GraphQL: a jackpot with its frozen probability sets, saved results, and the
queries and mutations over :mod:`server.runs.jackpots` (the service the REST shim's jackpot
pages use too).  Probabilities here are fractions (0-1), as everywhere in GraphQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from schema.context import read_engine, write_engine
from schema.errors import UserError, graphql_errors
from schema.rows import from_row
from schema.types import Outcomes
from server.runs import jackpot_results, jackpots

__all__ = [
    "DrawComponents",
    "Jackpot",
    "JackpotFixture",
    "JackpotFixtureInput",
    "JackpotMutations",
    "JackpotOddsInput",
    "JackpotQueries",
    "ProbabilitySet",
    "SavedJackpotResult",
]


@strawberry.type(description="The draw model's component draws (fractions).")
class DrawComponents:
    poisson: float | None
    dixon_coles: float | None
    market: float | None


@strawberry.type(
    description="One set's probabilities for one fixture, stored when the jackpot was made. "
    "A: the engine without the odds; B: the active model with the odds (the calibrated "
    "answer); C: the margin-free market; D: the draw model's draw with B's home/away ratio; "
    "E: B sharpened (temperature 0.75, heuristic); G: the mean of A, B and C."
)
class ProbabilitySet:
    set: str
    home: float
    draw: float
    away: float
    entropy: float = strawberry.field(description="In bits.")
    calibrated: bool
    heuristic: bool
    allowed_for_decision_support: bool
    draw_components: DrawComponents | None


@strawberry.type
class JackpotFixture:
    id: str
    home_team: str
    away_team: str
    odds: Outcomes
    match_date: str | None
    league: str | None
    sets: list[ProbabilitySet]


@strawberry.type
class Jackpot:
    id: str
    name: str
    model_version: str
    draw_model_version: str | None
    status: str
    warnings: list[str]
    created_at: datetime
    fixtures: list[JackpotFixture]

    @staticmethod
    def from_service(j: dict[str, Any]) -> Jackpot:
        return from_row(
            Jackpot,
            j,
            fixtures=[
                JackpotFixture(
                    id=f["id"],
                    home_team=f["home"],
                    away_team=f["away"],
                    odds=Outcomes(**f["odds"]),
                    match_date=f["match_date"],
                    league=f["league"],
                    sets=[_set(key, row) for key, row in f["sets"].items()],
                )
                for f in j["fixtures"]
            ],
        )


def _set(key: str, row: dict[str, Any]) -> ProbabilitySet:
    c = row.get("draw_components")
    return from_row(
        ProbabilitySet,
        row,
        set=key,
        allowed_for_decision_support=row["decision_support"],
        draw_components=None if c is None else DrawComponents(**c),
    )


@strawberry.type
class SavedJackpotResult:
    id: int
    name: str
    description: str | None
    jackpot_id: str
    selections: JSON = strawberry.field(description='{set: {fixtureId: "1" | "X" | "2"}}')
    actual_results: JSON = strawberry.field(description='{fixtureId: "1" | "X" | "2"}')
    scores: JSON = strawberry.field(
        description="{set: {correct, total}}: total counts picks whose fixture has a result"
    )
    model_version: str
    total_fixtures: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def from_service(s: dict[str, Any]) -> SavedJackpotResult:
        return SavedJackpotResult(**s)


@strawberry.input(description="Decimal 1X2 odds in [1.01, 1000], a book of at most 130 %.")
class JackpotOddsInput:
    home: float
    draw: float
    away: float


@strawberry.input
class JackpotFixtureInput:
    id: str
    home_team: str
    away_team: str
    odds: JackpotOddsInput
    match_date: str | None = None
    league: str | None = None

    def to_service(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "homeTeam": self.home_team,
            "awayTeam": self.away_team,
            "odds": vars(self.odds),
            "matchDate": self.match_date,
            "league": self.league,
        }


@strawberry.type
class JackpotQueries:
    @strawberry.field
    @graphql_errors
    async def jackpot(self, info: strawberry.Info, id: str) -> Jackpot:
        return Jackpot.from_service(await jackpots.get_jackpot(read_engine(info), id))

    @strawberry.field(description="Saved results, newest first: of one jackpot, or of all.")
    @graphql_errors
    async def saved_jackpot_results(
        self, info: strawberry.Info, jackpot_id: str | None = None, limit: int = 50
    ) -> list[SavedJackpotResult]:
        if not 1 <= limit <= 200:
            raise UserError(
                "limit must be between 1 and 200",
                extensions={"code": "BAD_USER_INPUT", "field": "limit"},
            )
        rows = await jackpot_results.list_saved_results(read_engine(info), jackpot_id, limit)
        return [SavedJackpotResult.from_service(r) for r in rows]


@strawberry.type
class JackpotMutations:
    @strawberry.mutation(
        description="Predict 1-30 fixtures with the active models and freeze the sets."
    )
    @graphql_errors
    async def create_jackpot(
        self, info: strawberry.Info, fixtures: list[JackpotFixtureInput], name: str | None = None
    ) -> Jackpot:
        engine = write_engine(info)
        parsed = jackpots.parse_fixtures([f.to_service() for f in fixtures])
        return Jackpot.from_service(await jackpots.create_jackpot(engine, parsed, name))

    @strawberry.mutation(description="Save picks per set; the scores are computed here.")
    @graphql_errors
    async def save_jackpot_result(
        self,
        info: strawberry.Info,
        jackpot_id: str,
        name: str,
        selections: JSON,
        description: str | None = None,
        actual_results: JSON | None = None,
    ) -> SavedJackpotResult:
        saved = await jackpot_results.save_result(
            write_engine(info), jackpot_id, name, description, selections, actual_results
        )
        return SavedJackpotResult.from_service(saved)

    @strawberry.mutation(description="Replace the actual results (nulls dropped) and rescore.")
    @graphql_errors
    async def set_jackpot_actual_results(
        self, info: strawberry.Info, saved_result_id: int, actual_results: JSON
    ) -> SavedJackpotResult:
        saved = await jackpot_results.set_actual_results(
            write_engine(info), saved_result_id, actual_results
        )
        return SavedJackpotResult.from_service(saved)
