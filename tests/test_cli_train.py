"""fpe train / runs / models / predict / evaluate / cancel / worker on the embedded setup."""

from __future__ import annotations

import json

import pytest

from server.cli import main

SEASONS = ["--season", "2122", "--season", "2223", "--season", "2324", "--season", "2425"]


@pytest.fixture
async def embedded(monkeypatch, seeded_url, tmp_path):
    monkeypatch.setenv("FPE_DATABASE_URL", await seeded_url("sqlite"))
    monkeypatch.setenv("FPE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FPE_REDIS_URL", raising=False)


def test_train_then_read_the_registry_and_predict(embedded, capsys):
    assert main(["train", "--type", "full", "--league", "E0", *SEASONS]) == 0
    out = capsys.readouterr().out
    assert "completed (full, 1520 matches)" in out and "is active" in out
    assert "market" in out and "RPS model - market" in out

    assert main(["runs", "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    assert run["status"] == "completed" and run["model_version"].startswith("full-")

    assert main(["models"]) == 0
    assert "active" in capsys.readouterr().out

    assert main(["predict", "--home", "Arsenal", "--away", "Chelsea", "--json"]) == 0
    p = json.loads(capsys.readouterr().out)
    assert abs(p["home_win"] + p["draw"] + p["away_win"] - 1) < 1e-9

    assert main(["predict", "--home", "Arsenal", "--away", "Chelsea"]) == 0
    assert "score grid" in capsys.readouterr().out

    assert main(["evaluate", "--league", "E0", "--season", "2425"]) == 0
    out = capsys.readouterr().out
    assert "RPS model - market" in out and "in-sample" in out


def test_bad_requests_are_one_line_errors(embedded, capsys):
    assert main(["train", "--type", "poisson", "--league", "XX"]) == 1
    assert "unknown league(s) XX" in capsys.readouterr().err
    assert main(["predict", "--home", "Arsenal", "--away", "Chelsea"]) == 1
    assert "no active 'full' model" in capsys.readouterr().err
    assert main(["cancel", "nope"]) == 1
    assert "no training run has task id 'nope'" in capsys.readouterr().err
    assert main(["worker"]) == 1
    assert "FPE_REDIS_URL is not set" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--type", "neural", "--league", "E0"])


def test_train_and_predict_a_draw_model(embedded, capsys):
    assert main(["train", "--type", "draw", "--league", "E0", *SEASONS]) == 0
    out = capsys.readouterr().out
    assert "completed (draw, 1520 matches)" in out
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
