"""The legacy app's jackpot pages on the REST shim (Jackpot Input, Probability Output, Ticket
Construction, Sets Comparison, Jackpot Validation, Backtesting): paths, shapes and units as
the pages use them, over :mod:`server.runs.jackpots`.  Probabilities are in percent with two
decimals summing to 100 per fixture; entropy in bits (``docs/jackpots.md``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.api.envelope import ok
from server.api.rest import _endpoint, _json_body, _limit
from server.runs import jackpot_results, jackpot_templates, jackpots
from server.runs.runconfig import ValidationError

__all__ = ["routes"]

_FIXTURE_FIELDS = ("fixtures", "name")


def _iso(value: datetime) -> str:
    return value.isoformat()


def _services(request: Request) -> Any:
    return request.app.state.services


def _set_row(row: dict[str, Any]) -> dict[str, Any]:
    home, draw, away = jackpots.percent([row["home"], row["draw"], row["away"]])
    out: dict[str, Any] = {
        "homeWinProbability": home,
        "drawProbability": draw,
        "awayWinProbability": away,
        "entropy": round(row["entropy"], 4),
        "calibrated": row["calibrated"],
        "heuristic": row["heuristic"],
        "allowedForDecisionSupport": row["decision_support"],
    }
    components = row.get("draw_components")
    if components is not None:
        out["drawComponents"] = {
            "poisson": components["poisson"],
            "dixonColes": components["dixon_coles"],
            "market": components["market"],
        }
    return out


def _fixture(f: dict[str, Any], full: bool = True) -> dict[str, Any]:
    out = {"id": f["id"], "homeTeam": f["home"], "awayTeam": f["away"], "odds": f["odds"]}
    if full:
        out |= {"matchDate": f["match_date"], "league": f["league"]}
    return out


def _jackpot(j: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": j["id"],
        "name": j["name"],
        "fixtures": [_fixture(f) for f in j["fixtures"]],
        "createdAt": _iso(j["created_at"]),
        "modelVersion": j["model_version"],
        "status": j["status"],
    }


def _saved(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": s["id"],
        "name": s["name"],
        "description": s["description"],
        "jackpotId": s["jackpot_id"],
        "selections": s["selections"],
        "actualResults": s["actual_results"],
        "scores": s["scores"],
        "modelVersion": s["model_version"],
        "totalFixtures": s["total_fixtures"],
        "createdAt": _iso(s["created_at"]),
        "updatedAt": _iso(s["updated_at"]),
    }


def _template(t: dict[str, Any]) -> dict[str, Any]:
    out = {
        "id": t["id"],
        "name": t["name"],
        "description": t["description"],
        "fixtureCount": t["fixture_count"],
        "createdAt": _iso(t["created_at"]),
        "updatedAt": _iso(t["updated_at"]),
    }
    if "fixtures" in t:
        out["fixtures"] = [
            {
                "id": f["id"],
                "homeTeam": f["home"],
                "awayTeam": f["away"],
                "odds": dict(zip(("home", "draw", "away"), f["odds"], strict=True)),
            }
            for f in t["fixtures"]
        ]
    return out


def _unknown_fields(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(unknown)}", unknown[0])


def _int_id(request: Request, name: str) -> int:
    text = request.path_params[name]
    if not (text.isascii() and text.isdigit() and len(text) < 10):
        raise jackpots.JackpotNotFoundError(f"{name} {text[:40]!r} is not a known id")
    return int(text)


# --- jackpots and their sets ---------------------------------------------------------------


async def create(request: Request) -> JSONResponse:
    body = await _json_body(request)
    _unknown_fields(body, _FIXTURE_FIELDS)
    fixtures = jackpots.parse_fixtures(body.get("fixtures"))
    made = await jackpots.create_jackpot(_services(request).engine, fixtures, body.get("name"))
    return ok(_jackpot(made), status=201)


async def probabilities(request: Request) -> JSONResponse:
    j = await jackpots.get_jackpot(_services(request).engine, request.path_params["jid"])
    keys = list(j["fixtures"][0]["sets"]) if j["fixtures"] else []
    return ok(
        {
            "predictionId": j["id"],
            "modelVersion": j["model_version"],
            "createdAt": _iso(j["created_at"]),
            "fixtures": [_fixture(f, full=False) for f in j["fixtures"]],
            "probabilitySets": {k: [_set_row(f["sets"][k]) for f in j["fixtures"]] for k in keys},
            "confidenceFlags": {},
            "warnings": j["warnings"],
        }
    )


# --- saved results -------------------------------------------------------------------------


async def save_result(request: Request) -> JSONResponse:
    body = await _json_body(request)
    # ``scores`` from the client are ignored: the server computes them
    _unknown_fields(body, ("name", "description", "selections", "actual_results", "scores"))
    saved = await jackpot_results.save_result(
        _services(request).engine,
        request.path_params["jid"],
        body.get("name"),
        body.get("description"),
        body.get("selections"),
        body.get("actual_results"),
    )
    return ok(_saved(saved), status=201)


async def saved_results(request: Request) -> JSONResponse:
    rows = await jackpot_results.list_saved_results(
        _services(request).engine, request.path_params["jid"], _limit(request, 500)
    )
    return ok({"results": [_saved(r) for r in rows]})


async def actual_results(request: Request) -> JSONResponse:
    body = await _json_body(request)
    saved = await jackpot_results.set_actual_results(
        _services(request).engine, _int_id(request, "result_id"), body
    )
    return ok(_saved(saved))


async def latest(request: Request) -> JSONResponse:
    row = await jackpot_results.latest_saved_result(_services(request).engine)
    return ok({"result": None if row is None else _saved(row)})


async def all_results(request: Request) -> JSONResponse:
    rows = await jackpot_results.list_saved_results(
        _services(request).engine, None, _limit(request, 500)
    )
    return ok({"results": [_saved(r) for r in rows]})


async def export(request: Request) -> JSONResponse:
    body = await _json_body(request)
    _unknown_fields(body, ("validation_ids",))
    jackpot_results.refuse_export(body.get("validation_ids"))
    raise AssertionError("unreachable")  # pragma: no cover - refuse_export always raises


# --- templates -----------------------------------------------------------------------------


async def templates(request: Request) -> JSONResponse:
    rows, total = await jackpot_templates.list_templates(
        _services(request).engine, _limit(request, 50)
    )
    return ok({"templates": [_template(r) for r in rows], "total": total})


async def create_template(request: Request) -> JSONResponse:
    body = await _json_body(request)
    _unknown_fields(body, ("name", "description", "fixtures"))
    fixtures = jackpots.parse_fixtures(body.get("fixtures"))
    made = await jackpot_templates.create_template(
        _services(request).engine, body.get("name"), body.get("description"), fixtures
    )
    return ok(_template(made), status=201)


async def template(request: Request) -> JSONResponse:
    found = await jackpot_templates.get_template(_services(request).engine, _int_id(request, "tid"))
    return ok(_template(found))


async def delete_template(request: Request) -> JSONResponse:
    template_id = _int_id(request, "tid")
    await jackpot_templates.delete_template(_services(request).engine, template_id)
    return ok({"id": template_id})


async def calculate_template(request: Request) -> JSONResponse:
    engine = _services(request).engine
    found = await jackpot_templates.get_template(engine, _int_id(request, "tid"))
    made = await jackpots.create_jackpot(
        engine, jackpot_templates.template_fixtures(found), found["name"]
    )
    return ok(_jackpot(made), status=201)


_P = "/api/probabilities"
routes = [
    Route("/api/jackpots", _endpoint(create, write=True), methods=["POST"]),
    Route("/api/jackpots/templates", _endpoint(templates), methods=["GET"]),
    Route("/api/jackpots/templates", _endpoint(create_template, write=True), methods=["POST"]),
    Route("/api/jackpots/templates/{tid}", _endpoint(template), methods=["GET"]),
    Route(
        "/api/jackpots/templates/{tid}", _endpoint(delete_template, write=True), methods=["DELETE"]
    ),
    Route(
        "/api/jackpots/templates/{tid}/calculate",
        _endpoint(calculate_template, write=True),
        methods=["POST"],
    ),
    Route(f"{_P}/saved-results/latest", _endpoint(latest), methods=["GET"]),
    Route(f"{_P}/saved-results/all", _endpoint(all_results), methods=["GET"]),
    Route(
        f"{_P}/saved-results/{{result_id}}/actual-results",
        _endpoint(actual_results, write=True),
        methods=["PUT"],
    ),
    Route(f"{_P}/validation/export", _endpoint(export, write=True), methods=["POST"]),
    Route(f"{_P}/{{jid}}/probabilities", _endpoint(probabilities), methods=["GET"]),
    Route(f"{_P}/{{jid}}/save-result", _endpoint(save_result, write=True), methods=["POST"]),
    Route(f"{_P}/{{jid}}/saved-results", _endpoint(saved_results), methods=["GET"]),
]
