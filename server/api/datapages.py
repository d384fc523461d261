"""The legacy app's Data Ingestion and Data Cleaning pages on the REST shim, over
:mod:`server.runs.datapages`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.api.declare import Error, Field, Text, Whole, closed, envelope, list_of, obj, operation
from server.api.envelope import ok, ok_list
from server.api.rest import BAD_INPUT, OUTAGE, WRITE_ERRORS, _endpoint, _json_body
from server.runs import datapages
from server.runs.runconfig import ValidationError

__all__ = ["routes"]


# --- what the routes take and answer (OpenAPI: server/api/declare.py) ----------------------
STATS = {"type": "object", "description": "rows processed, inserted, updated, skipped; errors"}
RESULT = obj(
    {
        "leagueCode": "string",
        "season": {"type": ["string", "null"]},
        "stats": STATS,
        "batchNumber": {"type": ["integer", "null"]},
        "error": {"type": ["string", "null"]},
    }
)
BATCH = {
    "type": "object",
    "properties": {
        "batchId": {"type": "string"},
        "status": {"enum": ["completed", "partial", "failed"]},
        "totalStats": STATS,
        "results": {"type": "array", "items": RESULT},
        "completedAt": {"type": ["string", "null"], "format": "date-time"},
        "source": {"type": "string"},
        "request": {"type": "object"},
        "startedAt": {"type": ["string", "null"], "format": "date-time"},
    },
    "required": ["batchId", "status", "totalStats", "results", "completedAt"],
}
TEAM = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "canonicalName": {"type": "string"},
        "leagueId": {"type": ["integer", "null"]},
        "leagueName": {"type": ["string", "null"]},
        "similarity": {"type": "number", "description": "0-1, for a search"},
    },
    "required": ["id", "name", "canonicalName", "leagueId", "leagueName"],
}
STATS_EXAMPLE = {"processed": 380, "inserted": 380, "updated": 0, "skipped": 0, "errors": 0}
BATCH_EXAMPLE = {
    "batchId": "batch-20251126T190258-1a2b3c4d",
    "status": "completed",
    "totalStats": STATS_EXAMPLE,
    "results": [
        {
            "leagueCode": "E0",
            "season": "2425",
            "stats": STATS_EXAMPLE,
            "batchNumber": 4,
            "error": None,
        }
    ],
    "completedAt": "2025-11-26T19:03:02.123456+00:00",
}
TEAM_EXAMPLE = {
    "id": 12,
    "name": "Arsenal",
    "canonicalName": "Arsenal",
    "leagueId": 1,
    "leagueName": "Premier League",
}
DOWNLOAD_ERRORS = (
    Error(
        422,
        "BAD_USER_INPUT",
        "an unknown source, a malformed league list or season",
        "leagues must be a non-empty list of {code, season?}",
    ),
    *WRITE_ERRORS,
    OUTAGE,
)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _services(request: Request) -> Any:
    return request.app.state.services


def _result(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "leagueCode": r["league_code"],
        "season": r["season"],
        "stats": r["stats"],
        "batchNumber": r["batch_number"],
        "error": r["error"],
    }


def _batch(b: dict[str, Any]) -> dict[str, Any]:
    return {
        "batchId": b["batch_id"],
        "status": b["status"],
        "totalStats": b["total_stats"],
        "results": [_result(r) for r in b["results"]],
        "completedAt": _iso(b["completed_at"]),
    }


async def _download(request: Request, source: Any, leagues: Any, season: Any) -> JSONResponse:
    services = _services(request)
    settings = services.settings
    done = await datapages.batch_download(
        services.engine, settings.data_dir, settings.download_base_url, source, leagues, season
    )
    return ok(_batch(done))


_BATCH_DOWNLOAD_BODY = closed(
    {
        "source": {"type": ["string", "null"], "description": "football-data.co.uk"},
        "leagues": {"type": "array", "items": {"type": "object"}, "minItems": 1},
        "season": {"type": ["string", "null"], "description": "2425, or all"},
    },
    "leagues",
)


@operation(
    summary="Download and ingest league files",
    description="Each (league, season) file from football-data.co.uk, one at a time; a file "
    "that fails is reported in its result and the others go on.",
    documented_body=_BATCH_DOWNLOAD_BODY,
    response=envelope(BATCH),
    errors=DOWNLOAD_ERRORS,
    write=True,
    example={
        "body": {"leagues": [{"code": "E0", "season": "2425"}]},
        "data": BATCH_EXAMPLE,
    },
)
async def batch_download(request: Request) -> JSONResponse:
    body = await _json_body(request, _BATCH_DOWNLOAD_BODY)
    return await _download(request, body.get("source"), body.get("leagues"), body.get("season"))


_REFRESH_BODY = closed(
    {
        "source": {"type": ["string", "null"]},
        "league_code": {"type": "string"},
        "season": {"type": ["string", "null"]},
    },
    "league_code",
)


@operation(
    summary="Download and ingest one league again",
    description="As batch-download for one league (snake_case fields, as the legacy page "
    "sends them).",
    documented_body=_REFRESH_BODY,
    response=envelope(BATCH),
    errors=DOWNLOAD_ERRORS,
    write=True,
    example={
        "body": {"league_code": "E0", "season": "2425"},
        "data": BATCH_EXAMPLE,
    },
)
async def refresh(request: Request) -> JSONResponse:
    body = await _json_body(request, _REFRESH_BODY)
    code = body.get("league_code")
    if not isinstance(code, str):
        raise ValidationError("league_code must be a league code such as E0", "league_code")
    league: dict[str, Any] = {"code": code}
    if body.get("season") is not None:
        league["season"] = body["season"]
    return await _download(request, body.get("source"), [league], None)


@operation(
    summary="Download batches, newest first, with a summary",
    description="Every batch-download and refresh, and their totals.",
    query=(Field("limit", Whole(1, 500), "how many batches (default 50)"),),
    response=envelope(
        obj({"batches": {"type": "array", "items": BATCH}, "summary": {"type": "object"}})
    ),
    errors=(BAD_INPUT, OUTAGE),
    example={
        "data": {
            "batches": [
                BATCH_EXAMPLE
                | {
                    "source": "football-data.co.uk",
                    "request": {"leagues": [{"code": "E0"}]},
                    "startedAt": "2025-11-26T19:02:58.000000+00:00",
                }
            ],
            "summary": {"totalBatches": 1, "completed": 1, "partial": 0, "failed": 0},
        }
    },
)
async def batches(request: Request, given: dict[str, Any]) -> JSONResponse:
    rows = await datapages.list_batches(_services(request).engine, given["limit"] or 50)
    listed = [
        _batch(b)
        | {"source": b["source"], "request": b["request"], "startedAt": _iso(b["started_at"])}
        for b in rows
    ]
    summary = {
        "totalBatches": len(listed),
        "completed": sum(b["status"] == "completed" for b in rows),
        "partial": sum(b["status"] == "partial" for b in rows),
        "failed": sum(b["status"] == "failed" for b in rows),
        "inserted": sum(b["total_stats"].get("inserted", 0) for b in rows),
        "updated": sum(b["total_stats"].get("updated", 0) for b in rows),
        "errors": sum(b["total_stats"].get("errors", 0) for b in rows),
        "lastBatchAt": listed[0]["startedAt"] if listed else None,
    }
    return ok({"batches": listed, "summary": summary})


def _team(t: dict[str, Any]) -> dict[str, Any]:
    out = {
        "id": t["id"],
        "name": t["name"],
        "canonicalName": t["canonical_name"],
        "leagueId": t["league_id"],
        "leagueName": t["league_name"],
    }
    if "similarity" in t:
        out["similarity"] = t["similarity"]
    return out


@operation(
    summary="Every team",
    description="With the league of its latest match (null without matches).",
    response=list_of(TEAM),
    errors=(OUTAGE,),
    example={"response": {"success": True, "data": [TEAM_EXAMPLE], "count": 1}},
)
async def teams(request: Request) -> JSONResponse:
    return ok_list([_team(t) for t in await datapages.list_teams(_services(request).engine)])


@operation(
    summary="Teams whose name is like the query",
    description="Best first, with a similarity from 0 to 1.",
    query=(
        Field("q", Text("a non-empty search text"), "part of a team's name", required=True),
        Field("limit", Whole(1, 500), "how many (default 10)"),
    ),
    response=list_of(TEAM),
    errors=(BAD_INPUT, OUTAGE),
    example={
        "query": {"q": "arsen"},
        "response": {
            "success": True,
            "data": [TEAM_EXAMPLE | {"similarity": 0.83}],
            "count": 1,
        },
    },
)
async def search(request: Request, given: dict[str, Any]) -> JSONResponse:
    found = await datapages.search_teams(
        _services(request).engine, given["q"], given["limit"] or 10
    )
    return ok_list([_team(t) for t in found])


routes = [
    Route("/api/data/batch-download", _endpoint(batch_download, write=True), methods=["POST"]),
    Route("/api/data/refresh", _endpoint(refresh, write=True), methods=["POST"]),
    Route("/api/data/batches", _endpoint(batches), methods=["GET"]),
    Route("/api/teams/all", _endpoint(teams), methods=["GET"]),
    Route("/api/teams/search", _endpoint(search), methods=["GET"]),
]
