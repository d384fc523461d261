"""GraphQL types of a model version's detail and of two versions compared, built from
:mod:`server.runs.compare`'s answers."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

__all__ = [
    "Calibration",
    "CalibrationBin",
    "Difference",
    "LeaguePair",
    "LeagueScores",
    "ModelDetail",
    "PairedScores",
    "Scores",
]


@strawberry.type(description="One equal-count bin of held-out forecasts of one outcome.")
class CalibrationBin:
    predicted: float
    observed: float
    count: int


@strawberry.type(description="Calibration of held-out forecasts per outcome, bin by bin.")
class Calibration:
    home: list[CalibrationBin]
    draw: list[CalibrationBin]
    away: list[CalibrationBin]

    @staticmethod
    def from_dict(curves: dict[str, list[dict[str, Any]]] | None) -> Calibration | None:
        if not curves:
            return None
        return Calibration(
            **{k: [CalibrationBin(**b) for b in curves[k]] for k in ("home", "draw", "away")}
        )


@strawberry.type(description="Scores of 1X2 forecasts on validation matches.")
class Scores:
    rps: float | None
    log_loss: float | None
    brier: float | None
    accuracy: float | None
    draw_accuracy: float | None
    n: int | None = None

    @staticmethod
    def from_dict(s: dict[str, Any]) -> Scores:
        return Scores(
            **{k: s.get(k) for k in ("rps", "log_loss", "brier", "accuracy", "draw_accuracy")},
            n=s.get("n"),
        )


@strawberry.type
class LeagueScores:
    league: str
    scores: Scores


@strawberry.type(
    description="A version in detail: held-out scores per league, calibration with bin "
    "counts, hyperparameters and its run's logs."
)
class ModelDetail:
    per_league: list[LeagueScores]
    calibration: Calibration | None
    hyperparameters: JSON
    logs: list[str]

    @staticmethod
    def from_dict(d: dict[str, Any]) -> ModelDetail:
        return ModelDetail(
            per_league=[
                LeagueScores(league=k, scores=Scores.from_dict(v))
                for k, v in d["per_league"].items()
            ],
            calibration=Calibration.from_dict(d["calibration"]),
            hyperparameters=d["hyperparameters"],
            logs=d["logs"],
        )


@strawberry.type(
    description="B against A on the same matches: rpsDiff is mean(RPS B - RPS A) "
    "(negative: B is better), with its standard error."
)
class PairedScores:
    n: int
    a: Scores
    b: Scores
    rps_diff: float
    rps_diff_se: float | None

    @staticmethod
    def from_dict(p: dict[str, Any] | None) -> PairedScores | None:
        if p is None:
            return None
        return PairedScores(
            n=p["n"],
            a=Scores.from_dict(p["a"]),
            b=Scores.from_dict(p["b"]),
            rps_diff=p["rps_diff"],
            rps_diff_se=p["rps_diff_se"],
        )


@strawberry.type
class LeaguePair:
    league: str
    paired: PairedScores


@strawberry.type(description="One hyperparameter or window of two versions.")
class Difference:
    name: str
    a: JSON | None
    b: JSON | None
    same: bool

    @staticmethod
    def rows(table: dict[str, dict[str, Any]]) -> list[Difference]:
        return [Difference(name=k, a=v["a"], b=v["b"], same=v["same"]) for k, v in table.items()]
