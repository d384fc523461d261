"""The fpe command line on real files: output shapes, exit codes, messages."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from server.cli import main


@pytest.fixture(scope="module")
def e0_files(request):
    folder = request.getfixturevalue("football_data_dir")
    return [str(p) for p in sorted(folder.glob("*/E0.csv"))]


def test_backtest_json_has_model_market_and_paired_difference(e0_files, capsys):
    assert main(["backtest", *e0_files, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 3420  # nine seasons after the one-year burn-in
    for side in ("model", "market"):
        assert set(out[side]) >= {"rps", "log_loss", "brier", "accuracy"}
        assert 0.15 < out[side]["rps"] < 0.25
    assert out["rps_diff"] == pytest.approx(out["model"]["rps"] - out["market"]["rps"])
    assert 0 < out["rps_diff_se"] < 0.01
    assert sum(out["market_sources"].values()) == out["n"]
    assert out["leagues"] == ["E0"]
    # the pre-match market is the benchmark, one source; closing is the ceiling
    assert out["market_kind"] == "pre" and out["market_source"] in ("pinnacle_pre", "avg_pre")
    assert out["n"] + out["matches_without_market"] == out["matches_predicted"]
    assert out["ceiling"]["market_source"] == "pinnacle_close"
    assert out["ceiling"]["market"]["rps"] < out["market"]["rps"]
    for name in ("dixon_coles", "market_implied"):
        c = out["components"][name]
        assert c["rps_diff"] == pytest.approx(c["rps"] - out["market"]["rps"])
    assert set(out["pool_weights"]) == {"dixon_coles", "market_implied"}


def test_backtest_against_the_closing_market(e0_files, capsys):
    assert main(["backtest", *e0_files[-3:], "--market", "close", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["market_kind"] == "close" and out["market_source"] == "pinnacle_close"
    assert "ceiling" not in out


def test_backtest_rejects_an_unknown_market(e0_files, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["backtest", *e0_files[-2:], "--market", "open"])
    assert exc.value.code == 2
    assert "invalid choice: 'open'" in capsys.readouterr().err


def test_backtest_table_and_per_match_sources(e0_files, tmp_path, capsys):
    target = tmp_path / "predictions.csv"
    assert (
        main(
            [
                "backtest",
                *e0_files[-3:],
                "--refit-days",
                "14",
                "--xi",
                "0.002",
                "--predictions",
                str(target),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "RPS engine - pre-match market" in text and "from pinnacle_pre" in text
    assert "ceiling, closing market (pinnacle_close" in text
    lines = target.read_text().splitlines()
    assert lines[0].endswith("market_source")
    assert len(lines) > 700


def test_fit_json_is_the_registry_shape(e0_files, capsys):
    assert main(["fit", e0_files[-1], "--json"]) == 0
    model = json.loads(capsys.readouterr().out)
    assert len(model["team_strengths"]) == 20
    assert model["fit"]["converged"] is True
    assert set(model) >= {"team_strengths", "home_advantage", "rho", "decay_rate"}


def test_fit_table(e0_files, capsys):
    assert main(["fit", e0_files[-1]]) == 0
    assert "Liverpool" in capsys.readouterr().out


def test_missing_path_is_a_clear_error(tmp_path, capsys):
    assert main(["backtest", str(tmp_path / "nowhere.csv")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fpe: error:") and "nowhere.csv" in err and "Traceback" not in err


def test_unreadable_file_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "E0.csv"
    bad.write_bytes(b"Div;Date;HomeTeam;AwayTeam;FTHG;FTAG\nE0;01/01/20;A;B;1;0\n")
    assert main(["fit", str(bad)]) == 1
    assert "delimiter" in capsys.readouterr().err


def test_bad_rows_are_reported_with_file_and_line(tmp_path, capsys):
    csv = tmp_path / "E0.csv"
    csv.write_text(
        "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR\n"
        "E0,10/08/2024,A,B,1,0,H\nE0,11/08/2024,B,A,x,0,H\nE0,12/08/2024,A,C,2,2,D\n"
        "E0,13/08/2024,C,B,0,1,A\n"
    )
    assert main(["fit", str(csv)]) == 0
    err = capsys.readouterr().err
    assert f"{csv}:3: skipped:" in err and "FTHG" in err


def test_bad_option_values_exit_with_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["backtest", "x.csv", "--refit-days", "0"])
    assert info.value.code == 2
    assert "refit-days" in capsys.readouterr().err


def test_console_script_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "server.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and "backtest" in proc.stdout


def test_one_season_needs_a_shorter_burn_in(e0_files, capsys):
    assert main(["backtest", e0_files[-1]]) == 1
    assert "burn-in" in capsys.readouterr().err
    assert main(["backtest", e0_files[-1], "--burn-in-days", "60", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert 250 < out["n"] < 380
    assert out["settings"]["burn_in_days"] == 60
