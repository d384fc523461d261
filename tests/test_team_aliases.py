"""Team names as users type them: seeded and user aliases, "did you mean" on every unknown
team (service, CLI, GraphQL, REST), and look-alike characters in lookups."""

from __future__ import annotations

import json

import pytest

from core.errors import InvalidInputError
from server.cli import main
from server.formats.teamnames import TeamNameError
from server.runs import predictions, teams
from server.store.ingest import ingest_paths
from tests.conftest import FOOTBALL_DATA

SEASONS = ["--season", "2324", "--season", "2425"]


@pytest.fixture
async def e0(engine):
    """A migrated database (both dialects) with E0 2024/25 ingested."""
    assert all(r.ok for r in await ingest_paths(engine, [FOOTBALL_DATA / "2425" / "E0.csv"]))
    return engine


async def test_seeded_aliases_name_the_stored_teams(e0):
    names = ["Spurs", "Man Utd", "Wolverhampton", "manchester city", "Arsenal", "Atlantis"]
    assert await teams.resolve_names(e0, names) == [
        "Tottenham",
        "Man United",
        "Wolves",
        "Man City",
        "Arsenal",
        "Atlantis",
    ]
    # an alias applies within its country only
    assert await teams.resolve_names(e0, ["Spurs"], "E0") == ["Tottenham"]


async def test_invisible_and_full_width_characters_resolve_and_look_alikes_are_refused(e0):
    assert await teams.resolve_names(e0, ["Ars\u200benal", "\uff21rsenal", " Man  Utd "]) == [
        "Arsenal",
        "Arsenal",
        "Man United",
    ]
    with pytest.raises(
        TeamNameError, match=r"mixes Latin and Cyrillic letters \('\u0410' U\+0410\)"
    ):
        await teams.resolve_names(e0, ["\u0410rsenal"])


async def test_did_you_mean_suggests_the_closest_teams(e0):
    assert await teams.did_you_mean(e0, "Totenham") == "; did you mean 'Tottenham'?"
    assert "'Man United'" in await teams.did_you_mean(e0, "Manchster Utd")
    assert "'Tottenham'" in await teams.did_you_mean(e0, "Tottenham Hotspur FC")
    assert await teams.did_you_mean(e0, "Xqzvw") == ""


async def test_users_add_and_remove_aliases(e0):
    added = await teams.add_alias(e0, "The Gunners", "arsenal")
    assert added == {"alias": "The Gunners", "team": "Arsenal", "country": "England"}
    assert await teams.add_alias(e0, "the gunners", "Arsenal") == {
        "alias": "the gunners",
        "team": "Arsenal",
        "country": "England",
    }  # the same alias again changes nothing
    assert await teams.resolve_names(e0, ["THE GUNNERS"]) == ["Arsenal"]
    listed = await teams.list_aliases(e0, "England")
    assert [a["alias"] for a in listed].count("The Gunners") == 1
    with pytest.raises(InvalidInputError, match="already an alias of 'Arsenal'"):
        await teams.add_alias(e0, "The Gunners", "Chelsea")
    with pytest.raises(InvalidInputError, match="already the name of a team"):
        await teams.add_alias(e0, "Chelsea", "Arsenal")
    with pytest.raises(InvalidInputError, match="no team called 'Arsnal'; did you mean 'Arsenal'"):
        await teams.add_alias(e0, "Gooners", "Arsnal")
    with pytest.raises(TeamNameError, match="Cyrillic"):
        await teams.add_alias(e0, "G\u043eoners", "Arsenal")
    with pytest.raises(InvalidInputError, match="unknown league 'X9'"):
        await teams.add_alias(e0, "Gooners", "Arsenal", "X9")
    assert await teams.remove_alias(e0, "the GUNNERS") == 1
    assert await teams.resolve_names(e0, ["The Gunners"]) == ["The Gunners"]
    with pytest.raises(teams.AliasNotFoundError):
        await teams.remove_alias(e0, "The Gunners")


async def test_a_team_named_like_an_alias_keeps_its_own_name(e0):
    """An alias never hides a team: 'Man U' stays an alias only while no team has that
    name in the country."""
    await teams.add_alias(e0, "Brentford B", "Brentford")
    assert await teams.resolve_names(e0, ["Brentford B"]) == ["Brentford"]
    assert await teams.resolve_names(e0, ["Brentford"]) == ["Brentford"]


# --- through the prediction service, the CLI and both APIs --------------------------------------


@pytest.fixture
def embedded(monkeypatch, seeded_url, tmp_path):
    async def make(dialect: str) -> None:
        monkeypatch.setenv("FPE_DATABASE_URL", await seeded_url(dialect))
        monkeypatch.setenv("FPE_DATA_DIR", str(tmp_path))
        monkeypatch.delenv("FPE_REDIS_URL", raising=False)

    return make


@pytest.fixture(params=["sqlite", "postgresql"])
async def trained_cli(request, embedded):
    await embedded(request.param)
    return request.param


def test_cli_predicts_spurs_as_tottenham_and_suggests_for_typos(trained_cli, capsys):
    assert main(["predict", "--home", "Spurs", "--away", "Arsenal"]) == 1  # no model yet
    assert "no active 'full' model" in capsys.readouterr().err
    assert main(["train", "--type", "poisson", "--league", "E0", *SEASONS]) == 0
    capsys.readouterr()
    assert main(["models", "--json"]) == 0
    version = json.loads(capsys.readouterr().out)[0]["version"]
    args = ["--away", "Arsenal", "--model", version]
    assert main(["predict", "--home", "Spurs", *args]) == 0
    assert capsys.readouterr().out.startswith("Tottenham v Arsenal")
    assert main(["predict", "--home", "Totenham", *args]) == 1
    assert "no team called 'Totenham'; did you mean 'Tottenham'" in capsys.readouterr().err
    assert main(["predict", "--home", "Spurs", "--league", "E0", *args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["home_team"] == "Tottenham"
    assert main(["predict", "--home", "\u0410rsenal", "--away", "Chelsea", "--model", version]) == 1
    assert "mixes Latin and Cyrillic letters ('\u0410' U+0410)" in capsys.readouterr().err

    assert main(["aliases", "add", "The Lilywhites", "Tottenham", "--league", "E0"]) == 0
    assert "'The Lilywhites' now names Tottenham (England)" in capsys.readouterr().out
    assert main(["predict", "--home", "the lilywhites", *args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["home_team"] == "Tottenham"
    assert main(["aliases", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert any(a["alias"] == "Spurs" and a["team"] == "Tottenham" for a in listed)
    assert main(["aliases", "add", "X", "Totenham"]) == 1
    assert "did you mean 'Tottenham'" in capsys.readouterr().err
    assert main(["aliases", "remove", "The Lilywhites"]) == 0
    assert main(["aliases", "remove", "The Lilywhites"]) == 1
    assert "no alias 'The Lilywhites'" in capsys.readouterr().err


async def test_graphql_and_rest_resolve_aliases_and_suggest(make_api):
    app, client = await make_api("postgresql")

    async def gql(query: str, variables: dict | None = None) -> dict:
        r = await client.post("/graphql", json={"query": query, "variables": variables or {}})
        assert r.status_code == 200, r.text
        return r.json()

    out = await gql(
        """mutation($input: TrainingInput!) { startTraining(input: $input) { taskId } }""",
        {"input": {"modelType": "FULL", "leagues": ["E0"], "seasons": ["2223", "2324", "2425"]}},
    )
    assert "errors" not in out, out
    await app.state.services.queue.join()
    task = out["data"]["startTraining"]["taskId"]
    status = await gql(f'{{ task(taskId: "{task}") {{ status errorMessage }} }}')
    assert status["data"]["task"]["status"] == "COMPLETED", status
    out = await gql('{ predict(home: "Spurs", away: "Man Utd") { homeTeam awayTeam homeWin } }')
    assert "errors" not in out, out
    assert out["data"]["predict"]["homeTeam"] == "Tottenham"
    assert out["data"]["predict"]["awayTeam"] == "Man United"
    out = await gql('{ predict(home: "Totenham", away: "Arsenal") { homeWin } }')
    assert out["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "did you mean 'Tottenham'" in out["errors"][0]["message"]

    out = await gql(
        'mutation { addTeamAlias(alias: "Lilywhites", team: "Tottenham") { alias team country } }'
    )
    assert out["data"]["addTeamAlias"] == {
        "alias": "Lilywhites",
        "team": "Tottenham",
        "country": "England",
    }
    out = await gql('{ teamAliases(country: "England") { alias team } }')
    assert {"alias": "Lilywhites", "team": "Tottenham"} in out["data"]["teamAliases"]
    out = await gql('mutation { addTeamAlias(alias: "X", team: "Atlantis") { alias } }')
    assert out["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    out = await gql('mutation { removeTeamAlias(alias: "nope") }')
    assert out["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    r = await client.post(
        "/api/predictions",
        json={"fixtures": [{"home": "Lilywhites", "away": "Wolverhampton"},
                           {"home": "Totenham", "away": "Arsenal"}]},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    good, bad = r.json()["data"]
    assert good["homeTeam"] == "Tottenham" and good["awayTeam"] == "Wolves"
    assert good["fixture"]["home"] == "Lilywhites"  # the fixture as it was sent
    assert bad["error"].startswith("no team called 'Totenham'; did you mean 'Tottenham'")


async def test_predictions_batch_and_single_agree_on_aliases(e0):
    """The one resolver, behind single and batch predictions, takes aliases."""
    resolved = await predictions.resolve_teams(
        e0, [("Spurs", "Man Utd", None), ("Spurs", "Spurs", None)]
    )
    assert resolved[0][1] == "Tottenham" and resolved[0][3] == "Man United"
    assert resolved[1] == "'Tottenham' cannot play itself"


async def test_names_beyond_ascii_are_found_as_stored(engine, tmp_path):
    """SQLite's own lower() folds ASCII only, and casefold() folds 'ß' to 'ss': a team
    stored as 'ÇAYKUR' or 'Straße FC' is found by its own spelling on both dialects and
    through the sqlite3 reader of ``fpe predict``."""
    from server.store.lite import LiteReader

    source = (FOOTBALL_DATA / "2425" / "E0.csv").read_text(encoding="utf-8-sig")
    renamed = source.replace("Arsenal", "ÇAYKUR").replace("Chelsea", "Straße FC")
    path = tmp_path / "E0.csv"
    path.write_text(renamed, encoding="utf-8")
    assert all(r.ok for r in await ingest_paths(engine, [path]))
    found = []
    for wanted in [("ÇAYKUR", "Straße FC", None)], [("çaykur", "STRAẞE fc", "E0")]:
        found += await predictions.resolve_teams(engine, wanted)
    assert [f[1::2] for f in found] == [("ÇAYKUR", "Straße FC")] * 2
    url = engine.url
    if url.get_backend_name() == "sqlite":
        reader = LiteReader.open(url.render_as_string(hide_password=False))
        assert reader is not None
        try:
            both = [("ÇAYKUR", "Straße FC", None), ("çaykur", "STRAẞE fc", "E0")]
            assert await predictions.resolve_teams(reader, both) == found
        finally:
            reader.close()
