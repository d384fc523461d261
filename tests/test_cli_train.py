"""fpe train / runs / models / predict / evaluate / cancel / worker on the embedded setup."""

from __future__ import annotations

import json

import pytest

from server.cli import main
from tests.test_cli import loaded_by

SEASONS = ["--season", "2122", "--season", "2223", "--season", "2324", "--season", "2425"]


@pytest.fixture
async def embedded(monkeypatch, seeded_url, tmp_path):
    monkeypatch.setenv("FPE_DATABASE_URL", await seeded_url("sqlite"))
    monkeypatch.setenv("FPE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FPE_REDIS_URL", raising=False)


def test_train_then_read_the_registry_and_predict(embedded, capsys):
    assert main(["train", "--type", "full", "--league", "E0", *SEASONS]) == 0
    out = capsys.readouterr().out
    assert "completed (full, 1520 matches selected)" in out and "is active" in out
    assert "market" in out and "RPS model - market" in out

    assert main(["runs", "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    assert run["status"] == "completed" and run["model_version"].startswith("full-")
    assert main(["runs"]) == 0
    header, line = capsys.readouterr().out.splitlines()[:2]
    assert "selected" in header and "matches" not in header and " 1520 " in line

    assert main(["models"]) == 0
    header, line = capsys.readouterr().out.splitlines()[:2]
    assert "fitted" in header and "validated" in header and "active" in line
    fitted, validated = (int(x) for x in line.split()[2:4])
    # validated on the held-out tail first, then refitted on the whole selection
    assert fitted == 1520 and 0 < validated < fitted

    assert main(["predict", "--home", "Arsenal", "--away", "Chelsea", "--json"]) == 0
    p = json.loads(capsys.readouterr().out)
    assert abs(p["home_win"] + p["draw"] + p["away_win"] - 1) < 1e-9

    assert main(["predict", "--home", "Arsenal", "--away", "Chelsea"]) == 0
    assert "score grid" in capsys.readouterr().out
    # a fresh process predicts with the model alone, reading the embedded file with the
    # standard library's sqlite3 (no SQLAlchemy, pandas, LightGBM, scikit-learn, SciPy,
    # queue or Redis): a fast start
    assert loaded_by("predict", "--home", "Arsenal", "--away", "Chelsea") == []
    assert_lite_reads_as_the_engine()

    assert main(["evaluate", "--league", "E0", "--season", "2425"]) == 0
    out = capsys.readouterr().out
    assert "RPS model - market" in out and "in-sample" in out
    assert "forecasts: the stored model" in out
    # the version's held-out forecasts: out of sample, the same service
    version = run["model_version"]
    argv = ["evaluate", "--league", "E0", "--model", version, "--held-out", "--json"]
    assert main(argv) == 0
    held = json.loads(capsys.readouterr().out)
    assert held["held_out"] and held["forecasts"] == "held-out forecasts of the validation fit"
    assert held["in_sample_matches"] == 0 < held["n"] < validated + 1
    assert held["skipped_without_forecast"] > 0  # the seasons before the validation period
    assert main(argv[:-1]) == 0
    out = capsys.readouterr().out
    assert "forecasts: held-out forecasts of the validation fit" in out
    assert "in-sample" not in out and "without a held-out forecast" in out


LOOKUPS = [  # (home, away, league, model): found, aliased, folded, and every error
    ("Arsenal", "Chelsea", None, None),
    ("arsenal", "man city", None, None),
    ("Spurs", "Man Utd", "E0", None),
    ("Arsenal", "Chelsea", None, "latest"),
    ("Arsenal", "Arsenal", None, None),
    ("Arsenal", "Nowhere", None, None),
    ("Arsenal", "Chelsea", "SP1", None),
    ("Arsenal", "Chelsea", "X9", None),
    ("Barcelona", "Real Madrid", None, None),
    ("Burnley", "Luton", None, None),
    ("Arsenal", "Chelsea", None, "nope"),
]


def assert_lite_reads_as_the_engine() -> None:
    """Every look-up of ``fpe predict`` gives the same through the stdlib-sqlite3 reader
    as through the SQLAlchemy engine: the same prediction or the same error."""
    import asyncio

    import numpy as np

    from server.base.config import Settings
    from server.runs import predictions, registry
    from server.store.connect import open_database
    from server.store.lite import LiteReader

    async def each(engine: object, latest: str) -> list[object]:
        out: list[object] = []
        for home, away, league, model in LOOKUPS:
            version = latest if model == "latest" else model
            try:
                r = await predictions.predict(engine, home, away, league, version)  # type: ignore[arg-type]
                p = r.prediction
                assert p is not None
                grid = np.asarray(p.markets.score_grid).tolist()
                out.append((r.home_team, r.away_team, p.model_version, p.outcomes, grid))
            except Exception as exc:
                out.append((type(exc), str(exc)))
        return out

    async def both() -> tuple[list[object], list[object]]:
        engine = await open_database(settings)
        try:
            latest = (await registry.get_model(engine))["version"]
            through_engine = await each(engine, latest)
        finally:
            await engine.dispose()
        predictions._LOADED.clear()  # the reader loads the model too
        reader = LiteReader.open(settings.database_url)
        assert reader is not None
        try:
            return through_engine, await each(reader, latest)
        finally:
            reader.close()

    settings = Settings.from_env()
    through_engine, through_reader = asyncio.run(both())
    assert sum(not isinstance(x[0], type) for x in through_engine) >= 4  # some found
    assert through_reader == through_engine


def test_bad_requests_are_one_line_errors(embedded, capsys):
    assert main(["train", "--type", "poisson", "--league", "XX"]) == 1
    assert "unknown league(s) XX" in capsys.readouterr().err
    assert main(["predict", "--home", "Arsenal", "--away", "Chelsea"]) == 1
    assert "no active 'full' model" in capsys.readouterr().err
    # the odds rule and far dates are checked before anything is looked up
    teams = ["predict", "--home", "Arsenal", "--away", "Chelsea"]
    assert main([*teams, "--odds", "1.2", "1.5", "1.9"]) == 1
    err = capsys.readouterr().err
    assert "Arsenal v Chelsea: the 1X2 odds: the prices 1.2 1.5 1.9 add up to a 202.6 %" in err
    assert main([*teams, "--date", "0001-01-01"]) == 1
    assert "date 0001-01-01 is more than two years before today" in capsys.readouterr().err
    assert main(["cancel", "nope"]) == 1
    assert "no training run has task id 'nope'" in capsys.readouterr().err
    assert main(["worker"]) == 1
    assert "FPE_REDIS_URL is not set" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--type", "neural", "--league", "E0"])


def test_train_and_predict_a_draw_model(embedded, capsys):
    assert main(["train", "--type", "draw", "--league", "E0", *SEASONS]) == 0
    out = capsys.readouterr().out
    assert "completed (draw, 1520 matches selected)" in out
    assert "Dixon-Coles" in out and "market*" in out and "draw model: weights" in out
    assert main(["models", "--type", "draw", "--json"]) == 0
    (model,) = json.loads(capsys.readouterr().out)
    version = model["version"]
    args = ["predict", "--home", "Arsenal", "--away", "Chelsea", "--model", version, "--json"]
    assert main(args) == 0
    p = json.loads(capsys.readouterr().out)
    assert p["model_type"] == "draw"
    assert abs(p["home_win"] + p["draw"] + p["away_win"] - 1) < 1e-12
    assert main([*args, "--odds", "2.1", "3.4", "3.6"]) == 0
    assert json.loads(capsys.readouterr().out)["used_odds"] is True


def test_predict_a_fixtures_file(embedded, fixtures_csv, capsys):
    assert main(["train", "--type", "full", "--league", "E0", *SEASONS]) == 0
    capsys.readouterr()
    path = fixtures_csv()

    assert main(["predict", "--fixtures", str(path)]) == 0
    captured = capsys.readouterr()
    assert "Fulham v Man City" in captured.out and "edge H" in captured.out
    assert f"{path}:12: Atlantis v Chelsea: no team called 'Atlantis'" in captured.err
    assert f"{path}:13: Arsenal v Chelsea: unknown league 'X9'" in captured.err

    assert main(["predict", "--fixtures", str(path), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["line"] for r in records] == list(range(2, 14))
    ok = [r for r in records if not r["error"]]
    assert len(ok) == 10
    for r in ok:
        assert abs(r["p_home"] + r["p_draw"] + r["p_away"] - 1) < 1e-9
        assert r["best_home"] >= 1.0 and r["edge_home"] == pytest.approx(
            r["p_home"] * r["best_home"] - 1
        )
        assert 0 < r["over25"] < 1 and 0 < r["btts"] < 1 and r["xg_home"] > 0
    # the best price is the highest of the file's pre-match prices (MaxH here)
    fulham = next(r for r in ok if r["home"] == "Fulham")
    assert fulham["best_home"] == 5.6

    assert main(["predict", "--fixtures", str(path), "--csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("line,date,league,home,away,p_home") and len(lines) == 13

    # one bad price: its book is left out of its row, with a note; every row is predicted
    text = path.read_text().splitlines()
    cells = text[1].split(",")
    cells[text[0].split(",").index("PSH")] = "abc"
    text[1] = ",".join(cells)
    path.write_text("\n".join(text) + "\n")
    assert main(["predict", "--fixtures", str(path), "--json"]) == 0
    captured = capsys.readouterr()
    records = json.loads(captured.out)
    assert len([r for r in records if not r["error"]]) == 10
    assert records[0]["notes"] == "PSH/PSD/PSA ignored: 'abc' is not a decimal price"
    assert f"{path}:2: " in captured.err and "note: PSH/PSD/PSA ignored" in captured.err


def test_predict_fixtures_usage_errors(capsys):
    for argv in (["predict"], ["predict", "--fixtures", "f.csv", "--home", "Arsenal"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    assert "--fixtures" in capsys.readouterr().err


def test_a_new_user_trains_e0_then_e1_and_predicts_both(embedded, capsys):
    """Issue 19's "done when", as typed: the served model reaches date_to, and each league's
    active model serves its fixtures without --model."""
    args = ["train", "--type", "full", "--league", "E0", "--date-to", "2025-05-18", "--wait"]
    assert main(args) == 0
    assert "activated: no 'full' model of E0 was active" in capsys.readouterr().out
    assert main(["predict", "--home", "Ipswich", "--away", "Arsenal", "--json"]) == 0
    e0 = json.loads(capsys.readouterr().out)["model_version"]
    assert main(["models", "--json"]) == 0
    (model,) = json.loads(capsys.readouterr().out)
    assert model["data_to"].startswith("2025-05") and model["training_leagues"] == ["E0"]
    assert model["version"] == e0 and model["training_matches"] == 3787
    assert main(["predict", "--home", "Leeds", "--away", "Burnley"]) == 1
    assert "active 'full' models cover E0" in capsys.readouterr().err

    assert main(["train", "--type", "full", "--league", "E1", "--wait"]) == 0
    capsys.readouterr()
    for home, away in (("Arsenal", "Chelsea"), ("Leeds", "Burnley")):
        assert main(["predict", "--home", home, "--away", away, "--json"]) == 0
        p = json.loads(capsys.readouterr().out)
        assert abs(p["home_win"] + p["draw"] + p["away_win"] - 1) < 1e-9
    assert p["model_version"] != e0
    assert main(["models", "--status", "active"]) == 0
    listing = capsys.readouterr().out
    assert "data to" in listing and "2025-05-18 E0" in listing and "2025-05-03 E1" in listing

    # --activate never: a candidate, shown, compared, activatable by hand
    args = ["train", "--type", "full", "--league", "E0", "--date-to", "2025-05-18"]
    assert main([*args, "--activate", "never", "--xi", "0.004", "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["message"].startswith(f"model {run['model_version']} is a candidate")
    assert main(["models", "--status", "candidate", "--json"]) == 0
    (candidate,) = json.loads(capsys.readouterr().out)
    assert candidate["version"] == run["model_version"] and candidate["status"] == "completed"
    assert main(["models", "show", candidate["version"]]) == 0
    shown = capsys.readouterr().out
    assert "(full, candidate)" in shown and "fitted on 3787 matches" in shown
    assert "calibration (held-out" in shown and "kept as a candidate" in shown
    assert main(["models", "compare", e0, candidate["version"], "--json"]) == 0
    compared = json.loads(capsys.readouterr().out)
    assert compared["paired"]["n"] == model["validation_matches"]  # the same held-out matches
    assert compared["hyperparameters"]["xi"]["same"] is False
    assert main(["models", "compare", e0, candidate["version"]]) == 0
    assert "paired on the" in capsys.readouterr().out
    assert main(["models", "show", "nope"]) == 1
    assert "no model has version 'nope'" in capsys.readouterr().err


def test_without_a_full_model_predict_names_the_active_models_of_other_types(embedded, capsys):
    """A user who trained a poisson model and asks for a prediction is told which version
    to ask for; the engine and the fast reader of the embedded file agree."""
    import asyncio

    from server.base.config import Settings
    from server.store import reads
    from server.store.connect import open_database
    from server.store.lite import LiteReader

    assert main(["train", "--type", "poisson", "--league", "E0", *SEASONS, "--json"]) == 0
    version = json.loads(capsys.readouterr().out)["model_version"]
    assert main(["predict", "--home", "Arsenal", "--away", "Chelsea"]) == 1
    err = capsys.readouterr().err
    assert "there is no active 'full' model: train one first; or ask for an active model" in err
    assert f"{version} (poisson, E0)" in err
    assert main(["predict", "--home", "Arsenal", "--away", "Chelsea", "--model", version]) == 0

    async def both() -> tuple[object, object]:
        engine = await open_database(settings)
        try:
            through_engine = await reads.active_versions(engine)
        finally:
            await engine.dispose()
        reader = LiteReader.open(settings.database_url)
        assert reader is not None
        try:
            return through_engine, await reads.active_versions(reader)
        finally:
            reader.close()

    settings = Settings.from_env()
    through_engine, through_reader = asyncio.run(both())
    assert through_engine == through_reader == [(version, "poisson", "E0")]
