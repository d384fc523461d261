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

from server.api.declare import Error, Field, Text, Whole, closed, envelope, null, obj, operation
from server.api.envelope import ok
from server.api.rest import BAD_INPUT, OUTAGE, WRITE_ERRORS, _endpoint, _json_body
from server.runs import jackpot_results, jackpot_templates, jackpots

__all__ = ["routes"]

# --- what the routes take and answer (OpenAPI: server/api/declare.py) ----------------------
ODDS = obj({"home": "number", "draw": "number", "away": "number"})
FIXTURE_IN = {
    "type": "object",
    "properties": {
        "id": {"type": ["string", "integer"], "description": "unique in the jackpot"},
        "homeTeam": {"type": "string"},
        "awayTeam": {"type": "string"},
        "odds": {**ODDS, "description": "decimal, 1.01-1000, a book of at most 130 %"},
        "matchDate": {"type": ["string", "null"]},
        "league": {"type": ["string", "null"]},
    },
    "required": ["homeTeam", "awayTeam", "odds"],
}
FIXTURES_IN = {"type": "array", "items": FIXTURE_IN, "minItems": 1, "maxItems": 30}
FIXTURE_OUT = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "homeTeam": {"type": "string"},
        "awayTeam": {"type": "string"},
        "odds": {"type": ["object", "array"], "description": "decimal home, draw, away"},
        "matchDate": {"type": ["string", "null"]},
        "league": {"type": ["string", "null"]},
    },
    "required": ["id", "homeTeam", "awayTeam", "odds"],
}
JACKPOT = obj(
    {
        "id": {"type": "string"},
        "name": {"type": ["string", "null"]},
        "fixtures": {"type": "array", "items": FIXTURE_OUT},
        "createdAt": {"type": "string", "format": "date-time"},
        "modelVersion": {"type": ["string", "null"]},
        "status": {"type": "string"},
    }
)
SAVED = obj(
    {
        "id": {"type": "integer"},
        "name": {"type": ["string", "null"]},
        "description": {"type": ["string", "null"]},
        "jackpotId": {"type": "string"},
        "selections": {"type": "object", "description": "per set (A-G): fixture id to 1, X, 2"},
        "actualResults": {"type": "object", "description": "fixture id to 1, X or 2"},
        "scores": {"type": "object", "description": "per set: correct and total picks"},
        "modelVersion": {"type": ["string", "null"]},
        "totalFixtures": {"type": "integer"},
        "createdAt": {"type": "string", "format": "date-time"},
        "updatedAt": {"type": "string", "format": "date-time"},
    }
)
TEMPLATE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "description": {"type": ["string", "null"]},
        "fixtureCount": {"type": "integer"},
        "createdAt": {"type": "string", "format": "date-time"},
        "updatedAt": {"type": "string", "format": "date-time"},
        "fixtures": {"type": "array", "items": FIXTURE_OUT},
    },
    "required": ["id", "name", "fixtureCount", "createdAt", "updatedAt"],
}
SET_ROW = {
    "type": "object",
    "properties": {
        "homeWinProbability": {"type": "number", "description": "percent"},
        "drawProbability": {"type": "number", "description": "percent"},
        "awayWinProbability": {"type": "number", "description": "percent"},
        "entropy": {"type": "number", "description": "bits"},
        "calibrated": {"type": "boolean"},
        "heuristic": {"type": "boolean"},
        "allowedForDecisionSupport": {"type": "boolean"},
        "drawComponents": {"type": "object"},
    },
    "required": ["homeWinProbability", "drawProbability", "awayWinProbability", "entropy"],
}
JID = Field("jid", Text(), "the jackpot's id (creating it answered it)", required=True)
TID = Field("tid", Text(), "a template's id (a whole number)", required=True)
LIMIT = Field("limit", Whole(1, 500), "how many (1-500)")
UNKNOWN = Error(404, "NOT_FOUND", "no such jackpot, template or saved result", "no jackpot 'x'")
BAD_FIXTURES = Error(
    422,
    "BAD_USER_INPUT",
    "a malformed fixture, odds outside 1.01-1000 or a book over 130 %, naming the fixture",
    "fixture 2 (Arsenal v Chelsea): the odds make a book of 135.2 %, more than 130 %: check them",
)
NO_MODEL = Error(
    404,
    "NOT_FOUND",
    "no active model to compute the sets with",
    "there is no active model to predict the jackpot with: train one first",
)
WHEN = "2025-11-26T19:03:02.123456+00:00"
FIXTURE_EXAMPLE = {
    "id": "1",
    "homeTeam": "Arsenal",
    "awayTeam": "Chelsea",
    "odds": {"home": 2.1, "draw": 3.4, "away": 3.6},
    "matchDate": "2025-12-06",
    "league": "E0",
}
JACKPOT_EXAMPLE = {
    "id": "jp-7",
    "name": "Week 15",
    "fixtures": [FIXTURE_EXAMPLE],
    "createdAt": WHEN,
    "modelVersion": "full-20251126T190302Z-1a2b3c",
    "status": "ready",
}
SAVED_EXAMPLE = {
    "id": 3,
    "name": "My picks",
    "description": None,
    "jackpotId": "jp-7",
    "selections": {"B": {"1": "1"}},
    "actualResults": {"1": "X"},
    "scores": {"B": {"correct": 0, "total": 1}},
    "modelVersion": "full-20251126T190302Z-1a2b3c",
    "totalFixtures": 1,
    "createdAt": WHEN,
    "updatedAt": WHEN,
}
TEMPLATE_EXAMPLE = {
    "id": 2,
    "name": "Midweek",
    "description": None,
    "fixtureCount": 1,
    "createdAt": WHEN,
    "updatedAt": WHEN,
    "fixtures": [{k: FIXTURE_EXAMPLE[k] for k in ("id", "homeTeam", "awayTeam", "odds")}],
}


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


def _int_id(request: Request, name: str) -> int:
    text = request.path_params[name]
    if not (text.isascii() and text.isdigit() and len(text) < 10):
        raise jackpots.JackpotNotFoundError(f"{name} {text[:40]!r} is not a known id")
    return int(text)


# --- jackpots and their sets ---------------------------------------------------------------

_CREATE_BODY = closed({"fixtures": FIXTURES_IN, "name": {"type": ["string", "null"]}}, "fixtures")


@operation(
    summary="Create a jackpot and freeze its probability sets",
    description="1-30 fixtures with odds; sets A-G (docs/jackpots.md) are computed once, "
    "with the model versions used, and never change.",
    documented_body=_CREATE_BODY,
    status=201,
    response=envelope(JACKPOT),
    errors=(BAD_FIXTURES, NO_MODEL, *WRITE_ERRORS, OUTAGE),
    write=True,
    example={
        "body": {"name": "Week 15", "fixtures": [FIXTURE_EXAMPLE]},
        "data": JACKPOT_EXAMPLE,
    },
)
async def create(request: Request) -> JSONResponse:
    body = await _json_body(request, _CREATE_BODY)
    fixtures = jackpots.parse_fixtures(body.get("fixtures"))
    made = await jackpots.create_jackpot(_services(request).engine, fixtures, body.get("name"))
    return ok(_jackpot(made), status=201)


@operation(
    summary="A jackpot's probability sets",
    description="Per set (A-G), per fixture: 1X2 in percent (two decimals, summing to 100) "
    "and entropy in bits; only set B is meant for decisions.",
    path=(JID,),
    response=envelope(
        obj(
            {
                "predictionId": {"type": "string"},
                "modelVersion": {"type": ["string", "null"]},
                "createdAt": {"type": "string", "format": "date-time"},
                "fixtures": {"type": "array", "items": FIXTURE_OUT},
                "probabilitySets": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": SET_ROW},
                },
                "confidenceFlags": {"type": "object"},
                "warnings": {"type": "array", "items": {"type": "string"}},
            }
        )
    ),
    errors=(UNKNOWN, OUTAGE),
    example={
        "path": {"jid": "jp-7"},
        "data": {
            "predictionId": "jp-7",
            "modelVersion": "full-20251126T190302Z-1a2b3c",
            "createdAt": WHEN,
            "fixtures": [{k: FIXTURE_EXAMPLE[k] for k in ("id", "homeTeam", "awayTeam", "odds")}],
            "probabilitySets": {
                "B": [
                    {
                        "homeWinProbability": 46.12,
                        "drawProbability": 27.55,
                        "awayWinProbability": 26.33,
                        "entropy": 1.5373,
                        "calibrated": True,
                        "heuristic": False,
                        "allowedForDecisionSupport": True,
                    }
                ]
            },
            "confidenceFlags": {},
            "warnings": [],
        },
    },
)
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

_SAVE_RESULT_BODY = closed(
    {
        "name": {"type": ["string", "null"]},
        "description": {"type": ["string", "null"]},
        "selections": {"type": ["object", "null"]},
        "actual_results": {"type": ["object", "null"]},
        "scores": {"description": "ignored"},
    }
)


@operation(
    summary="Save picks (and results) for a jackpot",
    description="Picks per set, fixture id to 1, X or 2; the scores are computed here "
    "(any sent are ignored).",
    path=(JID,),
    documented_body=_SAVE_RESULT_BODY,
    status=201,
    response=envelope(SAVED),
    errors=(UNKNOWN, BAD_INPUT, *WRITE_ERRORS, OUTAGE),
    write=True,
    example={
        "path": {"jid": "jp-7"},
        "body": {"name": "My picks", "selections": {"B": {"1": "1"}}, "actual_results": {"1": "X"}},
        "data": SAVED_EXAMPLE,
    },
)
async def save_result(request: Request) -> JSONResponse:
    body = await _json_body(request, _SAVE_RESULT_BODY)
    # ``scores`` from the client are ignored: the server computes them
    saved = await jackpot_results.save_result(
        _services(request).engine,
        request.path_params["jid"],
        body.get("name"),
        body.get("description"),
        body.get("selections"),
        body.get("actual_results"),
    )
    return ok(_saved(saved), status=201)


@operation(
    summary="A jackpot's saved results",
    description="Newest first.",
    path=(JID,),
    query=(LIMIT,),
    response=envelope(obj({"results": {"type": "array", "items": SAVED}})),
    errors=(UNKNOWN, BAD_INPUT, OUTAGE),
    example={
        "path": {"jid": "jp-7"},
        "data": {"results": [SAVED_EXAMPLE]},
    },
)
async def saved_results(request: Request, given: dict[str, Any]) -> JSONResponse:
    rows = await jackpot_results.list_saved_results(
        _services(request).engine, request.path_params["jid"], given["limit"] or 500
    )
    return ok({"results": [_saved(r) for r in rows]})


@operation(
    summary="Set a saved result's actual results",
    description="The body maps fixture ids to 1, X or 2; the scores are recomputed.",
    path=(Field("result_id", Text(), "a saved result's id", required=True),),
    documented_body={"type": "object", "additionalProperties": {"enum": ["1", "X", "2"]}},
    response=envelope(SAVED),
    errors=(UNKNOWN, BAD_INPUT, *WRITE_ERRORS, OUTAGE),
    write=True,
    example={
        "path": {"result_id": "3"},
        "body": {"1": "X"},
        "data": SAVED_EXAMPLE,
    },
)
async def actual_results(request: Request) -> JSONResponse:
    body = await _json_body(request)
    saved = await jackpot_results.set_actual_results(
        _services(request).engine, _int_id(request, "result_id"), body
    )
    return ok(_saved(saved))


@operation(
    summary="The newest saved result",
    description="Of any jackpot; `result` is null when none is saved.",
    response=envelope(obj({"result": null(SAVED)})),
    errors=(OUTAGE,),
    example={"data": {"result": SAVED_EXAMPLE}},
)
async def latest(request: Request) -> JSONResponse:
    row = await jackpot_results.latest_saved_result(_services(request).engine)
    return ok({"result": None if row is None else _saved(row)})


@operation(
    summary="Every saved result",
    description="Newest first, of every jackpot.",
    query=(LIMIT,),
    response=envelope(obj({"results": {"type": "array", "items": SAVED}})),
    errors=(BAD_INPUT, OUTAGE),
    example={"data": {"results": [SAVED_EXAMPLE]}},
)
async def all_results(request: Request, given: dict[str, Any]) -> JSONResponse:
    rows = await jackpot_results.list_saved_results(
        _services(request).engine, None, given["limit"] or 500
    )
    return ok({"results": [_saved(r) for r in rows]})


_EXPORT_BODY = closed({"validation_ids": {"type": "array"}})


@operation(
    summary="Export validation results to training (refused)",
    description="Always a 422: the engine learns from match results, not from jackpot validations.",
    documented_body=_EXPORT_BODY,
    response=envelope(None),
    errors=(
        Error(
            422,
            "BAD_USER_INPUT",
            "always: nothing is exported",
            "the engine trains on match results, not on jackpot validations",
        ),
        *WRITE_ERRORS,
    ),
    write=True,
    example={"body": {"validation_ids": [3]}, "response": {"success": True}},
)
async def export(request: Request) -> JSONResponse:
    body = await _json_body(request, _EXPORT_BODY)
    jackpot_results.refuse_export(body.get("validation_ids"))
    raise AssertionError("unreachable")  # pragma: no cover - refuse_export always raises


# --- templates -----------------------------------------------------------------------------


@operation(
    summary="Jackpot templates",
    description="Saved fixture lists to price again later; newest first.",
    query=(LIMIT,),
    response=envelope(
        obj({"templates": {"type": "array", "items": TEMPLATE}, "total": {"type": "integer"}})
    ),
    errors=(BAD_INPUT, OUTAGE),
    example={"data": {"templates": [TEMPLATE_EXAMPLE], "total": 1}},
)
async def templates(request: Request, given: dict[str, Any]) -> JSONResponse:
    rows, total = await jackpot_templates.list_templates(
        _services(request).engine, given["limit"] or 50
    )
    return ok({"templates": [_template(r) for r in rows], "total": total})


_CREATE_TEMPLATE_BODY = closed(
    {
        "name": {"type": "string"},
        "description": {"type": ["string", "null"]},
        "fixtures": FIXTURES_IN,
    },
    "name",
    "fixtures",
)


@operation(
    summary="Save a jackpot template",
    description="A name and 1-30 fixtures with odds, checked as for a jackpot.",
    documented_body=_CREATE_TEMPLATE_BODY,
    status=201,
    response=envelope(TEMPLATE),
    errors=(BAD_FIXTURES, *WRITE_ERRORS, OUTAGE),
    write=True,
    example={
        "body": {"name": "Midweek", "fixtures": [FIXTURE_EXAMPLE]},
        "data": TEMPLATE_EXAMPLE,
    },
)
async def create_template(request: Request) -> JSONResponse:
    body = await _json_body(request, _CREATE_TEMPLATE_BODY)
    fixtures = jackpots.parse_fixtures(body.get("fixtures"))
    made = await jackpot_templates.create_template(
        _services(request).engine, body.get("name"), body.get("description"), fixtures
    )
    return ok(_template(made), status=201)


@operation(
    summary="A jackpot template",
    description="With its fixtures.",
    path=(TID,),
    response=envelope(TEMPLATE),
    errors=(UNKNOWN, OUTAGE),
    example={"path": {"tid": "2"}, "data": TEMPLATE_EXAMPLE},
)
async def template(request: Request) -> JSONResponse:
    found = await jackpot_templates.get_template(_services(request).engine, _int_id(request, "tid"))
    return ok(_template(found))


@operation(
    summary="Delete a jackpot template",
    description="Jackpots made from it stay.",
    path=(TID,),
    response=envelope(obj({"id": "integer"})),
    errors=(UNKNOWN, *WRITE_ERRORS, OUTAGE),
    write=True,
    example={"path": {"tid": "2"}, "data": {"id": 2}},
)
async def delete_template(request: Request) -> JSONResponse:
    template_id = _int_id(request, "tid")
    await jackpot_templates.delete_template(_services(request).engine, template_id)
    return ok({"id": template_id})


@operation(
    summary="Make a jackpot from a template",
    description="As `POST /api/jackpots` with the template's fixtures and name.",
    path=(TID,),
    status=201,
    response=envelope(JACKPOT),
    errors=(UNKNOWN, BAD_FIXTURES, NO_MODEL, *WRITE_ERRORS, OUTAGE),
    write=True,
    example={"path": {"tid": "2"}, "data": JACKPOT_EXAMPLE},
)
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
