"""The legacy REST shim: the exact paths and camelCase shapes the old frontend calls,
over the same service functions as GraphQL."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.errors import FPEError
from schema.errors import code_for
from server import catalog, predictions, registry, training
from server.fixtures import parse_fixtures
from server.services import cancel_training, start_training
from server.training import ValidationError

__all__ = ["routes"]

_STATUS_HTTP = {
    "NOT_FOUND": 404,
    "BAD_USER_INPUT": 422,
    "CONFLICT": 409,
    "SERVICE_UNAVAILABLE": 503,
    "UNAUTHENTICATED": 401,
}
_TRAIN_FIELDS = {"modelType", "leagues", "seasons", "dateFrom", "dateTo"}
_TASK_STATUS = {
    "queued": "queued",
    "training": "running",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


Handler = Callable[[Request], Awaitable[JSONResponse]]


def _endpoint(fn: Handler, *, write: bool = False) -> Handler:
    """Error mapping (and the bearer token for writes) shared by every endpoint."""

    async def wrapper(request: Request) -> JSONResponse:
        required = request.app.state.settings_api_token
        if write and required is not None:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given, required):
                return _error(401, "UNAUTHENTICATED", "a valid bearer token is required")
        try:
            return await fn(request)
        except ValidationError as exc:
            return _error(422, "BAD_USER_INPUT", str(exc), field=exc.field)
        except FPEError as exc:
            code = code_for(exc)
            return _error(_STATUS_HTTP.get(code, 400), code, str(exc))

    return wrapper


def _services(request: Request) -> Any:
    return request.app.state.services


def _model_status(model: dict[str, Any] | None) -> dict[str, Any]:
    if model is None:
        return {
            "version": None,
            "status": None,
            "trainedAt": None,
            "brierScore": None,
            "logLoss": None,
            "accuracy": None,
            "drawAccuracy": None,
            "trainingMatches": None,
        }
    return {
        "version": model["version"],
        "status": model["status"],
        "trainedAt": _iso(model["training_completed_at"]),
        "brierScore": model["brier_score"],
        "logLoss": model["log_loss"],
        "accuracy": model["overall_accuracy"],
        "drawAccuracy": model["draw_accuracy"],
        "trainingMatches": model["training_matches"],
    }


async def model_status(request: Request) -> JSONResponse:
    engine = _services(request).engine
    try:
        model = await training.get_model(engine, None, "full", with_weights=False)
    except registry.ModelNotFoundError:
        active = await training.list_models(engine, status="active", limit=1)
        model = active[0] if active else None
    return JSONResponse(_model_status(model))


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"the body is not valid JSON: {exc}", "body") from None
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object", "body")
    return body


async def train(request: Request) -> JSONResponse:
    body = await _json_body(request)
    unknown = sorted(set(body) - _TRAIN_FIELDS)
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(unknown)}", unknown[0])
    run = await start_training(
        _services(request),
        {
            "model_type": body.get("modelType"),
            "leagues": body.get("leagues"),
            "seasons": body.get("seasons") or [],
            "date_from": body.get("dateFrom"),
            "date_to": body.get("dateTo"),
        },
    )
    return JSONResponse(
        {
            "taskId": run["task_id"],
            "status": "queued",
            "message": f"training queued: {run['match_count']} matches",
        },
        status_code=202,
    )


def _task_status(run: dict[str, Any]) -> dict[str, Any]:
    result = None
    if run["status"] == "completed":
        m = run["metrics"] or {}
        result = {
            "modelId": run["model_id"],
            "version": run["model_version"],
            "metrics": {
                "brierScore": run["brier_score"],
                "logLoss": run["log_loss"],
                "drawAccuracy": m.get("draw_accuracy"),
                "rmse": m.get("rmse_goals"),
            },
        }
    return {
        "taskId": run["task_id"],
        "status": _TASK_STATUS[run["status"]],
        "progress": round(float(run["progress"] or 0.0), 1),
        "phase": run["phase"],
        "message": run["message"],
        "result": result,
        "error": run["error_message"],
        "startedAt": _iso(run["started_at"]),
        "completedAt": _iso(run["completed_at"]),
    }


async def task(request: Request) -> JSONResponse:
    run = await training.get_run(_services(request).engine, request.path_params["task_id"])
    return JSONResponse(_task_status(run))


async def cancel(request: Request) -> JSONResponse:
    run = await cancel_training(_services(request), request.path_params["task_id"])
    return JSONResponse(_task_status(run))


def _limit(request: Request, default: int = 20) -> int:
    text = request.query_params.get("limit")
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValidationError(f"limit {text!r} is not a whole number", "limit") from None
    if not 1 <= value <= 200:
        raise ValidationError("limit must be between 1 and 200", "limit")
    return value


async def versions(request: Request) -> JSONResponse:
    models = await training.list_models(_services(request).engine, limit=_limit(request, 50))
    return JSONResponse(
        [
            {
                "id": m["id"],
                "modelType": m["model_type"],
                **_model_status(m),
                "rps": m["rps"],
                "createdAt": _iso(m["created_at"]),
                "trainingLeagues": m["training_leagues"],
                "trainingSeasons": m["training_seasons"],
            }
            for m in models
        ]
    )


async def history(request: Request) -> JSONResponse:
    runs = await training.list_runs(_services(request).engine, limit=_limit(request))
    out = []
    for r in runs:
        duration = None
        if r["started_at"] and r["completed_at"]:
            duration = round((r["completed_at"] - r["started_at"]).total_seconds(), 1)
        out.append(
            {
                "id": r["id"],
                "taskId": r["task_id"],
                "runType": r["run_type"],
                "status": r["status"],
                "matchCount": r["match_count"],
                "duration": duration,
                "startedAt": _iso(r["started_at"]),
                "completedAt": _iso(r["completed_at"]),
                "metrics": {
                    "brierScore": r["brier_score"],
                    "logLoss": r["log_loss"],
                    "accuracy": r["validation_accuracy"],
                    "rps": r["rps"],
                },
                "error": r["error_message"],
                "modelVersion": r["model_version"],
            }
        )
    return JSONResponse(out)


async def leagues(request: Request) -> JSONResponse:
    rows = await catalog.list_leagues(_services(request).engine)
    return JSONResponse(
        [
            {
                "code": r["code"],
                "name": r["name"],
                "country": r["country"],
                "matchCount": r["match_count"],
                "seasons": r["seasons"],
            }
            for r in rows
        ]
    )


def _fixture(i: int, item: Any) -> dict[str, Any]:
    """One fixture of a ``POST /api/predictions`` body, checked for shape."""
    where = f"fixtures[{i}]"
    if not isinstance(item, dict):
        raise ValidationError(f"{where} must be an object with home and away", "fixtures")
    unknown = sorted(set(item) - {"home", "away", "league", "date", "odds"})
    if unknown:
        raise ValidationError(f"{where}: unknown field(s) {', '.join(unknown)}", "fixtures")
    odds = item.get("odds")
    if odds is not None:
        keys = {"home", "draw", "away", "over25", "under25"}
        if not isinstance(odds, dict) or not {"home", "draw", "away"} <= set(odds) <= keys:
            raise ValidationError(
                f"{where}.odds must be {{home, draw, away[, over25, under25]}}", "fixtures"
            )
        if not all(isinstance(v, int | float) or v is None for v in odds.values()):
            raise ValidationError(f"{where}.odds must be decimal numbers", "fixtures")
    for key in ("home", "away"):
        if not isinstance(item.get(key), str):
            raise ValidationError(f"{where}.{key} must be a team name", "fixtures")
    for key in ("league", "date"):
        if item.get(key) is not None and not isinstance(item[key], str):
            raise ValidationError(f"{where}.{key} must be a string", "fixtures")
    return {k: item.get(k) for k in ("home", "away", "league", "date", "odds")}


def _prediction(p: dict[str, Any]) -> dict[str, Any]:
    fixture = dict(p["fixture"])
    if fixture.get("date") is not None:
        fixture["date"] = str(fixture["date"])
    if "error" in p:
        return {"fixture": fixture, "error": p["error"]}
    return {
        "fixture": fixture,
        "modelVersion": p["model_version"],
        "homeTeam": p["home_team"],
        "awayTeam": p["away_team"],
        "homeWin": p["home_win"],
        "draw": p["draw"],
        "awayWin": p["away_win"],
        "expectedGoals": p["expected_goals"],
        "over25": p["totals"]["2.5"]["over"],
        "btts": p["btts"]["yes"],
        "odds": p["odds"],
        "market": p["market"],
        "edge": p["edge"],
        "marketOver25": p.get("market_over25"),
        "edgeOver25": p.get("edge_over25"),
        "bestOdds": p.get("edge_odds"),
        "error": None,
    }


async def _fixtures_file(request: Request) -> JSONResponse:
    """A football-data.co.uk fixtures file as the body (``text/csv``): parsed by the same
    reader as ``fpe predict --fixtures``; each result carries the file's ``line``."""
    body = await request.body()
    if len(body) > 2_000_000:
        raise ValidationError("the fixtures file is larger than 2 MB", "body")
    rows = parse_fixtures(body, "fixtures file")
    if not rows:
        raise ValidationError("the fixtures file has no rows", "body")
    usable = [r for r in rows if r.problem is None]
    version = request.query_params.get("modelVersion")
    results = iter(
        await predictions.predict_fixtures(
            _services(request).engine, [r.fixture for r in usable], version
        )
        if usable
        else []
    )
    data = []
    for r in rows:
        p = {"fixture": r.fixture, "error": r.problem} if r.problem else next(results)
        data.append({"line": r.line, **_prediction(p)})
    return JSONResponse({"success": True, "data": data, "count": len(data)})


async def predictions_batch(request: Request) -> JSONResponse:
    """Many fixtures in one pass; a fixture with an unknown team or league carries its
    ``error`` and the others are still predicted.  The body is JSON ``{fixtures,
    modelVersion}``, or a fixtures CSV file (``content-type: text/csv``)."""
    if request.headers.get("content-type", "").startswith("text/csv"):
        return await _fixtures_file(request)
    body = await _json_body(request)
    unknown = sorted(set(body) - {"fixtures", "modelVersion"})
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(unknown)}", unknown[0])
    items = body.get("fixtures")
    if not isinstance(items, list) or not items:
        raise ValidationError("fixtures must be a non-empty list", "fixtures")
    version = body.get("modelVersion")
    if version is not None and not isinstance(version, str):
        raise ValidationError("modelVersion must be a string", "modelVersion")
    fixtures = [_fixture(i, item) for i, item in enumerate(items)]
    results = await predictions.predict_fixtures(_services(request).engine, fixtures, version)
    data = [_prediction(p) for p in results]
    return JSONResponse({"success": True, "data": data, "count": len(data)})


routes = [
    Route("/api/predictions", _endpoint(predictions_batch), methods=["POST"]),
    Route("/api/model/status", _endpoint(model_status), methods=["GET"]),
    Route("/api/model/train", _endpoint(train, write=True), methods=["POST"]),
    Route("/api/model/versions", _endpoint(versions), methods=["GET"]),
    Route("/api/model/training-history", _endpoint(history), methods=["GET"]),
    Route("/api/model/leagues", _endpoint(leagues), methods=["GET"]),
    Route("/api/tasks/{task_id}", _endpoint(task), methods=["GET"]),
    Route("/api/tasks/{task_id}/cancel", _endpoint(cancel, write=True), methods=["POST"]),
]
