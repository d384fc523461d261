"""The REST API's OpenAPI 3.1 description (server/api/openapi.py) built from the routes'
declarations (server/api/declare.py): every /api route described, the document valid, every
example valid against its own schema and accepted by the same declaration's validator, the
recorded legacy exchanges valid against it, and /docs rendering offline in Chromium."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.api.app import create_app
from server.api.declare import ERROR, Error, Field, Items, Record, Text, Whole, described
from server.api.openapi import STATIC_PREFIX, describe, undescribed
from server.base.config import Settings
from server.runs.runconfig import ValidationError
from tests.conftest import REQUIRE, start_server, stop_process
from tests.test_page import CHROMIUM, FLAGS

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = ROOT / "tests" / "contracts"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app(Settings.from_env({"FPE_DATA_DIR": str(tmp_path_factory.mktemp("data"))}))


@pytest.fixture(scope="module")
def document(app) -> dict[str, Any]:
    return describe(app.routes)


def _operations(app):
    """(method, path, operation) of every mounted /api route."""
    for route in app.routes:
        if isinstance(route, Route) and route.path.startswith("/api/"):
            for method in sorted(route.methods - {"HEAD"}):
                yield method, route.path_format, described(route.endpoint)


def test_every_mounted_api_route_is_described(app, document):
    assert undescribed(app.routes) == []
    mounted = {(m.lower(), p) for m, p, _ in _operations(app)}
    assert len(mounted) >= 9
    listed = {(m, p) for p, item in document["paths"].items() for m in item}
    assert listed == mounted


def test_an_undescribed_route_is_caught(app):
    async def bare(request):
        return JSONResponse({})

    routes = [*app.routes, Route("/api/new-thing", bare, methods=["GET", "POST"])]
    assert undescribed(routes) == ["GET /api/new-thing", "POST /api/new-thing"]


def test_the_description_is_valid_openapi_3_1(document):
    OpenAPIV31SpecValidator(document).validate()
    assert document["openapi"] == "3.1.0"
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def _check(schema: dict[str, Any], value: Any, document: dict[str, Any], where: str) -> None:
    resolver = {"components": document["components"], **schema}
    errors = sorted(Draft202012Validator(resolver).iter_errors(value), key=str)
    assert not errors, f"{where}: {errors[0].message} at {list(errors[0].absolute_path)}"


def test_every_route_has_its_body_responses_errors_and_an_example(document):
    for path, item in document["paths"].items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            assert op["summary"] and op["description"], where
            ok = [s for s in op["responses"] if s.startswith("2")]
            assert len(ok) == 1, where
            content = op["responses"][ok[0]]["content"]["application/json"]
            assert "example" in content, where
            errors = [s for s in op["responses"] if not s.startswith("2")]
            for status in errors:
                body = op["responses"][status]["content"]["application/json"]
                assert body["schema"] == {"$ref": "#/components/schemas/Error"}
                assert body["examples"], where
            for parameter in op.get("parameters", []):
                assert parameter["description"], where


def test_the_examples_validate_against_the_schema(app, document):
    """Each example against its schema (jsonschema, 2020-12) and against the declaration's
    own validator: what the documentation shows is what the server accepts."""
    for method, path, op in _operations(app):
        item = document["paths"][path][method.lower()]
        where = f"{method} {path}"
        for status, response in item["responses"].items():
            body = response["content"]["application/json"]
            examples = (
                [body["example"]]
                if "example" in body
                else [e["value"] for e in body["examples"].values()]
            )
            for example in examples:
                _check(body["schema"], example, document, f"{where} {status}")
        if "requestBody" in item:
            body = item["requestBody"]["content"]["application/json"]
            _check(body["schema"], body["example"], document, f"{where} body")
            if op.body is not None:  # the server's own validation takes it
                assert op.parse_body(body["example"])
        for parameter in item.get("parameters", []):
            if "example" in parameter:
                _check(parameter["schema"], parameter["example"], document, where)
        op.parse_query(op.example.get("query", {}))
        # an example path value fills in the template
        for name, value in op.example.get("path", {}).items():
            assert "{" + name + "}" in path and value


def test_error_examples_name_a_code(document):
    for item in document["paths"].values():
        for op in item.values():
            for status, response in op["responses"].items():
                for name, example in (
                    response["content"]["application/json"].get("examples", {}).items()
                ):
                    assert example["value"]["code"] in name
                    assert int(status) >= 400


def _template(document: dict[str, Any], path: str) -> str | None:
    path = path.split("?", 1)[0]
    for template in document["paths"]:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return template
    return None


def test_the_recorded_legacy_exchanges_fit_the_description(document):
    """Every answer recorded from the live server (tests/contracts/*/) has a status the
    description lists and a body its schema accepts."""
    checked = 0
    for file in sorted(CONTRACTS.glob("*/*.json")):
        for name, exchange in json.loads(file.read_text()).items():
            request, response = exchange["request"], exchange["response"]
            template = _template(document, request["path"].replace("{", "x").replace("}", "x"))
            method = request["method"].lower()
            if template is None or method not in document["paths"][template]:
                continue  # unknown paths, wrong methods, CORS preflights
            op = document["paths"][template][method]
            status = str(response["status"])
            assert status in op["responses"], f"{file.name} {name}: {status} not described"
            schema = op["responses"][status]["content"]["application/json"]["schema"]
            _check(schema, response["json"], document, f"{file.name} {name}")
            checked += 1
    assert checked >= 30


async def test_openapi_json_and_docs_are_served(api, document):
    _, client = api
    r = await client.get("/openapi.json")
    assert r.status_code == 200 and r.json() == json.loads(json.dumps(document))
    page = await client.get("/docs")
    assert page.status_code == 200 and "/openapi.json" in page.text
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert any(a.startswith(STATIC_PREFIX) and a.endswith(".js") for a in assets)
    for asset in assets:
        got = await client.get(asset)
        assert got.status_code == 200 and len(got.content) > 100, asset
    assert "http://" not in page.text and "https://" not in page.text


def test_the_declarations_validate_as_they_describe():
    limit = Field("limit", Whole(1, 500), "how many")
    fixture = Record((Field("home", Text("a team name"), "home", required=True),), "an object")
    body = Record((Field("fixtures", Items(fixture, 1, 2, "a non-empty list"), "f"),))
    assert limit.kind.check("7", "limit", "limit") == 7
    for value, message in [
        ("x", "limit 'x' is not a whole number"),
        ("0", "limit must be between 1 and 500"),
    ]:
        with pytest.raises(ValidationError, match=re.escape(message)):
            limit.kind.check(value, "limit", "limit")
    for given, message, field in [
        ({"fixtures": []}, "fixtures must be a non-empty list", "fixtures"),
        ({"fixtures": [{}]}, "fixtures[0].home must be a team name", "fixtures"),
        (
            {"fixtures": [{"home": 1}]},
            "fixtures[0].home must be a team name, not a number",
            "fixtures",
        ),
        ({"fixtures": [{"home": "A", "x": 1}]}, "fixtures[0]: unknown field(s) x", "fixtures"),
        (
            {"fixtures": [{"home": "A"}] * 3},
            "fixtures has 3 items, more than the limit of 2",
            "fixtures",
        ),
        ({"other": 1}, "unknown field(s): other", "other"),
    ]:
        with pytest.raises(ValidationError, match=re.escape(message)) as caught:
            body.check(given, "", "")
        assert caught.value.field == field
        assert Draft202012Validator(body.schema()).is_valid(given) is False
    assert body.check({"fixtures": [{"home": "A"}]}, "", "") == {"fixtures": [{"home": "A"}]}
    assert Draft202012Validator(body.schema()).is_valid({"fixtures": [{"home": "A"}]})
    assert Draft202012Validator(ERROR).is_valid({"detail": "x", "code": "NOT_FOUND"})
    assert Error(404, "NOT_FOUND", "w", "e").status == 404


@pytest.fixture
async def browser():
    if CHROMIUM is None:
        if REQUIRE:
            pytest.fail("chromium is not installed (scripts/test installs it with apt-get)")
        pytest.skip("chromium is not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        instance = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        await instance.close()


async def test_docs_render_offline_in_chromium(browser, tmp_path, document):
    """Every request the page makes stays on the server (anything else is aborted and
    counted); Swagger UI lists every operation and shows an example when one is opened."""
    env = {**os.environ, "FPE_DATA_DIR": str(tmp_path)}
    for name in ("FPE_REDIS_URL", "FPE_DATABASE_URL"):
        env.pop(name, None)
    proc, base = await start_server(env)
    try:
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        outside: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        async def only_local(route):
            if route.request.url.startswith(base):
                await route.continue_()
            else:
                outside.append(route.request.url)
                await route.abort()

        await page.route("**/*", only_local)
        await page.goto(base + "/docs")
        count = sum(len(item) for item in document["paths"].values())
        await page.wait_for_function(
            f"document.querySelectorAll('.opblock').length === {count}", timeout=30_000
        )
        title = await page.text_content(".info .title")
        assert "Football Probability Engine" in title
        await page.click("#operations-model-train .opblock-summary")
        await page.wait_for_selector(
            "#operations-model-train .body-param__example, #operations-model-train .microlight",
            timeout=10_000,
        )
        text = await page.text_content("#operations-model-train")
        assert "modelType" in text and "BAD_USER_INPUT" in text
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        await page.screenshot(path=str(ROOT / "test-artifacts" / "docs.png"))
        assert outside == [] and errors == []
    finally:
        stop_process(proc)
