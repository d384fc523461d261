"""Model files: export, import into fresh and populated databases, exact round trip,
refusal of damaged, edited, newer or unmappable files; the CLI and both APIs."""

from __future__ import annotations

import contextlib
import dataclasses
import json

import pytest
import sqlalchemy as sa

from server.base.config import Settings
from server.cli import main
from server.runs import modelfiles, predictions
from server.runs.services import open_services, start_training
from server.store import migrations
from server.store.db import create_engine
from server.store.ingest import ingest_paths
from server.store.tables import Model, Team
from tests.conftest import FOOTBALL_DATA, open_api, seeded_copy

E0_RECENT = {"leagues": ["E0"], "seasons": ["2122", "2223", "2324", "2425"]}
PAIRS = [("Arsenal", "Chelsea"), ("Brighton", "Man City"), ("Tottenham", "Liverpool")]
ODDS = (2.1, 3.5, 3.6)


@pytest.fixture(scope="module")
async def source(_seed_templates, tmp_path_factory):
    """(services, file dict, version): a trained ``full`` model on a seeded SQLite copy,
    exported once."""
    directory = tmp_path_factory.mktemp("modelfiles")
    url = await seeded_copy("sqlite", _seed_templates, directory, None)
    services = await open_services(Settings(database_url=url, data_dir=directory))
    await start_training(services, {"model_type": "full", **E0_RECENT})
    await services.queue.join()
    async with services.engine.connect() as conn:
        version = (await conn.execute(sa.select(Model.version))).scalar_one()
    file = await modelfiles.export_model(services.engine, version)
    yield services, file, version
    await services.close()


async def _predictions(engine, version: str | None) -> list[dict]:
    # the predictor cache is per process and by version alone (one process serves one
    # database); here one process reads the same version from two databases
    predictions._LOADED.clear()
    out = []
    for home, away in PAIRS:
        for odds in (None, ODDS):
            result = await predictions.predict(engine, home, away, model_version=version, odds=odds)
            out.append(dataclasses.asdict(result.prediction))
    return out


def _assert_same(a: list[dict], b: list[dict]) -> None:
    def numbers(x, path=""):
        if isinstance(x, dict):
            for k, v in sorted(x.items()):
                yield from numbers(v, f"{path}.{k}")
        elif isinstance(x, list | tuple):
            for i, v in enumerate(x):
                yield from numbers(v, f"{path}[{i}]")
        elif isinstance(x, float):
            yield path, x

    for left, right in zip(a, b, strict=True):
        pl, pr = dict(numbers(left)), dict(numbers(right))
        assert pl.keys() == pr.keys() and len(pl) > 100
        worst = max(abs(pl[k] - pr[k]) for k in pl)
        assert worst <= 1e-12, worst


def test_the_file_is_versioned_and_checksummed(source):
    _, file, version = source
    assert file["format"] == "fpe-model" and file["format_version"] == 1
    assert file["checksum"].startswith("sha256:") and len(file["checksum"]) == 71
    model = file["model"]
    assert model["version"] == version and model["model_type"] == "full"
    assert model["training_leagues"] == ["E0"] and model["leagues"][0]["code"] == "E0"
    assert {t["name"] for t in model["teams"].values()} >= {"Arsenal", "Tottenham", "Ipswich"}
    assert modelfiles.loads(modelfiles.dumps(file)) == file


async def test_import_into_a_fresh_database_predicts_the_same_numbers(source, engine):
    services, file, version = source
    out = await modelfiles.import_model(engine, modelfiles.dumps(file))
    assert out["version"] == version and out["status"] == "completed"
    assert out["created_leagues"] == ["E0"] and len(out["created_teams"]) == len(
        file["model"]["teams"]
    )
    _assert_same(await _predictions(services.engine, version), await _predictions(engine, version))
    with pytest.raises(modelfiles.VersionExistsError, match="never overwrites"):
        await modelfiles.import_model(engine, modelfiles.dumps(file))


async def test_import_maps_teams_by_name_onto_other_ids(source, engine):
    """E1 first: the teams both leagues share get other ids than in the source database."""
    services, file, version = source
    assert all(await ingest_paths(engine, [FOOTBALL_DATA / "2425" / "E1.csv"]))
    async with engine.connect() as conn:
        before = dict((await conn.execute(sa.select(Team.name, Team.id))).all())
    out = await modelfiles.import_model(engine, file, activate=True)
    assert out["status"] == "active"
    reused = {t["name"] for t in file["model"]["teams"].values()} & set(before)
    assert reused and not reused & set(out["created_teams"])
    src_ids = {t["name"]: i for i, t in file["model"]["teams"].items()}
    assert any(str(before[name]) != src_ids[name] for name in reused)
    _assert_same(await _predictions(services.engine, version), await _predictions(engine, None))


async def test_unknown_teams_are_listed_when_creating_is_refused(source, engine):
    _, file, _ = source
    with pytest.raises(
        modelfiles.ModelFileError, match=r"team\(s\) of the model file are not"
    ) as info:
        await modelfiles.import_model(engine, file, create_teams=False)
    assert "Arsenal (England)" in str(info.value) and "Tottenham (England)" in str(info.value)
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(Model))).scalar() == 0


def _edited(file: dict, change) -> str:
    copy = json.loads(json.dumps(file))
    change(copy)
    return json.dumps(copy)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda f: modelfiles.dumps(f)[:-2000], "not valid JSON"),
        (lambda f: "", "not valid JSON"),
        (
            lambda f: _edited(
                f,
                lambda c: c["model"]["weights"]["dixon_coles"]["parameters"]["attack"].__setitem__(
                    0, 0.5
                ),
            ),
            "checksum does not match",
        ),
        (lambda f: _edited(f, lambda c: c["model"].__setitem__("version", "mine")), "checksum"),
        (lambda f: _edited(f, lambda c: c.__setitem__("format_version", 2)), "newer release"),
        (lambda f: _edited(f, lambda c: c.__setitem__("format", "other")), "not a model file"),
        (lambda f: json.dumps([1, 2]), "not a model file"),
    ],
    ids=["truncated", "empty", "weight-edited", "version-edited", "newer", "foreign", "list"],
)
async def test_damaged_edited_or_newer_files_are_refused_and_write_nothing(
    source, engine, make, message
):
    _, file, _ = source
    with pytest.raises(modelfiles.ModelFileError, match=message):
        await modelfiles.import_model(engine, make(file))
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(Team))).scalar() == 0


async def test_a_forged_checksum_still_has_to_predict(source, engine):
    """An edit that recomputes the checksum gets past it, but weights that cannot predict
    are refused before anything is written."""
    _, file, _ = source
    copy = json.loads(json.dumps(file))
    copy["model"]["weights"]["dixon_coles"]["parameters"]["attack"] = [1.0]
    copy["checksum"] = modelfiles._checksum(copy["model"])
    with pytest.raises(modelfiles.ModelFileError, match="cannot predict"):
        await modelfiles.import_model(engine, copy)


# --- the command line, on a fresh database of each dialect -------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def fresh_env(request, database_url, monkeypatch, tmp_path):
    url = await database_url(request.param)
    eng = create_engine(url)
    await migrations.upgrade(eng)
    await eng.dispose()
    return url


def test_cli_export_then_import_into_a_fresh_database_predicts_the_same(
    source, fresh_env, monkeypatch, tmp_path, capsys
):
    services, _, version = source
    monkeypatch.setenv("FPE_DATABASE_URL", str(services.settings.database_url))
    monkeypatch.setenv("FPE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FPE_REDIS_URL", raising=False)
    assert main(["models", "export", version, f"{tmp_path}/backup/"]) == 0
    path = tmp_path / "backup" / "Model" / "full" / f"{version}.json"
    assert str(path) in capsys.readouterr().out
    args = ["predict", "--home", "Spurs", "--away", "Arsenal", "--model", version, "--json"]
    predictions._LOADED.clear()
    assert main(args) == 0
    here = json.loads(capsys.readouterr().out)
    assert here["home_team"] == "Tottenham"

    monkeypatch.setenv("FPE_DATABASE_URL", fresh_env)
    predictions._LOADED.clear()  # as in _predictions: another database, the same version
    assert main(["models", "import", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"imported {version} (full, completed)" in out and "created leagues: E0" in out
    assert main(args) == 0
    _assert_same([here], [json.loads(capsys.readouterr().out)])
    assert main(["models", "import", str(path)]) == 1
    assert "exists already" in capsys.readouterr().err
    path.write_text(path.read_text()[:-100])
    assert main(["models", "import", str(path)]) == 1
    assert "not valid JSON" in capsys.readouterr().err


# --- GraphQL and REST ---------------------------------------------------------------------------


async def test_graphql_and_rest_export_and_import(source, make_api, tmp_path):
    services, file, version = source
    async with contextlib.AsyncExitStack() as stack:
        _, here = await open_api(stack, services.settings.database_url, tmp_path)
        rest = await here.get(f"/api/model/versions/{version}/export")
        assert rest.status_code == 200, rest.text
        assert version in rest.headers["content-disposition"]
        exported = rest.json()
        assert exported["checksum"] == file["checksum"]
        gql = await here.post(
            "/graphql", json={"query": f'{{ exportModel(version: "{version}") }}'}
        )
        assert json.loads(gql.json()["data"]["exportModel"])["checksum"] == file["checksum"]
        missing = await here.get("/api/model/versions/nope/export")
        assert missing.status_code == 404

    _, there = await make_api("postgresql")
    text = json.dumps(file)
    rest = await there.post(
        "/api/model/versions/import", content=text, headers={"content-type": "application/json"}
    )
    assert rest.status_code == 201, rest.text
    data = rest.json()["data"]
    assert data["version"] == version and data["status"] == "completed"
    assert data["createdTeams"] == []  # the seeded copy has every team: mapped by name
    again = await there.post(
        "/api/model/versions/import", content=text, headers={"content-type": "application/json"}
    )
    assert again.status_code == 409 and again.json()["code"] == "CONFLICT"
    bad = await there.post(
        "/api/model/versions/import",
        content=text[:-500],
        headers={"content-type": "application/json"},
    )
    assert bad.status_code == 422 and "not valid JSON" in bad.json()["detail"]
    foreign = await there.post(
        "/api/model/versions/import",
        content=text,
        headers={"content-type": "application/json", "origin": "https://evil.example"},
    )
    assert foreign.status_code == 403

    edited = json.loads(text)
    edited["model"]["version"] = "copy-1"
    out = (
        await there.post(
            "/graphql",
            json={
                "query": "mutation($f: String!) { importModel(file: $f, activate: true) "
                "{ version status createdTeams } }",
                "variables": {"f": json.dumps(edited)},
            },
        )
    ).json()
    assert out["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "checksum" in out["errors"][0]["message"]
    edited["checksum"] = modelfiles._checksum(edited["model"])  # a deliberate copy
    out = (
        await there.post(
            "/graphql",
            json={
                "query": "mutation($f: String!) { importModel(file: $f, activate: true) "
                "{ version status createdTeams } }",
                "variables": {"f": json.dumps(edited)},
            },
        )
    ).json()
    assert out["data"]["importModel"] == {
        "version": "copy-1",
        "status": "active",
        "createdTeams": [],
    }
    out = (
        await there.post(
            "/graphql",
            json={"query": '{ predict(home: "Spurs", away: "Arsenal") { modelVersion homeTeam } }'},
        )
    ).json()
    assert out["data"]["predict"] == {"modelVersion": "copy-1", "homeTeam": "Tottenham"}


def test_every_part_keyed_by_team_is_remapped():
    """The Kalman filter's groups and the last match's shots name teams by id too."""
    weights = {
        "dixon_coles": {"parameters": {"teams": ["1", "2"]}, "team_strengths": {"1": {}, "2": {}}},
        "kalman": {"groups": {"England": {"teams": {"1": {"attack": 0.1}, "2": {"attack": 0}}}}},
        "last_shots": {"scale": 0.05, "teams": {"2": {"shot_difference": 3.0}}},
    }
    assert modelfiles._team_ids(weights) == {"1", "2"}
    out = modelfiles._remap(weights, {"1": "71", "2": "72"})
    assert out["kalman"]["groups"]["England"]["teams"] == {
        "71": {"attack": 0.1},
        "72": {"attack": 0},
    }
    assert out["last_shots"]["teams"] == {"72": {"shot_difference": 3.0}}
    assert out["dixon_coles"]["parameters"]["teams"] == ["71", "72"]
