"""Queries, mutations and subscriptions: thin calls into the service layer."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from datetime import date
from typing import Any

import strawberry
from strawberry.permission import BasePermission

from schema.context import UNAUTHENTICATED, read_engine
from schema.errors import UserError, graphql_errors
from schema.evaluation import Evaluation
from schema.jackpots import JackpotMutations, JackpotQueries
from schema.types import (
    FixtureInput,
    League,
    ModelComparison,
    ModelVersion,
    Prediction,
    ProgressEvent,
    Team,
    TrainingInput,
    TrainingRun,
)
from schema.upkeep import UpkeepMutation, UpkeepQuery
from server.runs import compare, predictions, registry, training
from server.runs.events import TERMINAL
from server.runs.modelerrors import ModelNotFoundError
from server.runs.serialize import json_ready
from server.runs.services import cancel_training, follow_run, start_training
from server.store import catalog

__all__ = [
    "MAX_LIMIT",
    "MAX_SUBSCRIPTIONS_PER_CONNECTION",
    "IsAuthenticated",
    "Mutation",
    "Query",
    "Subscription",
]

MAX_LIMIT = 200
_STREAM_ID = re.compile(r"(\d{1,20})(?:-(\d{1,20}))?")
MAX_SUBSCRIPTIONS_PER_CONNECTION = 10


class IsAuthenticated(BasePermission):
    message = UNAUTHENTICATED
    error_extensions = {"code": "UNAUTHENTICATED"}  # noqa: RUF012 - strawberry's API

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return info.context.authenticated


def _page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise UserError(
            f"limit must be between 1 and {MAX_LIMIT}",
            extensions={"code": "BAD_USER_INPUT", "field": "limit"},
        )
    if offset < 0:
        raise UserError(
            "offset must be 0 or more", extensions={"code": "BAD_USER_INPUT", "field": "offset"}
        )


def _check_event_id(after: str) -> None:
    """``after`` must be an event id (``1732990000000-0``, or ``0`` for the start)."""
    m = _STREAM_ID.fullmatch(after)
    if m is None or any(int(part or 0) >= 2**64 for part in m.groups()):
        raise UserError(
            f"after {after[:40]!r} is not an event id such as 1732990000000-0 (0: the start)",
            extensions={"code": "BAD_USER_INPUT", "field": "after"},
        )


async def _model(
    info: strawberry.Info, version: str | None, model_type: str = "full"
) -> ModelVersion:
    """The model ``version`` (None: the active ``model_type``), without its weights."""
    row = await registry.get_model(read_engine(info), version, model_type, with_weights=False)
    return ModelVersion.from_row(row)


async def _model_or_none(
    info: strawberry.Info, version: str | None, model_type: str = "full"
) -> ModelVersion | None:
    """:func:`_model`, or None when there is none."""
    try:
        return await _model(info, version, model_type)
    except ModelNotFoundError:
        return None


@strawberry.type
class Query(JackpotQueries, UpkeepQuery):
    @strawberry.field
    @graphql_errors
    async def leagues(self, info: strawberry.Info) -> list[League]:
        return [League(**r) for r in await catalog.list_leagues(read_engine(info))]

    @strawberry.field
    @graphql_errors
    async def teams(self, info: strawberry.Info, league: str | None = None) -> list[Team]:
        return [Team(**r) for r in await catalog.list_teams(read_engine(info), league)]

    @strawberry.field
    @graphql_errors
    async def models(
        self,
        info: strawberry.Info,
        status: str | None = None,
        model_type: str | None = None,
        limit: int = 50,
        offset: int = 0,
        league: str | None = None,
    ) -> list[ModelVersion]:
        _page(limit, offset)
        rows = await registry.list_models(
            read_engine(info), status, model_type, limit, offset, league=league
        )
        return [ModelVersion.from_row(r) for r in rows]

    @strawberry.field(
        description="Version b against version a on the validation matches both held out."
    )
    @graphql_errors
    async def compare_models(self, info: strawberry.Info, a: str, b: str) -> ModelComparison:
        engine = read_engine(info)
        result = await compare.compare_models(engine, a, b)
        row_a = await registry.get_model(engine, a, with_weights=False)
        row_b = await registry.get_model(engine, b, with_weights=False)
        return ModelComparison.from_dict(result, row_a, row_b)

    @strawberry.field(
        description="A stored model (version; null: the active full model covering the "
        "leagues) scored against the pre-match or closing market (market: pre or close) on "
        "chosen matches, and the bets its edges select at the best and the average "
        "pre-match prices, with bootstrap intervals. Without leagues, a version is "
        "evaluated on its own leagues and validation period (seasons or dates narrow it), "
        "and by default on its held-out forecasts of those matches (heldOut; null: held "
        "out when a version and no leagues are given and the version stored them, else "
        "the stored model's forecasts). Takes seconds: one evaluation per request."
    )
    @graphql_errors
    async def evaluation(
        self,
        info: strawberry.Info,
        version: str | None = None,
        leagues: list[str] | None = None,
        seasons: list[str] | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        market: str = "pre",
        held_out: bool | None = None,
    ) -> Evaluation:
        selection = {
            "leagues": leagues or [],
            "seasons": seasons or [],
            "date_from": date_from,
            "date_to": date_to,
        }
        result = await predictions.evaluate(
            read_engine(info), version, selection, market=market, held_out=held_out
        )
        return Evaluation.from_dict(json_ready(result))

    @strawberry.field
    @graphql_errors
    async def model(
        self, info: strawberry.Info, id: int | None = None, version: str | None = None
    ) -> ModelVersion | None:
        if (id is None) == (version is None):
            raise UserError(
                "give exactly one of id and version", extensions={"code": "BAD_USER_INPUT"}
            )
        if id is not None:
            row = await info.context.loaders.model_by_id.load(id)
            return None if row is None else ModelVersion.from_row(row)
        return await _model_or_none(info, version)

    @strawberry.field
    @graphql_errors
    async def active_model(
        self, info: strawberry.Info, model_type: str = "full"
    ) -> ModelVersion | None:
        return await _model_or_none(info, None, model_type)

    @strawberry.field
    @graphql_errors
    async def training_runs(
        self,
        info: strawberry.Info,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[TrainingRun]:
        _page(limit, offset)
        rows = await training.list_runs(read_engine(info), status, limit, offset)
        return [TrainingRun.from_row(r) for r in rows]

    @strawberry.field
    @graphql_errors
    async def training_run(self, info: strawberry.Info, id: int) -> TrainingRun | None:
        runs = await training.list_runs_by_id(read_engine(info), [id])
        return TrainingRun.from_row(runs[0]) if runs else None

    @strawberry.field
    @graphql_errors
    async def task(self, info: strawberry.Info, task_id: str) -> TrainingRun:
        return TrainingRun.from_row(await training.get_run(read_engine(info), task_id))

    @strawberry.field
    @graphql_errors
    async def predict(
        self,
        info: strawberry.Info,
        home: str,
        away: str,
        league: str | None = None,
        model_version: str | None = None,
    ) -> Prediction:
        result = await predictions.predict(read_engine(info), home, away, league, model_version)
        return Prediction.from_result(result)

    @strawberry.field(
        description=f"Many fixtures with one model load and one vectorised pass (at most "
        f"{predictions.MAX_FIXTURES}); with odds, the margin-free market and the edges."
    )
    @graphql_errors
    async def predictions(
        self,
        info: strawberry.Info,
        fixtures: list[FixtureInput],
        model_version: str | None = None,
    ) -> list[Prediction]:
        results = await predictions.predict_fixtures(
            read_engine(info), [f.to_service() for f in fixtures], model_version
        )
        bad = [
            {
                "index": i,
                "message": f"fixture {i + 1} ({r.fixture['home']} v "
                f"{r.fixture['away']}): {r.error}",
            }
            for i, r in enumerate(results)
            if r.error is not None
        ]
        if bad:
            raise UserError(
                "; ".join(str(b["message"]) for b in bad),
                extensions={"code": "BAD_USER_INPUT", "field": "fixtures", "fixtures": bad},
            )
        return [Prediction.from_result(r) for r in results]


@strawberry.type
class Mutation(JackpotMutations, UpkeepMutation):
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @graphql_errors
    async def start_training(
        self,
        info: strawberry.Info,
        input: TrainingInput,
        idempotency_key: str | None = None,
    ) -> TrainingRun:
        """Queue a run.  A retry with the same ``idempotencyKey`` returns the run the first
        call created instead of starting another."""
        run = await start_training(info.context.services, input.to_request(), idempotency_key)
        return TrainingRun.from_row(run)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @graphql_errors
    async def cancel_training(self, info: strawberry.Info, task_id: str) -> TrainingRun:
        return TrainingRun.from_row(await cancel_training(info.context.services, task_id))

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @graphql_errors
    async def activate_model(self, info: strawberry.Info, version: str) -> ModelVersion:
        await registry.activate_model(read_engine(info), version)
        return await _model(info, version)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @graphql_errors
    async def archive_model(self, info: strawberry.Info, version: str) -> ModelVersion:
        await registry.archive_model(read_engine(info), version)
        return await _model(info, version)


class _SubscriptionSlot:
    """Counts a connection's open subscriptions; released in ``finally``."""

    def __init__(self, context: Any) -> None:
        self.context = context

    def __enter__(self) -> None:
        if self.context.active_subscriptions >= MAX_SUBSCRIPTIONS_PER_CONNECTION:
            raise UserError(
                f"at most {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection",
                extensions={"code": "TOO_MANY_SUBSCRIPTIONS"},
            )
        self.context.active_subscriptions += 1

    def __exit__(self, *exc: object) -> None:
        self.context.active_subscriptions -= 1


def _state_event(run: dict[str, Any]) -> ProgressEvent:
    """The run's row as a state event (a subscription's first message)."""
    return ProgressEvent.from_event(
        "",
        {
            "task_id": run["task_id"],
            "type": "state",
            "status": run["status"],
            "phase": run["phase"],
            "progress": run["progress"],
            "message": run["message"],
            "metrics": run["metrics"],
            "error": run["error_message"],
            "version": run.get("model_version"),
        },
    )


@strawberry.type
class Subscription:
    @strawberry.subscription(permission_classes=[IsAuthenticated])
    async def training_progress(
        self, info: strawberry.Info, task_id: str, after: str = "0"
    ) -> AsyncGenerator[ProgressEvent, None]:
        """The run's current state first, then every event after ``after`` (by default all
        of them, so a late subscriber misses nothing), live until the run ends."""
        services = info.context.services
        _check_event_id(after)
        with _SubscriptionSlot(info.context):
            try:
                run = await training.get_run(services.engine, task_id)
            except training.RunNotFoundError as exc:
                raise UserError(str(exc), extensions={"code": "NOT_FOUND"}) from exc
            yield _state_event(run)
            if run["status"] in TERMINAL:
                return
            stream = follow_run(services, task_id, after)
            try:
                async for event_id, event in stream:
                    yield ProgressEvent.from_event(event_id, event)
            finally:
                await stream.aclose()

    @strawberry.subscription(permission_classes=[IsAuthenticated])
    async def training_events(self, info: strawberry.Info) -> AsyncGenerator[ProgressEvent, None]:
        """State changes of every run (queued, training, completed, ...), for dashboards."""
        services = info.context.services
        with _SubscriptionSlot(info.context):
            stream = services.hub.follow_all()  # one shared Redis reader per process
            try:
                async for event_id, event in stream:
                    if event_id:
                        yield ProgressEvent.from_event(event_id, event)
            finally:
                await stream.aclose()
