"""The training service: validate a run's configuration, create and queue it, cancel it, and
read runs and models.  GraphQL, REST, the CLI and the worker all call these functions.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import InvalidInputError
from core.pipeline import MIN_MATCHES, MODEL_TYPES, TrainingConfig
from server.footballdata import ODDS_COLUMNS
from server.registry import ModelNotFoundError
from server.tables import League, Match, MatchOdds, Model, ModelStatus, Team, TrainingRun

__all__ = [
    "RunConfig",
    "RunNotFoundError",
    "ValidationError",
    "cancel_run",
    "check_selection",
    "create_run",
    "delete_queued_run",
    "get_model",
    "get_run",
    "json_ready",
    "list_models",
    "list_runs",
    "list_runs_by_id",
    "load_matches",
    "new_task_id",
    "new_version",
    "parse_config",
    "team_names",
    "validate_config",
]

_RUNS = TrainingRun.__table__
_MODELS = Model.__table__
HYPERPARAMETERS = ("xi", "l2", "refit_days", "validation_share", "burn_in_days", "margin")


class ValidationError(InvalidInputError):
    """A training configuration that cannot run; ``field`` names the offending input."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class RunNotFoundError(InvalidInputError):
    """No training run has that task id."""

    code = "NOT_FOUND"
    http_status = 404


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


def _date(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"{name} {value!r} is not a date (YYYY-MM-DD)", name) from None


def parse_config(data: dict[str, Any]) -> RunConfig:
    """Shape checks only (types, known fields); :func:`validate_config` checks the data."""
    known = {"model_type", "leagues", "seasons", "date_from", "date_to", "hyperparameters"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(unknown)}", unknown[0])
    model_type = data.get("model_type")
    if model_type not in MODEL_TYPES:
        raise ValidationError(
            f"unknown model type {model_type!r}; use one of {', '.join(MODEL_TYPES)}",
            "model_type",
        )
    leagues = data.get("leagues") or []
    if isinstance(leagues, str) or not all(isinstance(x, str) for x in leagues) or not leagues:
        raise ValidationError("leagues must be a non-empty list of codes such as E0", "leagues")
    seasons = data.get("seasons") or []
    if isinstance(seasons, str) or not all(isinstance(x, str) for x in seasons):
        raise ValidationError("seasons must be a list of codes such as 2324", "seasons")
    hyper = dict(data.get("hyperparameters") or {})
    bad = sorted(set(hyper) - set(HYPERPARAMETERS))
    if bad:
        raise ValidationError(
            f"unknown hyperparameter(s) {', '.join(bad)}; known: {', '.join(HYPERPARAMETERS)}",
            "hyperparameters",
        )
    config = RunConfig(
        model_type=model_type,
        leagues=tuple(sorted({x.strip().upper() for x in leagues})),
        seasons=tuple(sorted({x.strip() for x in seasons})),
        date_from=_date(data.get("date_from"), "date_from"),
        date_to=_date(data.get("date_to"), "date_to"),
        hyperparameters=hyper,
    )
    if config.date_from and config.date_to and config.date_from > config.date_to:
        raise ValidationError(
            f"date_from {config.date_from} is after date_to {config.date_to}", "date_from"
        )
    try:
        config.training_config().validate()
    except TypeError as exc:
        raise ValidationError(f"bad hyperparameter: {exc}", "hyperparameters") from None
    except InvalidInputError as exc:
        raise ValidationError(str(exc), "hyperparameters") from None
    return config


def _selection(config: RunConfig) -> list[Any]:
    m, lg = Match.__table__, League.__table__
    where = [lg.c.code.in_(config.leagues)]
    if config.seasons:
        where.append(m.c.season.in_(config.seasons))
    if config.date_from:
        where.append(m.c.match_date >= config.date_from)
    if config.date_to:
        where.append(m.c.match_date <= config.date_to)
    return where


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
                .where(*_selection(config))
                .order_by(m.c.match_date)
            )
        ]
    check_selection(dates, config.training_config())
    return len(dates)


def check_selection(dates: list[date], config: TrainingConfig) -> None:
    """Enough matches, and enough history before the validation period."""
    if len(dates) < MIN_MATCHES:
        raise ValidationError(
            f"the selection has {len(dates)} matches; training needs at least {MIN_MATCHES}",
            "seasons",
        )
    validation_start = dates[int(len(dates) * (1 - config.validation_share))]
    first_forecast = dates[0] + pd.Timedelta(days=config.burn_in_days).to_pytimedelta()
    if validation_start <= first_forecast:
        raise ValidationError(
            f"the selection is too short: its validation period starts {validation_start}, "
            f"but the first {config.burn_in_days} days (to {first_forecast}) are needed as "
            "history; select more seasons",
            "seasons",
        )


async def load_matches(engine: AsyncEngine, config: RunConfig) -> pd.DataFrame:
    """The selected matches with their odds, teams as ids (strings), in date order."""
    m, lg, o = Match.__table__, League.__table__, MatchOdds.__table__
    query = (
        sa.select(
            m.c.match_date,
            lg.c.code,
            lg.c.country,
            m.c.season,
            m.c.home_team_id,
            m.c.away_team_id,
            m.c.home_goals,
            m.c.away_goals,
            m.c.result,
            *(o.c[c] for c in ODDS_COLUMNS),
        )
        .select_from(m.join(lg, lg.c.id == m.c.league_id).outerjoin(o, o.c.match_id == m.c.id))
        .where(*_selection(config))
        .order_by(m.c.match_date, m.c.id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    # tens of thousands of rows: building the frame is CPU work, kept off the event loop
    # (in a worker it would delay the heartbeat)
    return await asyncio.to_thread(_match_frame, rows)


def _match_frame(rows: list[Any]) -> pd.DataFrame:
    columns = [
        "date",
        "league",
        "country",
        "season",
        "home_team",
        "away_team",
        "home_goals",
        "away_goals",
        "result",
        *ODDS_COLUMNS,
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["date"] = pd.to_datetime(frame["date"])
    frame["home_team"] = frame["home_team"].astype(str)
    frame["away_team"] = frame["away_team"].astype(str)
    for c in ODDS_COLUMNS:
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)
    return frame


async def team_names(engine: AsyncEngine, ids: list[str]) -> dict[str, str]:
    t = Team.__table__
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(t.c.id, t.c.name).where(t.c.id.in_([int(i) for i in ids]))
        )
        return {str(i): n for i, n in rows}


def new_task_id() -> str:
    return uuid.uuid4().hex


def new_version(model_type: str, task_id: str, now: datetime | None = None) -> str:
    """Readable and unique: type, UTC timestamp and a short id."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{model_type}-{stamp}-{task_id[:6]}"


async def create_run(engine: AsyncEngine, config: RunConfig, match_count: int) -> dict[str, Any]:
    task_id = new_task_id()
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(_RUNS).values(
                task_id=task_id,
                run_type=config.model_type,
                status=ModelStatus.QUEUED,
                date_from=config.date_from,
                date_to=config.date_to,
                match_count=match_count,
                config=config.to_json(),
                phase="queued",
                message="waiting for a worker",
                logs=[],
            )
        )
    return await get_run(engine, task_id)


async def delete_queued_run(engine: AsyncEngine, task_id: str) -> None:
    """Undo :func:`create_run` when the job could not be queued (no orphan rows)."""
    async with engine.begin() as conn:
        await conn.execute(
            sa.delete(_RUNS).where(_RUNS.c.task_id == task_id, _RUNS.c.status == "queued")
        )


def _run_dict(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["status"] = ModelStatus(data["status"]).value
    return data


async def get_run(engine: AsyncEngine, task_id: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(_RUNS, _MODELS.c.version.label("model_version"))
                .select_from(_RUNS.outerjoin(_MODELS, _MODELS.c.id == _RUNS.c.model_id))
                .where(_RUNS.c.task_id == task_id)
            )
        ).first()
    if row is None:
        raise RunNotFoundError(f"no training run has task id {task_id!r}")
    return _run_dict(row)


async def list_runs(
    engine: AsyncEngine, status: str | None = None, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    if not 1 <= limit <= 500 or offset < 0:
        raise InvalidInputError("limit must be 1..500 and offset >= 0")
    query = (
        sa.select(_RUNS, _MODELS.c.version.label("model_version"))
        .select_from(_RUNS.outerjoin(_MODELS, _MODELS.c.id == _RUNS.c.model_id))
        .order_by(_RUNS.c.created_at.desc(), _RUNS.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if status is not None:
        query = query.where(_RUNS.c.status == ModelStatus(_status(status)))
    async with engine.connect() as conn:
        return [_run_dict(r) for r in await conn.execute(query)]


async def list_runs_by_id(engine: AsyncEngine, ids: list[int]) -> list[dict[str, Any]]:
    query = (
        sa.select(_RUNS, _MODELS.c.version.label("model_version"))
        .select_from(_RUNS.outerjoin(_MODELS, _MODELS.c.id == _RUNS.c.model_id))
        .where(_RUNS.c.id.in_(ids))
    )
    async with engine.connect() as conn:
        return [_run_dict(r) for r in await conn.execute(query)]


def _status(value: str) -> str:
    try:
        return ModelStatus(value).value
    except ValueError:
        raise InvalidInputError(
            f"unknown status {value!r}; use one of {', '.join(s.value for s in ModelStatus)}"
        ) from None


async def list_models(
    engine: AsyncEngine,
    status: str | None = None,
    model_type: str | None = None,
    limit: int = 50,
    offset: int = 0,
    with_weights: bool = False,
) -> list[dict[str, Any]]:
    if not 1 <= limit <= 500 or offset < 0:
        raise InvalidInputError("limit must be 1..500 and offset >= 0")
    columns = [c for c in _MODELS.c if with_weights or c.name != "model_weights"]
    query = (
        sa.select(*columns)
        .order_by(_MODELS.c.created_at.desc(), _MODELS.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if status is not None:
        query = query.where(_MODELS.c.status == ModelStatus(_status(status)))
    if model_type is not None:
        query = query.where(_MODELS.c.model_type == model_type)
    async with engine.connect() as conn:
        return [_run_dict(r) for r in await conn.execute(query)]


async def get_model(
    engine: AsyncEngine,
    version: str | None = None,
    model_type: str = "full",
    with_weights: bool = True,
) -> dict[str, Any]:
    """A named version, or the active model of ``model_type``."""
    columns = [c for c in _MODELS.c if with_weights or c.name != "model_weights"]
    query = sa.select(*columns)
    if version is not None:
        query = query.where(_MODELS.c.version == version)
    else:
        query = query.where(
            _MODELS.c.model_type == model_type, _MODELS.c.status == ModelStatus.ACTIVE
        )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        if version is not None:
            raise ModelNotFoundError(f"no model has version {version!r}")
        raise ModelNotFoundError(f"there is no active {model_type!r} model: train one first")
    return _run_dict(row)


async def cancel_run(engine: AsyncEngine, task_id: str) -> dict[str, Any]:
    """Ask a run to stop.  A queued run is cancelled at once; a training one stops at its
    next check (within about a second); a finished one is left as it is."""
    await get_run(engine, task_id)  # an unknown id is an error
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(_RUNS)
            .where(_RUNS.c.task_id == task_id, _RUNS.c.status == "queued")
            .values(
                status=ModelStatus.CANCELLED,
                completed_at=datetime.now(UTC),
                phase="cancelled",
                message="cancelled before it started",
                cancel_requested=True,
            )
        )
        await conn.execute(
            sa.update(_RUNS)
            .where(_RUNS.c.task_id == task_id, _RUNS.c.status == "training")
            .values(cancel_requested=True)
        )
    return await get_run(engine, task_id)


def json_ready(value: Any) -> Any:
    """numpy and datetime values to JSON-native ones, recursively."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
