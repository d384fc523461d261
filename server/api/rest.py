"""The legacy REST shim: the exact paths, shapes and units the old frontend's ML Training page
uses, over the same service functions as GraphQL.  Envelope and errors: :mod:`server.api.envelope`.

Units that differ from GraphQL: every accuracy is in percent (0-100) and a run's
``duration`` is in minutes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.errors import FPEError
from server.api.csrf import cross_site_refusal
from server.api.envelope import error, error_for, ok, ok_list
from server.base.auth import bearer_token, token_matches
from server.base.text import NUL_MESSAGE, has_nul
from server.formats.fixtures import parse_fixtures
from server.formats.leagues import league_tier
from server.runs import modelfiles, predictions, registry, training
from server.runs.runconfig import ValidationError
from server.runs.services import cancel_training, start_training
from server.store import catalog
from server.store.db import DATABASE_ERRORS, RETRY_AFTER_SECONDS, outage
from server.store.tables import ModelStatus

__all__ = ["routes"]

_TASK_STATUS = {
    "queued": "queued",
    "training": "running",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}
# the page shows the phase under its progress bar
PHASES = {
    "queued": "Waiting for a worker",
    "starting": "Loading matches",
    "dixon_coles": "Fitting Dixon-Coles",
    "fit": "Fitting the final goal model",
    "blending": "Blending with the market",
    "calibration": "Calibrating probabilities",
    "draw": "Fitting the draw model",
    "evaluating": "Scoring the validation period",
    "done": "Completed",
    "completed": "Completed",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
_TRAIN_FIELDS = {"modelType", "leagues", "seasons", "dateFrom", "dateTo"}


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _percent(share: float | None) -> float | None:
    return None if share is None else round(100.0 * share, 4)


def phase_text(phase: str | None) -> str | None:
    if phase is None:
        return None
    return PHASES.get(phase, phase.replace("_", " ").capitalize())


Handler = Callable[[Request], Awaitable[JSONResponse]]


def _endpoint(fn: Handler, *, write: bool = False) -> Handler:
    """Error mapping shared by every endpoint; for writes, the cross-site checks and the
    bearer token."""

    async def wrapper(request: Request) -> JSONResponse:
        if write:
            refusal = cross_site_refusal(request, _services(request).settings.cors_origins)
            if refusal is not None:
                return refusal
        required = request.app.state.settings_api_token
        if write and required is not None:
            given = bearer_token(request.headers.get("authorization"))
            if not token_matches(given, required):
                return error(401, "a valid bearer token is required", "UNAUTHENTICATED")
        try:
            for name, value in [*request.path_params.items(), *request.query_params.items()]:
                if has_nul(name) or has_nul(value):
                    raise ValidationError(f"{name} {NUL_MESSAGE}", name)
            return await fn(request)
        except FPEError as exc:
            return error_for(exc)
        except DATABASE_ERRORS as exc:
            failure = outage(exc)
            if failure is None:
                raise
            response = error_for(failure)
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response

    return wrapper


def _services(request: Request) -> Any:
    return request.app.state.services


# --- model status and versions ---------------------------------------------------------------


def _model_status(model: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": model["version"],
        "status": model["status"],
        "trainedAt": _iso(model["training_completed_at"]),
        "brierScore": model["brier_score"],
        "logLoss": model["log_loss"],
        "accuracy": _percent(model["overall_accuracy"]),
        "drawAccuracy": _percent(model["draw_accuracy"]),
        "trainingMatches": model["training_matches"],
    }


async def model_status(request: Request) -> JSONResponse:
    engine = _services(request).engine
    try:
        model = await registry.get_model(engine, None, "full", with_weights=False)
    except registry.ModelNotFoundError:
        active = await registry.list_models(engine, status="active", limit=1)
        if not active:
            return ok({"status": "no_model", "message": "No active model found"})
        model = active[0]
    return ok(_model_status(model))


def _version(model: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(model["id"]),
        "version": model["version"],
        "modelType": model["model_type"],
        "status": model["status"],
        "trainedAt": _iso(model["training_completed_at"]),
        "brierScore": model["brier_score"],
        "logLoss": model["log_loss"],
        "drawAccuracy": _percent(model["draw_accuracy"]),
        "trainingMatches": model["training_matches"],
        "trainingLeagues": model["training_leagues"],
        "trainingSeasons": model["training_seasons"],
        "isActive": model["status"] == "active",
    }


async def versions(request: Request) -> JSONResponse:
    engine, page, models = _services(request).engine, 500, []
    while True:  # every version
        batch = await registry.list_models(engine, limit=page, offset=len(models))
        models += batch
        if len(batch) < page:
            return ok_list([_version(m) for m in models])


async def activate(request: Request) -> JSONResponse:
    """``{id}`` is a model id or a version string."""
    engine, key = _services(request).engine, request.path_params["model_id"]
    model = await _model_by_key(engine, key)
    await registry.activate_model(engine, model["version"])
    return ok(
        {
            "id": str(model["id"]),
            "version": model["version"],
            "isActive": True,
            "activatedAt": datetime.now(UTC).isoformat(),
        }
    )


async def _model_by_key(engine: Any, key: str) -> dict[str, Any]:
    """A model by its id or its version string."""
    if key.isascii() and key.isdigit() and len(key) < 19:
        return await registry.get_model_by_id(engine, int(key))
    return await registry.get_model(engine, key, with_weights=False)


async def export_version(request: Request) -> JSONResponse:
    """The model file of ``{id}`` (an id or a version), as a download: the file itself, not
    in the envelope, so that the answer saved is importable as it is."""
    engine = _services(request).engine
    model = await _model_by_key(engine, request.path_params["model_id"])
    file = await modelfiles.export_model(engine, model["version"])
    name = f"{model['version']}.json"
    return JSONResponse(file, headers={"content-disposition": f'attachment; filename="{name}"'})


async def import_version(request: Request) -> JSONResponse:
    """A model file as the body; 201 with the imported version, 409 if it exists, 422 for a
    damaged, edited or newer file.  ``?activate=true`` makes it active."""
    flag = request.query_params.get("activate", "false").lower()
    if flag not in ("true", "false"):
        raise ValidationError("activate must be true or false", "activate")
    out = await modelfiles.import_model(
        _services(request).engine, await request.body(), activate=flag == "true"
    )
    return ok(
        {
            "version": out["version"],
            "modelType": out["model_type"],
            "status": out["status"],
            "isActive": out["status"] == "active",
            "createdTeams": out["created_teams"],
            "createdLeagues": out["created_leagues"],
        },
        status=201,
    )


# --- training ----------------------------------------------------------------------------------


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"the body is not valid JSON: {exc}", "body") from None
    except RecursionError:
        raise ValidationError("the body's JSON is nested too deeply", "body") from None
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object", "body")
    for key, value in body.items():
        if has_nul(key) or has_nul(value):
            raise ValidationError(f"{key} {NUL_MESSAGE}", key)
    return body


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list" if all(isinstance(x, str) for x in value) else "a list of non-strings"
    return "an object"


def _optional(body: dict[str, Any], name: str, kind: type, what: str) -> Any:
    """The field's value (None when absent or null); the wrong JSON type is a 422."""
    value = body.get(name)
    if value is None:
        return None
    right = isinstance(value, kind) and not isinstance(value, bool)
    if not right or (kind is list and not all(isinstance(x, str) for x in value)):
        raise ValidationError(f"{name} must be {what}, not {_json_type(value)}", name)
    return value


async def train(request: Request) -> JSONResponse:
    """Every field is optional: no modelType is ``full``; no (or empty) leagues is every
    league in the database; no seasons is all of them."""
    body = await _json_body(request)
    unknown = sorted(set(body) - _TRAIN_FIELDS)
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(unknown)}", unknown[0])
    model_type = _optional(body, "modelType", str, 'a string such as "full"')
    leagues = _optional(body, "leagues", list, 'a list of league codes such as ["E0"]')
    seasons = _optional(body, "seasons", list, 'a list of season codes such as ["2324"]')
    date_from = _optional(body, "dateFrom", str, 'a date string "YYYY-MM-DD"')
    date_to = _optional(body, "dateTo", str, 'a date string "YYYY-MM-DD"')
    services = _services(request)
    if not leagues:
        leagues = [lg["code"] for lg in await catalog.list_leagues(services.engine)]
        if not leagues:
            raise ValidationError("the database has no leagues: ingest or download some", "leagues")
    run = await start_training(
        services,
        {
            "model_type": model_type or "full",
            "leagues": leagues,
            "seasons": seasons or [],
            "date_from": date_from,
            "date_to": date_to,
        },
        idempotency_key=request.headers.get("idempotency-key"),
    )
    return ok(
        {
            "taskId": run["task_id"],
            "status": "queued",
            "message": f"Training queued: {run['run_type']} model on {run['match_count']} matches",
        },
        status=202,
    )


def _task_status(run: dict[str, Any]) -> dict[str, Any]:
    result = None
    if run["status"] == "completed":
        m = run["metrics"] or {}
        result = {
            "modelId": None if run["model_id"] is None else str(run["model_id"]),
            "version": run["model_version"],
            "metrics": {
                "brierScore": run["brier_score"],
                "logLoss": run["log_loss"],
                "drawAccuracy": _percent(m.get("draw_accuracy")),
                "rmse": m.get("rmse_goals"),
            },
        }
    return {
        "taskId": run["task_id"],
        "status": _TASK_STATUS[run["status"]],
        "progress": round(float(run["progress"] or 0.0), 1),
        "phase": phase_text(run["phase"]),
        "message": run["message"],
        "result": result,
        "error": run["error_message"],
        "startedAt": _iso(run["started_at"]),
        "completedAt": _iso(run["completed_at"]),
    }


async def task(request: Request) -> JSONResponse:
    run = await training.get_run(_services(request).engine, request.path_params["task_id"])
    return ok(_task_status(run))


async def cancel(request: Request) -> JSONResponse:
    engine, task_id = _services(request).engine, request.path_params["task_id"]
    run = await training.get_run(engine, task_id)
    if run["status"] in ("completed", "failed", "cancelled"):
        return error(409, f"the task is already {run['status']}: nothing to cancel", "CONFLICT")
    await cancel_training(_services(request), task_id)
    return ok(message="Task cancelled")


def _limit(request: Request, default: int) -> int:
    text = request.query_params.get("limit")
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValidationError(f"limit {text!r} is not a whole number", "limit") from None
    if not 1 <= value <= 500:
        raise ValidationError("limit must be between 1 and 500", "limit")
    return value


def _history_row(run: dict[str, Any]) -> dict[str, Any]:
    duration = None
    if run["started_at"] and run["completed_at"]:
        duration = round((run["completed_at"] - run["started_at"]).total_seconds() / 60.0, 4)
    model_status = run["model_status"]
    return {
        "id": str(run["id"]),
        "modelId": None if run["model_id"] is None else str(run["model_id"]),
        "runType": run["run_type"],
        "status": run["status"] if model_status is None else ModelStatus(model_status).value,
        "trainingStatus": run["status"],
        "startedAt": _iso(run["started_at"]),
        "completedAt": _iso(run["completed_at"]),
        "matchCount": run["match_count"],
        "dateFrom": _iso(run["date_from"]),
        "dateTo": _iso(run["date_to"]),
        "brierScore": run["brier_score"],
        "logLoss": run["log_loss"],
        "validationAccuracy": _percent(run["validation_accuracy"]),
        "errorMessage": run["error_message"],
        "duration": duration,
    }


async def history(request: Request) -> JSONResponse:
    runs = await training.list_runs(_services(request).engine, limit=_limit(request, 50))
    return ok_list([_history_row(r) for r in runs])


async def leagues(request: Request) -> JSONResponse:
    rows = await catalog.list_leagues(_services(request).engine)
    return ok_list(
        [
            {
                "code": r["code"],
                "name": r["name"],
                "country": r["country"],
                "tier": league_tier(r["code"]),
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
    Route(
        "/api/model/versions/{model_id}/activate", _endpoint(activate, write=True), methods=["POST"]
    ),
    Route("/api/model/versions/{model_id}/export", _endpoint(export_version), methods=["GET"]),
    Route("/api/model/versions/import", _endpoint(import_version, write=True), methods=["POST"]),
    Route("/api/model/training-history", _endpoint(history), methods=["GET"]),
    Route("/api/model/leagues", _endpoint(leagues), methods=["GET"]),
    Route("/api/tasks/{task_id}", _endpoint(task), methods=["GET"]),
    Route("/api/tasks/{task_id}/cancel", _endpoint(cancel, write=True), methods=["POST"]),
]
