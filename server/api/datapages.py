"""The legacy app's Data Ingestion and Data Cleaning pages on the REST shim, over
:mod:`server.runs.datapages`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.api.envelope import ok, ok_list
from server.api.rest import _endpoint, _json_body, _limit
from server.runs import datapages
from server.runs.runconfig import ValidationError

__all__ = ["routes"]


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


def _only(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(unknown)}", unknown[0])


async def batch_download(request: Request) -> JSONResponse:
    body = await _json_body(request)
    _only(body, ("source", "leagues", "season"))
    return await _download(request, body.get("source"), body.get("leagues"), body.get("season"))


async def refresh(request: Request) -> JSONResponse:
    body = await _json_body(request)
    _only(body, ("source", "league_code", "season"))
    code = body.get("league_code")
    if not isinstance(code, str):
        raise ValidationError("league_code must be a league code such as E0", "league_code")
    league: dict[str, Any] = {"code": code}
    if body.get("season") is not None:
        league["season"] = body["season"]
    return await _download(request, body.get("source"), [league], None)


async def batches(request: Request) -> JSONResponse:
    rows = await datapages.list_batches(_services(request).engine, _limit(request, 50))
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


async def teams(request: Request) -> JSONResponse:
    return ok_list([_team(t) for t in await datapages.list_teams(_services(request).engine)])


async def search(request: Request) -> JSONResponse:
    found = await datapages.search_teams(
        _services(request).engine, request.query_params.get("q"), _limit(request, 10)
    )
    return ok_list([_team(t) for t in found])


routes = [
    Route("/api/data/batch-download", _endpoint(batch_download, write=True), methods=["POST"]),
    Route("/api/data/refresh", _endpoint(refresh, write=True), methods=["POST"]),
    Route("/api/data/batches", _endpoint(batches), methods=["GET"]),
    Route("/api/teams/all", _endpoint(teams), methods=["GET"]),
    Route("/api/teams/search", _endpoint(search), methods=["GET"]),
]
