"""A training run's configuration: what a user asks for (model type, selection of matches,
hyperparameters), checked for shape by :func:`parse_config` and against the database by
:func:`validate_config` before anything is queued."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import InvalidInputError
from core.pipeline import MODEL_TYPES, TrainingConfig, check_selection
from server.runs.selection import Selection, SelectionError, parse_selection, selection_filter
from server.store.tables import League, Match

__all__ = [
    "ACTIVATE",
    "FIELDS",
    "HYPERPARAMETERS",
    "RunConfig",
    "ValidationError",
    "parse_config",
    "validate_config",
]

FIELDS = (
    "model_type",
    "leagues",
    "seasons",
    "date_from",
    "date_to",
    "hyperparameters",
    "activate",
)
# what happens to the new version: promoted when not worse than the active one (auto),
# always promoted, or kept as a candidate
ACTIVATE = ("auto", "always", "never")
HYPERPARAMETERS = ("xi", "l2", "refit_days", "validation_share", "burn_in_days", "margin")


class ValidationError(SelectionError):
    """A training configuration that cannot run; ``field`` names the offending input."""


@dataclass(frozen=True)
class RunConfig:
    """What a user asks for: model type, selection and hyperparameters (see
    :class:`core.pipeline.TrainingConfig` for their defaults)."""

    model_type: str
    leagues: tuple[str, ...]
    seasons: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    activate: str = "auto"

    @property
    def selection(self) -> Selection:
        return Selection(self.leagues, self.seasons, self.date_from, self.date_to)

    def training_config(self) -> TrainingConfig:
        return TrainingConfig(model_type=self.model_type, **self.hyperparameters)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["leagues"], data["seasons"] = list(self.leagues), list(self.seasons)
        for key in ("date_from", "date_to"):
            data[key] = None if data[key] is None else data[key].isoformat()
        data["hyperparameters"] = {
            k: v for k, v in asdict(self.training_config()).items() if k != "model_type"
        }
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunConfig:
        return parse_config(data)


def parse_config(data: dict[str, Any]) -> RunConfig:
    """Shape checks only (types, known fields); :func:`validate_config` checks the data."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(unknown)}", unknown[0])
    model_type = data.get("model_type")
    if model_type not in MODEL_TYPES:
        raise ValidationError(
            f"unknown model type {model_type!r}; use one of {', '.join(MODEL_TYPES)}",
            "model_type",
        )
    try:
        selection = parse_selection(data)
    except SelectionError as exc:
        raise ValidationError(str(exc), exc.field) from None
    hyper = data.get("hyperparameters") or {}
    if not isinstance(hyper, dict):
        raise ValidationError("hyperparameters must be an object", "hyperparameters")
    hyper = dict(hyper)
    bad = sorted(set(hyper) - set(HYPERPARAMETERS))
    if bad:
        raise ValidationError(
            f"unknown hyperparameter(s) {', '.join(bad)}; known: {', '.join(HYPERPARAMETERS)}",
            "hyperparameters",
        )
    activate = data.get("activate") or "auto"
    if activate not in ACTIVATE:
        raise ValidationError(
            f"activate must be one of {', '.join(ACTIVATE)}, not {activate!r}", "activate"
        )
    config = RunConfig(model_type, **asdict(selection), hyperparameters=hyper, activate=activate)
    try:
        config.training_config().validate()
    except TypeError as exc:
        raise ValidationError(f"bad hyperparameter: {exc}", "hyperparameters") from None
    except InvalidInputError as exc:
        raise ValidationError(str(exc), "hyperparameters") from None
    return config


async def validate_config(engine: AsyncEngine, config: RunConfig) -> int:
    """Check the selection against the database; returns its number of matches."""
    m, lg = Match.__table__, League.__table__
    async with engine.connect() as conn:
        known = {
            row[0]
            for row in await conn.execute(sa.select(lg.c.code).where(lg.c.code.in_(config.leagues)))
        }
        missing = [c for c in config.leagues if c not in known]
        if missing:
            raise ValidationError(
                f"unknown league(s) {', '.join(missing)}: ingest or download them first",
                "leagues",
            )
        if config.seasons:
            present = {
                row[0]
                for row in await conn.execute(
                    sa.select(m.c.season)
                    .distinct()
                    .join(lg, lg.c.id == m.c.league_id)
                    .where(lg.c.code.in_(config.leagues), m.c.season.in_(config.seasons))
                )
            }
            absent = [s for s in config.seasons if s not in present]
            if absent:
                raise ValidationError(
                    f"no matches for season(s) {', '.join(absent)} in {', '.join(config.leagues)}",
                    "seasons",
                )
        dates = [
            row[0]
            for row in await conn.execute(
                sa.select(m.c.match_date)
                .join(lg, lg.c.id == m.c.league_id)
                .where(*selection_filter(config.selection))
                .order_by(m.c.match_date)
            )
        ]
    try:
        check_selection(dates, config.training_config())
    except InvalidInputError as exc:
        raise ValidationError(str(exc), "seasons") from None
    return len(dates)
