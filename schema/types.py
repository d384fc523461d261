"""GraphQL object types; each is built from a service-layer row (a dict)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from core.serving import ModelCard
from core.serving import Outcomes as CoreOutcomes
from schema.rows import from_row
from schema.versions import Calibration, Difference, LeaguePair, ModelDetail, PairedScores
from server.runs.compare import model_detail
from server.runs.phases import phase_text
from server.runs.predictions import FixtureResult
from server.runs.runconfig import ACTIVATE
from server.runs.serialize import json_ready
from server.store.tables import ModelStatus as _ModelStatus

__all__ = [
    "Activate",
    "Btts",
    "CalibrationCurves",
    "DrawParameters",
    "FixtureInput",
    "GoalPair",
    "HandicapLine",
    "HyperparametersInput",
    "League",
    "ModelComparison",
    "ModelStatus",
    "ModelType",
    "ModelVersion",
    "OddsInput",
    "Outcomes",
    "OverUnder",
    "Prediction",
    "ProgressEvent",
    "Team",
    "TeamStrength",
    "TotalLine",
    "TrainingInput",
    "TrainingRun",
]

strawberry.enum(
    _ModelStatus, name="ModelStatus", description="Lifecycle state of a model version or a run."
)
ModelStatus = _ModelStatus


@strawberry.enum(
    name="ModelType",
    description=(
        "poisson (Dixon-Coles), blending, calibration, draw (a learned draw probability from "
        "Poisson, Dixon-Coles and the pre-match market), full (Dixon-Coles, blend, calibration)."
    ),
)
class ModelType(enum.Enum):  # core.pipeline.MODEL_TYPES, in its order (a test checks)
    POISSON = "poisson"
    BLENDING = "blending"
    CALIBRATION = "calibration"
    DRAW = "draw"
    FULL = "full"


@strawberry.enum(
    description=(
        "What happens to a new version: AUTO makes it active when no model of its type and "
        "leagues is, or when it is not worse than the active one on their common validation "
        "matches (paired RPS, 2 standard errors), else it stays a candidate; ALWAYS; NEVER."
    )
)
class Activate(enum.Enum):
    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


assert tuple(a.value for a in Activate) == ACTIVATE  # the service's choices


@strawberry.type
class League:
    id: int
    code: str
    name: str
    country: str
    match_count: int
    seasons: list[str]
    last_match_date: date | None = strawberry.field(description="The league's latest match.")
    last_ingest_at: datetime | None = strawberry.field(
        description="When a file of the league was last ingested."
    )

    @strawberry.field
    async def teams(self, info: strawberry.Info) -> list[Team]:
        return [Team(**r) for r in await info.context.loaders.teams_by_league.load(self.id)]


@strawberry.type
class Team:
    id: int
    name: str
    country: str


@strawberry.type
class TeamStrength:
    team_id: int
    attack: float
    defense: float

    @strawberry.field
    async def team(self, info: strawberry.Info) -> Team | None:
        row = await info.context.loaders.team_by_id.load(self.team_id)
        return None if row is None else Team(id=row["id"], name=row["name"], country=row["country"])


@strawberry.type
class CalibrationCurves:
    home: list[list[float]]
    draw: list[list[float]]
    away: list[list[float]]


@strawberry.type(
    description="A draw model's parameters: the weights of the three draw probabilities (with "
    "pre-match odds, and without), and the draw floor and cap (null when inactive)."
)
class DrawParameters:
    poisson_weight: float
    dixon_coles_weight: float
    market_weight: float
    fallback_poisson_weight: float
    fallback_dixon_coles_weight: float
    floor: float | None
    cap: float | None

    @staticmethod
    def from_weights(draw: Mapping[str, Any]) -> DrawParameters:
        w, f = draw["weights"], draw["fallback_weights"]
        return DrawParameters(
            poisson_weight=w["poisson"],
            dixon_coles_weight=w["dixon_coles"],
            market_weight=w["market"],
            fallback_poisson_weight=f["poisson"],
            fallback_dixon_coles_weight=f["dixon_coles"],
            floor=draw.get("floor"),
            cap=draw.get("cap"),
        )


@strawberry.type
class ModelVersion:
    id: int
    version: str
    model_type: str
    status: ModelStatus
    training_started_at: datetime | None
    training_completed_at: datetime | None
    training_matches: int | None = strawberry.field(
        description="Matches fitted: the run's selection less its validation period."
    )
    training_leagues: list[str] | None
    training_seasons: list[str] | None
    brier_score: float | None
    log_loss: float | None
    draw_accuracy: float | None = strawberry.field(
        description="Validation draw accuracy, a fraction (0-1; the REST shim gives percent)."
    )
    overall_accuracy: float | None = strawberry.field(
        description="Validation accuracy, a fraction (0-1; the REST shim gives percent)."
    )
    rps: float | None
    metrics: JSON | None
    config: JSON | None
    created_at: datetime
    scope: str | None = strawberry.field(
        default=None, description="Its leagues: one model per type and scope is active."
    )
    data_from: date | None = strawberry.field(
        default=None, description="The first match the served model was fitted on."
    )
    data_to: date | None = strawberry.field(
        default=None, description="The last match the served model was fitted on."
    )
    validation_from: date | None = None
    validation_to: date | None = None
    validation_matches: int | None = None

    @staticmethod
    def from_row(row: dict[str, Any]) -> ModelVersion:
        fields: dict[str, Any] = {f: row.get(f) for f in _MODEL_FIELDS}
        return ModelVersion(**fields | {"status": _ModelStatus(row["status"])})

    @strawberry.field
    async def training_runs(self, info: strawberry.Info) -> list[TrainingRun]:
        rows = await info.context.loaders.runs_by_model.load(self.id)
        return [TrainingRun.from_row(r) for r in rows]

    @strawberry.field(description="Team attack/defense on the multiplicative scale.")
    async def team_strengths(self, info: strawberry.Info) -> list[TeamStrength]:
        card = await _card(info, self.id)
        return [
            TeamStrength(team_id=int(k), attack=v["attack"], defense=v["defense"])
            for k, v in card.team_strengths.items()
        ]

    @strawberry.field
    async def calibration_curves(self, info: strawberry.Info) -> CalibrationCurves | None:
        curves = (await _card(info, self.id)).calibration_curves
        return None if not curves else CalibrationCurves(**curves)

    @strawberry.field
    async def blend_alpha(self, info: strawberry.Info) -> float | None:
        return (await _card(info, self.id)).blend_alpha

    @strawberry.field(description="The draw model's parameters (null for other model types).")
    async def draw_model(self, info: strawberry.Info) -> DrawParameters | None:
        draw = (await _card(info, self.id)).draw
        return None if not draw else DrawParameters.from_weights(draw)

    @strawberry.field
    async def home_advantage(self, info: strawberry.Info) -> float | None:
        return (await _card(info, self.id)).home_advantage

    @strawberry.field(
        description="Held-out scores per league, calibration with bin counts, "
        "hyperparameters and the run's logs."
    )
    async def detail(self, info: strawberry.Info) -> ModelDetail:
        engine = info.context.services.engine
        return ModelDetail.from_dict(json_ready(await model_detail(engine, self.version)))


@strawberry.type(
    description="Version B against version A on the validation matches both held out: "
    "paired scores overall and per league, calibration with bin counts, hyperparameters "
    "and data windows side by side."
)
class ModelComparison:
    a: ModelVersion
    b: ModelVersion
    n: int
    overall: PairedScores | None
    leagues: list[LeaguePair]
    calibration_a: Calibration | None
    calibration_b: Calibration | None
    hyperparameters: list[Difference]
    windows: list[Difference]
    note: str

    @staticmethod
    def from_dict(c: dict[str, Any], a: dict[str, Any], b: dict[str, Any]) -> ModelComparison:
        c = json_ready(c)
        paired = c["paired"]
        calibration = c["calibration"] or {}
        return ModelComparison(
            a=ModelVersion.from_row(a),
            b=ModelVersion.from_row(b),
            n=paired["n"],
            overall=PairedScores.from_dict(paired["overall"]),
            leagues=[
                LeaguePair(league=k, paired=PairedScores.from_dict(v))  # type: ignore[arg-type]
                for k, v in paired["leagues"].items()
            ],
            calibration_a=Calibration.from_dict(calibration.get("a")),
            calibration_b=Calibration.from_dict(calibration.get("b")),
            hyperparameters=Difference.rows(c["hyperparameters"]),
            windows=Difference.rows(c["windows"]),
            note=c["note"],
        )


async def _card(info: strawberry.Info, model_id: int) -> ModelCard:
    """What the model's stored weights say about it (read by core, not here)."""
    return ModelCard.from_weights(await info.context.loaders.weights_by_model.load(model_id))


_MODEL_FIELDS = [
    "id",
    "version",
    "model_type",
    "training_started_at",
    "training_completed_at",
    "training_matches",
    "training_leagues",
    "training_seasons",
    "brier_score",
    "log_loss",
    "draw_accuracy",
    "overall_accuracy",
    "rps",
    "metrics",
    "config",
    "created_at",
    "scope",
    "data_from",
    "data_to",
    "validation_from",
    "validation_to",
    "validation_matches",
]


@strawberry.type
class TrainingRun:
    id: int
    task_id: str
    run_type: str
    status: ModelStatus
    progress: float
    phase: str | None
    message: str | None
    started_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    match_count: int | None = strawberry.field(
        description="Matches selected (fitted on, then validated on)."
    )
    date_from: date | None
    date_to: date | None
    brier_score: float | None
    log_loss: float | None
    validation_accuracy: float | None = strawberry.field(
        description="A fraction (0-1; the REST shim gives percent)."
    )
    rps: float | None
    error_message: str | None
    logs: list[str] | None
    metrics: JSON | None
    config: JSON | None
    model_id: strawberry.Private[int | None]

    @staticmethod
    def from_row(row: dict[str, Any]) -> TrainingRun:
        fields: dict[str, Any] = {f: row.get(f) for f in _RUN_FIELDS}
        return TrainingRun(
            **fields
            | {
                "status": _ModelStatus(row["status"]),
                "logs": [str(x) for x in row.get("logs") or []],
            }
        )

    @strawberry.field(description="The phase in words, e.g. 'Fitting Dixon-Coles'.")
    def phase_text(self) -> str | None:
        return phase_text(self.phase)

    @strawberry.field
    async def model(self, info: strawberry.Info) -> ModelVersion | None:
        if self.model_id is None:
            return None
        row = await info.context.loaders.model_by_id.load(self.model_id)
        return None if row is None else ModelVersion.from_row(row)


_RUN_FIELDS = [
    "id",
    "task_id",
    "run_type",
    "progress",
    "phase",
    "message",
    "started_at",
    "completed_at",
    "created_at",
    "match_count",
    "date_from",
    "date_to",
    "brier_score",
    "log_loss",
    "validation_accuracy",
    "rps",
    "error_message",
    "metrics",
    "config",
    "model_id",
]


@strawberry.type
class ProgressEvent:
    task_id: str
    event_id: str
    type: str
    status: str | None = None
    phase: str | None = None
    progress: float | None = None
    message: str | None = None
    metrics: JSON | None = None
    error: str | None = None
    version: str | None = None
    ts: str | None = strawberry.field(
        default=None, description="When the event was published (UTC, ISO)."
    )

    @strawberry.field(description="The phase in words, e.g. 'Fitting Dixon-Coles'.")
    def phase_text(self) -> str | None:
        return phase_text(self.phase)

    @staticmethod
    def from_event(event_id: str, event: dict[str, Any]) -> ProgressEvent:
        return from_row(ProgressEvent, {"task_id": "", "type": ""} | event, event_id=event_id)


@strawberry.type
class GoalPair:
    home: float
    away: float


@strawberry.type
class TotalLine:
    line: float
    over: float
    under: float


@strawberry.type
class HandicapLine:
    line: float
    win: float
    push: float
    lose: float


@strawberry.type
class Btts:
    yes: float
    no: float


@strawberry.type(description="Home, draw and away values (probabilities or edges).")
class Outcomes:
    home: float
    draw: float
    away: float


@strawberry.type
class OverUnder:
    over: float
    under: float


@strawberry.type
class Prediction:
    model_version: str
    model_type: str
    home_team: str
    away_team: str
    home_win: float
    draw: float
    away_win: float
    expected_goals: GoalPair
    score_grid: list[list[float]]
    totals: list[TotalLine]
    btts: Btts
    asian_handicap: list[HandicapLine]
    odds: Outcomes | None = strawberry.field(
        default=None, description="The decimal 1X2 prices given with the fixture."
    )
    market: Outcomes | None = strawberry.field(
        default=None, description="Margin-free market probabilities of the given odds."
    )
    edge: Outcomes | None = strawberry.field(
        default=None, description="Per outcome: model probability x odds - 1."
    )
    market_over25: float | None = strawberry.field(
        default=None, description="Margin-free market probability of over 2.5 goals."
    )
    edge_over25: OverUnder | None = strawberry.field(
        default=None, description="Goal-model probability x over/under 2.5 odds - 1."
    )

    notes: list[str] = strawberry.field(
        default_factory=list, description="Prices given that were not used, and why."
    )

    @staticmethod
    def from_result(result: FixtureResult) -> Prediction:
        p = result.prediction
        assert p is not None and result.home_team is not None and result.away_team is not None
        m = p.markets

        def outcomes(o: CoreOutcomes | None) -> Outcomes | None:
            return None if o is None else Outcomes(home=o.home, draw=o.draw, away=o.away)

        edge_ou = p.edge_over_under
        return Prediction(
            model_version=p.model_version,
            model_type=p.model_type,
            home_team=result.home_team,
            away_team=result.away_team,
            home_win=p.outcomes.home,
            draw=p.outcomes.draw,
            away_win=p.outcomes.away,
            expected_goals=GoalPair(home=m.expected_goals.home, away=m.expected_goals.away),
            score_grid=[list(row) for row in m.score_grid],
            totals=[TotalLine(line=k, over=v.over, under=v.under) for k, v in m.totals.items()],
            btts=Btts(yes=m.btts, no=1.0 - m.btts),
            asian_handicap=[
                HandicapLine(line=k, win=v.win, push=v.push, lose=v.lose)
                for k, v in m.asian_handicap.items()
            ],
            odds=outcomes(p.odds),
            market=outcomes(p.market),
            edge=outcomes(p.edge),
            market_over25=p.market_over,
            edge_over25=None
            if edge_ou is None
            else OverUnder(over=edge_ou.over, under=edge_ou.under),
            notes=list(result.notes),
        )


@strawberry.input(description="Decimal odds on offer for one fixture.")
class OddsInput:
    home: float
    draw: float
    away: float
    over25: float | None = None
    under25: float | None = None


@strawberry.input
class FixtureInput:
    home: str
    away: str
    league: str | None = None
    date: date | None = None
    odds: OddsInput | None = None

    def to_service(self) -> dict[str, Any]:
        return {
            "home": self.home,
            "away": self.away,
            "league": self.league,
            "date": self.date,
            "odds": None if self.odds is None else vars(self.odds),
        }


@strawberry.input
class HyperparametersInput:
    xi: float | None = strawberry.field(default=None, description="Dixon-Coles time decay PER DAY.")
    l2: float | None = None
    refit_days: int | None = None
    validation_share: float | None = None
    burn_in_days: int | None = None


@strawberry.input
class TrainingInput:
    model_type: ModelType
    leagues: list[str]
    seasons: list[str] | None = None
    date_from: date | None = None
    date_to: date | None = None
    hyperparameters: HyperparametersInput | None = None
    activate: Activate = Activate.AUTO

    def to_request(self) -> dict[str, Any]:
        hyper = {}
        if self.hyperparameters is not None:
            hyper = {k: v for k, v in vars(self.hyperparameters).items() if v is not None}
        return {
            "model_type": self.model_type.value,
            "leagues": self.leagues,
            "seasons": self.seasons or [],
            "date_from": self.date_from,
            "date_to": self.date_to,
            "hyperparameters": hyper,
            "activate": self.activate.value,
        }
