"""The legacy REST shim: the exact paths, shapes and units the old frontend's ML Training page
uses, over the same service functions as GraphQL.  Envelope and errors: :mod:`server.api.envelope`.

Units that differ from GraphQL: every accuracy is in percent (0-100) and a run's
``duration`` is in minutes.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.errors import FPEError
from core.serving import Outcomes
from server.api.csrf import cross_site_refusal
from server.api.declare import (
    JSON,
    Decimal,
    Error,
    Field,
    Items,
    Record,
    Text,
    Texts,
    Whole,
    described,
    envelope,
    list_of,
    null,
    obj,
    operation,
    read_json,
)
from server.api.envelope import error, error_for, ok, ok_list
from server.base.auth import bearer_token, token_matches
from server.base.text import NUL_MESSAGE, has_nul
from server.formats.fixtures import RowCounter, parse_fixtures
from server.formats.leagues import league_tier
from server.runs import modelfiles, predictions, registry, training
from server.runs.modelerrors import ModelNotFoundError
from server.runs.phases import PHASES, phase_text
from server.runs.predictions import FixtureResult
from server.runs.runconfig import ValidationError
from server.runs.services import cancel_training, start_training
from server.store import catalog
from server.store.db import DATABASE_ERRORS, RETRY_AFTER_SECONDS, outage
from server.store.tables import ModelStatus

__all__ = ["PHASES", "phase_text", "routes"]

_TASK_STATUS = {
    "queued": "queued",
    "training": "running",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _percent(share: float | None) -> float | None:
    return None if share is None else round(100.0 * share, 4)


Handler = Callable[[Request], Awaitable[Response]]


def _endpoint(fn: Handler, *, write: bool = False) -> Handler:
    """Error mapping shared by every endpoint; for writes (``write``, or the operation
    declared with :func:`server.api.declare.operation` says so), the cross-site checks and
    the bearer token.  The declaration stays on the endpoint for the OpenAPI description."""
    op = described(fn)
    write = write or (op is not None and op.write)

    @functools.wraps(fn)
    async def wrapper(request: Request) -> Response:
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


async def _json_body(request: Request, schema: JSON | None = None) -> dict[str, Any]:
    """The JSON object body, for handlers that check their fields themselves (declared
    routes get theirs checked: :mod:`server.api.declare`); with ``schema`` (a
    :func:`~server.api.declare.closed` one, as documented) a member it does not name is
    refused."""
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object", "body")
    unknown = sorted(set(body) - set(schema["properties"])) if schema is not None else []
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(unknown)}", unknown[0])
    return body


def _limit(request: Request, default: int) -> int:
    """The ``limit`` query parameter, 1-500."""
    given = request.query_params.get("limit")
    return default if given is None else int(LIMIT.kind.check(given, "limit", "limit"))


# --- what every route shares -----------------------------------------------------------------

OUTAGE = Error(
    503,
    "SERVICE_UNAVAILABLE",
    "the database is unreachable or its disk is full (with a Retry-After header)",
    "the database is unavailable (ConnectionRefusedError); retry shortly",
)
BAD_INPUT = Error(
    422,
    "BAD_USER_INPUT",
    "an input of the wrong type or out of range; `field` names it as sent",
    "limit 'abc' is not a whole number",
)
# the writes: train, activate, cancel (server/api/csrf.py, server/base/auth.py)
WRITE_ERRORS = (
    Error(
        401,
        "UNAUTHENTICATED",
        "FPE_API_TOKEN is set and `Authorization: Bearer <token>` is missing or wrong",
        "a valid bearer token is required",
    ),
    Error(
        403,
        "FORBIDDEN",
        "sent by a page from an origin that is neither this server's nor in FPE_CORS_ORIGINS",
        "a page from https://elsewhere.example may not change anything here: add its origin "
        "to FPE_CORS_ORIGINS to allow it",
    ),
    Error(
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "a body that is not sent as application/json",
        "send the body as JSON with Content-Type: application/json, not Content-Type 'text/plain'",
    ),
)
TOO_LARGE = Error(
    413,
    "PAYLOAD_TOO_LARGE",
    "a body larger than FPE_MAX_BODY_BYTES (4 MiB)",
    "the body is larger than the limit of 4,194,304 bytes",
)
TIME = {"type": "string", "format": "date-time"}
VERSION = {"type": "string", "description": "a model version, e.g. full-20251126T190302Z-1a2b3c"}
ID = {"type": "string", "description": "a whole number, as a string"}
PERCENT = {"type": ["number", "null"], "minimum": 0, "maximum": 100, "description": "percent"}
LIMIT = Field("limit", Whole(1, 500), "how many (1-500)")
MODEL_ID = Field(
    "model_id", Text(), "a model's id (a whole number) or its version string", required=True
)
TASK_ID = Field("task_id", Text(), "the task id that starting the run answered", required=True)


# --- model status and versions ---------------------------------------------------------------

MODEL_STATUS = obj(
    {
        "version": VERSION,
        "status": {"enum": ["active", "archived"]},
        "trainedAt": null(TIME),
        "brierScore": {"type": ["number", "null"], "description": "a fraction (0-2)"},
        "logLoss": {"type": ["number", "null"]},
        "accuracy": {**PERCENT, "description": "validation accuracy, in percent"},
        "drawAccuracy": {**PERCENT, "description": "validation draw accuracy, in percent"},
        "trainingMatches": {
            "type": ["integer", "null"],
            "description": "matches fitted (the selection less its validation period)",
        },
    }
)
NO_MODEL = obj({"status": {"const": "no_model"}, "message": "string"})


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


@operation(
    summary="The active model",
    description="The active `full` model, else the newest active model of any type; "
    'without one, `{"status": "no_model"}`. Accuracies are in percent.',
    response=envelope({"anyOf": [MODEL_STATUS, NO_MODEL]}),
    errors=(OUTAGE,),
    example={
        "data": {
            "version": "full-20251126T190302Z-1a2b3c",
            "status": "active",
            "trainedAt": "2025-11-26T19:03:02.123456+00:00",
            "brierScore": 0.5871,
            "logLoss": 0.9862,
            "accuracy": 51.9355,
            "drawAccuracy": 14.73,
            "trainingMatches": 3040,
        }
    },
)
async def model_status(request: Request) -> JSONResponse:
    engine = _services(request).engine
    try:
        model = await registry.get_model(engine, None, "full", with_weights=False)
    except ModelNotFoundError:
        active = await registry.list_models(engine, status="active", limit=1)
        if not active:
            return ok({"status": "no_model", "message": "No active model found"})
        model = active[0]
    return ok(_model_status(model))


VERSION_ROW = obj(
    {
        "id": ID,
        "version": VERSION,
        "modelType": {"enum": ["poisson", "blending", "calibration", "draw", "full"]},
        "status": {"enum": ["active", "archived"]},
        "trainedAt": null(TIME),
        "brierScore": {"type": ["number", "null"]},
        "logLoss": {"type": ["number", "null"]},
        "drawAccuracy": {**PERCENT, "description": "validation draw accuracy, in percent"},
        "trainingMatches": {
            "type": ["integer", "null"],
            "description": "matches fitted (the selection less its validation period)",
        },
        "trainingLeagues": {"type": ["array", "null"], "items": {"type": "string"}},
        "trainingSeasons": {"type": ["array", "null"], "items": {"type": "string"}},
        "isActive": "boolean",
    }
)


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


@operation(
    summary="Every model version",
    description="Every stored model, newest first. `drawAccuracy` is in percent.",
    response=list_of(VERSION_ROW),
    errors=(OUTAGE,),
    example={
        "response": {
            "success": True,
            "data": [
                {
                    "id": "2",
                    "version": "poisson-20251126T190302Z-2b449d",
                    "modelType": "poisson",
                    "status": "active",
                    "trainedAt": "2025-11-26T19:03:02.572078+00:00",
                    "brierScore": 0.5971,
                    "logLoss": 0.9961,
                    "drawAccuracy": 0.0,
                    "trainingMatches": 1210,
                    "trainingLeagues": ["E0"],
                    "trainingSeasons": ["2122", "2223", "2324", "2425"],
                    "isActive": True,
                }
            ],
            "count": 1,
        }
    },
)
async def versions(request: Request) -> JSONResponse:
    engine, page = _services(request).engine, 500
    models: list[dict[str, Any]] = []
    while True:  # every version
        batch = await registry.list_models(engine, limit=page, offset=len(models))
        models += batch
        if len(batch) < page:
            return ok_list([_version(m) for m in models])


@operation(
    summary="Make a model version the active one",
    description="The previous active model of its type is archived in the same transaction.",
    path=(MODEL_ID,),
    response=envelope(
        obj({"id": ID, "version": VERSION, "isActive": {"const": True}, "activatedAt": TIME})
    ),
    errors=(
        Error(404, "NOT_FOUND", "no model has that id or version", "no model has version 'x'"),
        *WRITE_ERRORS,
        OUTAGE,
    ),
    write=True,
    example={
        "path": {"model_id": "full-20251126T190302Z-1a2b3c"},
        "data": {
            "id": "7",
            "version": "full-20251126T190302Z-1a2b3c",
            "isActive": True,
            "activatedAt": "2025-11-27T08:00:00.000000+00:00",
        },
    },
)
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


@operation(
    summary="Export a model version as a file",
    description="The version's model file (versioned JSON with a checksum), itself, not in "
    "the envelope: saved as it is, it imports into any database (`fpe models import`).",
    path=(MODEL_ID,),
    response={"type": "object", "description": "a model file"},
    errors=(
        Error(404, "NOT_FOUND", "no model has that id or version", "no model has version 'x'"),
        OUTAGE,
    ),
    example={
        "path": {"model_id": "full-20251126T190302Z-1a2b3c"},
        "response": {"format": "fpe-model", "format_version": 1, "checksum": "sha256:3f5a..."},
    },
)
async def export_version(request: Request) -> JSONResponse:
    """The model file of ``{id}`` (an id or a version), as a download: the file itself, not
    in the envelope, so that the answer saved is importable as it is."""
    engine = _services(request).engine
    model = await _model_by_key(engine, request.path_params["model_id"])
    file = await modelfiles.export_model(engine, model["version"])
    name = f"{model['version']}.json"
    return JSONResponse(file, headers={"content-disposition": f'attachment; filename="{name}"'})


@operation(
    summary="Import a model file as a new version",
    description="The body is a file from the export. A damaged, edited or newer-format file "
    "is a 422; an existing version is never overwritten (409); teams are matched by name and "
    "created when missing (listed in `createdTeams`).",
    documented_body={"type": "object", "description": "a model file"},
    response=envelope(
        obj(
            {
                "version": VERSION,
                "modelType": "string",
                "status": "string",
                "isActive": "boolean",
                "createdTeams": {"type": "array", "items": {"type": "string"}},
                "createdLeagues": {"type": "array", "items": {"type": "string"}},
            }
        )
    ),
    status=201,
    errors=(
        Error(
            422,
            "BAD_USER_INPUT",
            "not a model file, damaged, edited or of a newer format",
            "the file's checksum does not match its content: it was edited or damaged",
        ),
        Error(409, "CONFLICT", "that version exists", "version full-... exists already"),
        *WRITE_ERRORS,
        TOO_LARGE,
        OUTAGE,
    ),
    write=True,
    example={
        "body": {"format": "fpe-model", "format_version": 1},
        "data": {
            "version": "full-20251126T190302Z-1a2b3c",
            "modelType": "full",
            "status": "archived",
            "isActive": False,
            "createdTeams": [],
            "createdLeagues": [],
        },
    },
)
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

TRAIN_BODY = Record(
    (
        Field(
            "modelType",
            Text('a string such as "full"'),
            "poisson, blending, calibration, draw or full; default full",
        ),
        Field(
            "leagues",
            Texts('a list of league codes such as ["E0"]'),
            "league codes; none or empty: every league in the database",
        ),
        Field(
            "seasons",
            Texts('a list of season codes such as ["2324"]'),
            "season codes (2324 is 2023/24); none: all seasons",
        ),
        Field(
            "dateFrom", Text('a date string "YYYY-MM-DD"', "date"), "first match date, inclusive"
        ),
        Field("dateTo", Text('a date string "YYYY-MM-DD"', "date"), "last match date, inclusive"),
        Field(
            "activate",
            Text('"auto", "always" or "never"'),
            "auto (default): live only if not worse than the active model of its type and "
            "leagues on their common validation matches; always; never (a candidate)",
        ),
    )
)


@operation(
    summary="Start a training run",
    description="Validates the selection against the database (known leagues and seasons, "
    "dates in order, at least 300 matches), then queues the run. Follow it with "
    "`GET /api/tasks/{taskId}`. An `Idempotency-Key` header returns the run the first "
    "request with that key created.",
    body=TRAIN_BODY,
    status=202,
    response=envelope(
        obj(
            {
                "taskId": {"type": "string"},
                "status": {"const": "queued"},
                "message": {"type": "string", "description": "the model type and matches"},
            }
        )
    ),
    errors=(
        Error(
            422,
            "BAD_USER_INPUT",
            "a field of the wrong type, an unknown field, league or season, dates in the "
            "wrong order, too few matches; `field` names it as sent",
            "dateFrom 2024-05-01 is after dateTo 2023-05-01",
        ),
        *WRITE_ERRORS,
        TOO_LARGE,
        OUTAGE,
    ),
    write=True,
    example={
        "body": {"modelType": "poisson", "leagues": ["E0"], "seasons": ["2324", "2425"]},
        "data": {
            "taskId": "2b449d68b3cd41e3843d628e3b6b8a9c",
            "status": "queued",
            "message": "Training queued: poisson model on 760 matches",
        },
    },
)
async def train(request: Request, given: dict[str, Any]) -> JSONResponse:
    """Every field is optional: no modelType is ``full``; no (or empty) leagues is every
    league in the database; no seasons is all of them; no activate is ``auto``."""
    leagues = given["leagues"]
    services = _services(request)
    if not leagues:
        leagues = [lg["code"] for lg in await catalog.list_leagues(services.engine)]
        if not leagues:
            raise ValidationError("the database has no leagues: ingest or download some", "leagues")
    run = await start_training(
        services,
        {
            "model_type": given["modelType"] or "full",
            "leagues": leagues,
            "seasons": given["seasons"] or [],
            "date_from": given["dateFrom"],
            "date_to": given["dateTo"],
            "activate": given["activate"] or "auto",
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


TASK = obj(
    {
        "taskId": {"type": "string"},
        "status": {"enum": sorted(set(_TASK_STATUS.values()))},
        "progress": {"type": "number", "minimum": 0, "maximum": 100, "description": "percent"},
        "phase": {"type": ["string", "null"], "description": "what the run is doing, in words"},
        "message": {"type": ["string", "null"]},
        "result": null(
            obj(
                {
                    "modelId": null(ID),
                    "version": null(VERSION),
                    "metrics": obj(
                        {
                            "brierScore": {"type": ["number", "null"]},
                            "logLoss": {"type": ["number", "null"]},
                            "drawAccuracy": {**PERCENT, "description": "in percent"},
                            "rmse": {"type": ["number", "null"], "description": "goals"},
                        }
                    ),
                }
            )
        ),
        "error": {"type": ["string", "null"]},
        "startedAt": null(TIME),
        "completedAt": null(TIME),
    }
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


UNKNOWN_TASK = Error(
    404, "NOT_FOUND", "no run has that task id", "no training run has task id 'no-such-task'"
)


@operation(
    summary="A training run's progress",
    description="Poll it every second or two; GraphQL's `trainingProgress` subscription "
    "streams the same. `progress` is in percent.",
    path=(TASK_ID,),
    response=envelope(TASK),
    errors=(UNKNOWN_TASK, OUTAGE),
    example={
        "path": {"task_id": "2b449d68b3cd41e3843d628e3b6b8a9c"},
        "data": {
            "taskId": "2b449d68b3cd41e3843d628e3b6b8a9c",
            "status": "running",
            "progress": 42.5,
            "phase": "Fitting Dixon-Coles",
            "message": "refit 12 of 30",
            "result": None,
            "error": None,
            "startedAt": "2025-11-26T19:02:40.087245+00:00",
            "completedAt": None,
        },
    },
)
async def task(request: Request) -> JSONResponse:
    run = await training.get_run(_services(request).engine, request.path_params["task_id"])
    return ok(_task_status(run))


@operation(
    summary="Cancel a training run",
    description="A queued run is cancelled at once; a running one stops within about a second.",
    path=(TASK_ID,),
    response={
        "type": "object",
        "properties": {"success": {"const": True}, "message": {"type": "string"}},
        "required": ["success", "message"],
    },
    errors=(
        UNKNOWN_TASK,
        Error(
            409,
            "CONFLICT",
            "the run has already ended",
            "the task is already completed: nothing to cancel",
        ),
        *WRITE_ERRORS,
        OUTAGE,
    ),
    write=True,
    example={
        "path": {"task_id": "2b449d68b3cd41e3843d628e3b6b8a9c"},
        "response": {"success": True, "message": "Task cancelled"},
    },
)
async def cancel(request: Request) -> JSONResponse:
    engine, task_id = _services(request).engine, request.path_params["task_id"]
    run = await training.get_run(engine, task_id)
    if run["status"] in ("completed", "failed", "cancelled"):
        return error(409, f"the task is already {run['status']}: nothing to cancel", "CONFLICT")
    await cancel_training(_services(request), task_id)
    return ok(message="Task cancelled")


HISTORY_ROW = obj(
    {
        "id": ID,
        "modelId": null(ID),
        "runType": {"enum": ["poisson", "blending", "calibration", "draw", "full"]},
        "status": {
            "type": "string",
            "description": "the model's status (active, archived) once the run made one, "
            "else the run's",
        },
        "trainingStatus": {"enum": ["queued", "training", "completed", "failed", "cancelled"]},
        "startedAt": null(TIME),
        "completedAt": null(TIME),
        "matchCount": {
            "type": ["integer", "null"],
            "description": "matches selected (fitted plus validated)",
        },
        "dateFrom": null(TIME),
        "dateTo": null(TIME),
        "brierScore": {"type": ["number", "null"]},
        "logLoss": {"type": ["number", "null"]},
        "validationAccuracy": {**PERCENT, "description": "in percent"},
        "errorMessage": {"type": ["string", "null"]},
        "duration": {"type": ["number", "null"], "description": "minutes"},
    }
)


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


@operation(
    summary="Training runs, newest first",
    description="`matchCount` is the matches selected; `validationAccuracy` is in percent "
    "and `duration` in minutes.",
    query=(Field("limit", Whole(1, 500), "how many runs (default 50)"),),
    response=list_of(HISTORY_ROW),
    errors=(BAD_INPUT, OUTAGE),
    example={
        "query": {"limit": "1"},
        "response": {
            "success": True,
            "data": [
                {
                    "id": "2",
                    "modelId": "2",
                    "runType": "poisson",
                    "status": "active",
                    "trainingStatus": "completed",
                    "startedAt": "2025-11-26T19:02:40.087245+00:00",
                    "completedAt": "2025-11-26T19:03:02.572078+00:00",
                    "matchCount": 1520,
                    "dateFrom": None,
                    "dateTo": None,
                    "brierScore": 0.5971,
                    "logLoss": 0.9961,
                    "validationAccuracy": 51.9355,
                    "errorMessage": None,
                    "duration": 0.3747,
                }
            ],
            "count": 1,
        },
    },
)
async def history(request: Request, given: dict[str, Any]) -> JSONResponse:
    limit = given["limit"] or 50
    runs = await training.list_runs(_services(request).engine, limit=limit)
    return ok_list([_history_row(r) for r in runs])


LEAGUE = obj(
    {
        "code": {"type": "string", "description": "football-data.co.uk's code, e.g. E0"},
        "name": "string",
        "country": "string",
        "tier": {"type": ["integer", "null"], "description": "1 is a country's top division"},
    }
)


@operation(
    summary="Leagues in the database",
    description="Every league with matches ingested.",
    response=list_of(LEAGUE),
    errors=(OUTAGE,),
    example={
        "response": {
            "success": True,
            "data": [{"code": "E0", "name": "Premier League", "country": "England", "tier": 1}],
            "count": 1,
        }
    },
)
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


# --- predictions -------------------------------------------------------------------------------

ODDS = Decimal("decimal odds (a number)", minimum=1.01)
FIXTURE = Record(
    (
        Field("home", Text("a team name"), "the home team, as in the data", required=True),
        Field("away", Text("a team name"), "the away team", required=True),
        Field("league", Text("a league code such as E0"), "narrows the team names' country"),
        Field("date", Text("a date string"), "kick-off date, echoed back"),
        Field(
            "odds",
            Record(
                (
                    Field("home", ODDS, "home win", required=True),
                    Field("draw", ODDS, "draw", required=True),
                    Field("away", ODDS, "away win", required=True),
                    Field("over25", ODDS, "over 2.5 goals"),
                    Field("under25", ODDS, "under 2.5 goals"),
                ),
                "decimal odds {home, draw, away[, over25, under25]}",
            ),
            "pre-match decimal prices: they feed the market blend and the edges",
        ),
    ),
    "an object with home and away",
)
PREDICTIONS_BODY = Record(
    (
        Field(
            "fixtures",
            Items(FIXTURE, 1, predictions.MAX_FIXTURES, "a non-empty list of fixtures"),
            f"the fixtures, 1 to {predictions.MAX_FIXTURES}",
            required=True,
        ),
        Field("modelVersion", Text(), "a stored model version; default the active full model"),
    )
)
OUTCOMES = obj({"home": "number", "draw": "number", "away": "number"})
PREDICTION = {
    "type": "object",
    "properties": {
        "line": {"type": "integer", "description": "the fixtures file's line (CSV bodies only)"},
        "fixture": {"type": "object", "description": "the fixture as sent"},
        "modelVersion": VERSION,
        "homeTeam": {"type": "string", "description": "the team's name as stored"},
        "awayTeam": {"type": "string"},
        "homeWin": {"type": "number", "description": "probability, a fraction (0-1)"},
        "draw": {"type": "number", "description": "probability, a fraction (0-1)"},
        "awayWin": {"type": "number", "description": "probability, a fraction (0-1)"},
        "expectedGoals": obj({"home": "number", "away": "number"}),
        "over25": {"type": "number", "description": "probability of over 2.5 goals"},
        "btts": {"type": "number", "description": "probability that both teams score"},
        "odds": null(OUTCOMES),
        "market": {**null(OUTCOMES), "description": "the odds' margin-free probabilities"},
        "edge": {
            **null(OUTCOMES),
            "description": "probability x best price - 1, a fraction (0.05 is 5 %)",
        },
        "marketOver25": {
            "type": ["number", "null"],
            "description": "the over/under prices' margin-free probability of over 2.5",
        },
        "edgeOver25": null(obj({"over": "number", "under": "number"})),
        "bestOdds": {**null(OUTCOMES), "description": "the prices the edges use"},
        "error": {"type": ["string", "null"], "description": "why this fixture failed"},
        "notes": {
            "type": "array",
            "items": {"type": "string"},
            "description": "prices left out of this fixture (the odds rule), and why",
        },
    },
    "required": ["fixture", "error"],
}


def _outcomes(o: Outcomes | None) -> dict[str, float] | None:
    return None if o is None else {"home": o.home, "draw": o.draw, "away": o.away}


def _prediction(result: FixtureResult) -> dict[str, Any]:
    fixture = dict(result.fixture)
    if fixture.get("date") is not None:
        fixture["date"] = str(fixture["date"])
    notes = list(result.notes)
    p = result.prediction
    if p is None:
        return {"fixture": fixture, "error": result.error, "notes": notes}
    m = p.markets
    return {
        "fixture": fixture,
        "modelVersion": p.model_version,
        "homeTeam": result.home_team,
        "awayTeam": result.away_team,
        "homeWin": p.outcomes.home,
        "draw": p.outcomes.draw,
        "awayWin": p.outcomes.away,
        "expectedGoals": {"home": m.expected_goals.home, "away": m.expected_goals.away},
        "over25": m.totals[2.5].over,
        "btts": m.btts,
        "odds": _outcomes(p.odds),
        "market": _outcomes(p.market),
        "edge": _outcomes(p.edge),
        "marketOver25": p.market_over,
        "edgeOver25": None
        if p.edge_over_under is None
        else {"over": p.edge_over_under.over, "under": p.edge_over_under.under},
        "bestOdds": _outcomes(p.edge_odds),
        "error": None,
        "notes": notes,
    }


FIXTURES_FILE_BYTES = 2_000_000


async def _fixtures_body(request: Request) -> bytes:
    """The fixtures file's bytes, its rows counted as they arrive: past
    :data:`~server.runs.predictions.MAX_FIXTURES` data rows it is refused before the rest
    is read (and past 2 MB once read)."""
    counter, chunks = RowCounter(), []
    async for chunk in request.stream():  # the body's byte limit is BodyLimit's (413)
        if counter.feed(chunk) > predictions.MAX_FIXTURES:
            raise ValidationError(
                f"the fixtures file has more than {predictions.MAX_FIXTURES} rows; "
                "at most that many per request: split the file",
                "body",
            )
        chunks.append(chunk)
    body = b"".join(chunks)
    if len(body) > FIXTURES_FILE_BYTES:
        raise ValidationError("the fixtures file is larger than 2 MB", "body")
    return body


async def _fixtures_file(request: Request) -> JSONResponse:
    """A football-data.co.uk fixtures file as the body (``text/csv``): parsed (off the
    event loop) by the same reader as ``fpe predict --fixtures`` and predicted by the same
    loop; each result carries the file's ``line``."""
    body = await _fixtures_body(request)
    rows = await run_in_threadpool(parse_fixtures, body, "fixtures file")
    if not rows:
        raise ValidationError("the fixtures file has no rows", "body")
    version = request.query_params.get("modelVersion")
    results = await predictions.predict_fixture_rows(_services(request).engine, rows, version)
    data = [{"line": line, **_prediction(result)} for line, result in results]
    return JSONResponse({"success": True, "data": data, "count": len(data)})


@operation(
    summary="Predict many fixtures",
    description="One model load and one pass for up to 500 fixtures. A fixture with an "
    "unknown team or league carries its `error`; the others are still predicted. The body "
    "is JSON, or a football-data.co.uk fixtures file sent as `text/csv` (then "
    "`?modelVersion=` picks the model and each result has its `line`). Probabilities and "
    "edges are fractions.",
    body=PREDICTIONS_BODY,
    other_bodies={
        "text/csv": {
            "type": "string",
            "description": "a fixtures.csv as football-data.co.uk publishes it (at most 2 MB)",
        }
    },
    query=(Field("modelVersion", Text(), "with a text/csv body: the model version"),),
    response=list_of(PREDICTION),
    errors=(
        Error(
            422,
            "BAD_USER_INPUT",
            "a malformed fixture or body, more than 500 fixtures",
            "fixtures[0].away must be a team name",
        ),
        Error(
            404,
            "NOT_FOUND",
            "no active full model, or no model has that version",
            "no active 'full' model: train one first",
        ),
        TOO_LARGE,
        OUTAGE,
    ),
    example={
        "body": {
            "fixtures": [
                {
                    "home": "Arsenal",
                    "away": "Chelsea",
                    "league": "E0",
                    "odds": {"home": 2.1, "draw": 3.5, "away": 3.6},
                },
                {"home": "Atlantis", "away": "Chelsea"},
            ]
        },
        "response": {
            "success": True,
            "data": [
                {
                    "fixture": {
                        "home": "Arsenal",
                        "away": "Chelsea",
                        "league": "E0",
                        "date": None,
                        "odds": {"home": 2.1, "draw": 3.5, "away": 3.6},
                    },
                    "modelVersion": "full-20251126T190302Z-1a2b3c",
                    "homeTeam": "Arsenal",
                    "awayTeam": "Chelsea",
                    "homeWin": 0.4712,
                    "draw": 0.2701,
                    "awayWin": 0.2587,
                    "expectedGoals": {"home": 1.52, "away": 1.08},
                    "over25": 0.5123,
                    "btts": 0.5311,
                    "odds": {"home": 2.1, "draw": 3.5, "away": 3.6},
                    "market": {"home": 0.4651, "draw": 0.2745, "away": 0.2604},
                    "edge": {"home": -0.0105, "draw": -0.0547, "away": -0.0687},
                    "marketOver25": None,
                    "edgeOver25": None,
                    "bestOdds": {"home": 2.1, "draw": 3.5, "away": 3.6},
                    "error": None,
                },
                {
                    "fixture": {
                        "home": "Atlantis",
                        "away": "Chelsea",
                        "league": None,
                        "date": None,
                        "odds": None,
                    },
                    "error": "no team called 'Atlantis'",
                },
            ],
            "count": 2,
        },
    },
)
async def predictions_batch(request: Request, given: dict[str, Any] | None) -> JSONResponse:
    """Many fixtures in one pass; a fixture with an unknown team or league carries its
    ``error`` and the others are still predicted.  The body is JSON ``{fixtures,
    modelVersion}``, or a fixtures CSV file (``content-type: text/csv``)."""
    if given is None:
        return await _fixtures_file(request)
    results = await predictions.predict_fixtures(
        _services(request).engine, given["fixtures"], given["modelVersion"]
    )
    data = [_prediction(p) for p in results]
    return JSONResponse({"success": True, "data": data, "count": len(data)})


routes = [
    Route("/api/predictions", _endpoint(predictions_batch), methods=["POST"]),
    Route("/api/model/status", _endpoint(model_status), methods=["GET"]),
    Route("/api/model/train", _endpoint(train), methods=["POST"]),
    Route("/api/model/versions", _endpoint(versions), methods=["GET"]),
    Route("/api/model/versions/{model_id}/activate", _endpoint(activate), methods=["POST"]),
    Route("/api/model/versions/{model_id}/export", _endpoint(export_version), methods=["GET"]),
    Route("/api/model/versions/import", _endpoint(import_version), methods=["POST"]),
    Route("/api/model/training-history", _endpoint(history), methods=["GET"]),
    Route("/api/model/leagues", _endpoint(leagues), methods=["GET"]),
    Route("/api/tasks/{task_id}", _endpoint(task), methods=["GET"]),
    Route("/api/tasks/{task_id}/cancel", _endpoint(cancel), methods=["POST"]),
]
