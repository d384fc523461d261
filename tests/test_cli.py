"""The fpe command line on real files: output shapes, exit codes, messages."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from server.cli import main


@pytest.fixture(scope="module")
def e0_files(request):
    folder = request.getfixturevalue("football_data_dir")
    return [str(p) for p in sorted(folder.glob("*/E0.csv"))]


def test_backtest_with_a_one_season_league_forecasts_the_others_and_names_it(
    e0_files, football_data_dir, capsys
):
    # D1 2024/25 alone is all burn-in: the run goes on with E0 and says D1 was not forecast
    d1 = str(football_data_dir / "2425" / "D1.csv")
    assert main(["backtest", *e0_files, d1, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 3420  # E0's alone
    assert (out["leagues"], out["leagues_without_forecast"]) == (["E0"], ["D1"])


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
    assert out["market_kind"] == "pre" and out["market_source"] in (
        "pinnacle_pre",
        "avg_pre",
        "bbav_pre",
    )
    assert out["n"] + out["matches_without_market"] == out["matches_predicted"]
    # every candidate source says how many matches it lacks; the chosen one lacks fewest
    lacking = out["matches_without_source"]
    assert set(lacking) == {"pinnacle_pre", "avg_pre", "bbav_pre"}
    assert lacking[out["market_source"]] == out["matches_without_market"] == min(lacking.values())
    assert lacking["avg_pre"] > 0 and lacking["bbav_pre"] > 0  # one era each
    # the two best prices across books are two sources, bet at each on its own: football-
    # data's maximum from 2019/20, BetBrain's before; every match has exactly one of them
    bets = out["betting"]["sources"]
    new, old = bets["max_pre"], bets["bbmax_pre"]
    assert new["matches_priced"] > 0 and old["matches_priced"] > 0
    assert new["matches_priced"] + old["matches_priced"] == (
        new["matches_priced"] + new["matches_without_prices"]
    )
    assert out["ceiling"]["market_source"] == "pinnacle_close"
    assert set(out["ceiling"]["matches_without_source"]) == {"pinnacle_close", "avg_close"}
    assert out["ceiling"]["market"]["rps"] < out["market"]["rps"]
    for name in ("dixon_coles", "market_implied"):
        c = out["components"][name]
        assert c["rps_diff"] == pytest.approx(c["rps"] - out["market"]["rps"])
    # the files carry shots on target: the last match's are the pool's third component; the
    # fourth is the draw intercept
    names = ["dixon_coles", "market_implied", "last_shots", "draw_intercept"]
    assert list(out["pool_weights"]) == names


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


def test_backtest_with_odds_scores_the_combination_against_its_own_price_source(
    e0_files, tmp_path, capsys
):
    target = tmp_path / "predictions.csv"
    argv = ["backtest", *e0_files[-4:], "--market", "pre", "--with-odds", "--json"]
    assert main([*argv, "--predictions", str(target)]) == 0
    out = json.loads(capsys.readouterr().out)
    w = out["with_odds"]
    assert w["market_source"] == out["market_source"]
    assert w["n"] == out["n"]
    assert w["rps_diff"] == pytest.approx(w["model"]["rps"] - out["market"]["rps"])
    assert 0 < w["rps_diff_se"] < 0.001
    names = ["price", "market_implied", "dixon_coles", "last_shots", "draw_intercept"]
    assert list(w["weights_last"]) == names
    for bets in (out["betting"], w["betting"]):  # ROI, Kelly growth and CLV, per source
        overall = bets["sources"]["max_pre"]["overall"]
        assert overall["bets"] > 0 and len(overall["roi_ci"]) == 2
        assert set(bets["sources"]["max_pre"]["leagues"]) == {"E0"}
    frame = pd.read_csv(target)
    assert {"result", "model_draw", "with_odds_home", "with_odds_draw"} <= set(frame.columns)
    priced = frame["market_home"].notna()
    np.testing.assert_allclose(
        frame.loc[priced, ["with_odds_home", "with_odds_draw", "with_odds_away"]].sum(axis=1), 1
    )
    # until 300 earlier matches exist the combination is the price itself
    np.testing.assert_allclose(frame.loc[priced, "with_odds_home"].iloc[:200],
                               frame.loc[priced, "market_home"].iloc[:200])  # fmt: skip


def test_backtest_with_odds_on_files_without_shots_names_the_weights_it_has(
    e0_files, tmp_path, capsys
):
    paths = []
    for i, path in enumerate(e0_files[-3:]):
        frame = pd.read_csv(path, encoding="utf-8-sig")
        paths.append(tmp_path / f"{i}.csv")
        frame.drop(columns=["HST", "AST"]).to_csv(paths[-1], index=False)
    assert main(["backtest", *map(str, paths), "--with-odds", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["pool_weights"]) == ["dixon_coles", "market_implied", "draw_intercept"]
    names = ["price", "market_implied", "dixon_coles", "draw_intercept"]
    assert list(out["with_odds"]["weights_last"]) == names


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


@pytest.mark.parametrize(
    "command",
    [["fit"], ["backtest"], ["predict", "--fixtures"]],
    ids=["fit", "backtest", "predict-fixtures"],
)
def test_special_and_oversized_files_are_refused_by_every_reader(
    command, tmp_path, monkeypatch, capsys
):
    """``/dev/zero`` was read until the OOM killer came; a FIFO waited for a writer."""
    import os

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    big = tmp_path / "big.csv"
    big.write_text("Div,Date,HomeTeam,AwayTeam,FTHG,FTAG\n" + "E0,10/08/2024,A,B,1,0\n" * 100)
    monkeypatch.setenv("FPE_MAX_FILE_BYTES", "1000")
    cases = [
        ("/dev/zero", "cannot read /dev/zero: it is a character device, not a regular file"),
        (str(fifo), f"cannot read {fifo}: it is a named pipe (FIFO), not a regular file"),
        (str(big), f"cannot read {big}: it is larger than 1,000 bytes, the limit set by FPE_MAX"),
    ]
    for path, message in cases:
        assert main([*command, path]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"fpe: error: {message}") and "Traceback" not in err


def test_bad_rows_are_reported_with_file_and_line(tmp_path, capsys):
    csv = tmp_path / "E0.csv"
    csv.write_text(
        "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR\n"
        "E0,10/08/2024,A,B,1,0,H\nE0,11/08/2024,B,A,x,0,H\nE0,12/08/2024,A,C,2,2,D\n"
        "E0,13/08/2024,C,B,0,1,A\nE0,14/08/2024,B,C,2,1,H\nE0,15/08/2024,C,A,1,1,D\n"
        "E0,16/08/2024,B,A,0,1,A\n"
    )
    assert main(["fit", str(csv)]) == 0
    err = capsys.readouterr().err
    assert f"{csv}:3: skipped:" in err and "FTHG" in err


def test_bad_option_values_exit_with_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["backtest", "x.csv", "--refit-days", "0"])
    assert info.value.code == 2
    assert "refit-days" in capsys.readouterr().err


def test_usage_errors_exit_2_and_name_the_flags(capsys):
    for argv, expected in [
        (["models", "--type", "bogus"], "invalid choice: 'bogus'"),
        (["runs", "--status", "done"], "invalid choice: 'done'"),
        (["runs", "--status", "active"], "invalid choice: 'active'"),  # a model's state
        (["models", "--status", "queued"], "invalid choice: 'queued'"),  # a run's state
        (["train", "--league", "E0", "--date-from", "2024-13-01"], "--date-from"),
        (
            ["train", "--league", "E0", "--date-from", "2024-05-01", "--date-to", "2023-05-01"],
            "--date-from 2024-05-01 is after --date-to 2023-05-01",
        ),
        (["evaluate", "--league", "E0!"], "not a football-data.co.uk code"),
    ]:
        with pytest.raises(SystemExit) as info:
            main(argv)
        err = capsys.readouterr().err
        assert info.value.code == 2, argv
        assert expected in err and "date_from" not in err and "Traceback" not in err


def test_service_messages_name_the_flags():
    from server.cli.common import flag_names as _flag_names

    assert _flag_names("date_from 2024-01-01 is after date_to 2023-01-01") == (
        "--date-from 2024-01-01 is after --date-to 2023-01-01"
    )
    assert _flag_names("bad hyperparameter: validation_share must be") == (
        "bad hyperparameter: --validation-share must be"
    )


def test_parser_choices_mirror_the_core():
    """The parser keeps its own copies so that ``fpe --help`` imports nothing heavy."""
    from core.backtest import DEFAULT_L2, DEFAULT_XI
    from core.odds import METHODS
    from core.pipeline import MODEL_TYPES
    from server.cli import values as cli
    from server.store.tables import ModelStatus

    assert tuple(MODEL_TYPES) == cli.MODEL_TYPES
    assert set(cli.MARGIN_METHODS) == set(METHODS)
    assert (cli.DEFAULT_XI, cli.DEFAULT_L2) == (DEFAULT_XI, DEFAULT_L2)
    from core.forecast import MARKET_L2, MARKET_XI

    assert (cli.MARKET_XI, cli.MARKET_L2) == (MARKET_XI, MARKET_L2)
    from server.runs.runstate import PHASE

    assert set(cli.RUN_STATES) == {s.value for s in PHASE}
    assert set(cli.MODEL_STATES) == {s.value for s in ModelStatus} - set(cli.RUN_STATES)


def test_help_and_version_import_nothing_heavy():
    code = (
        "import sys\n"
        "from server.cli import main\n"
        "for argv in (['--help'], ['--version'], ['models', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = {'numpy', 'pandas', 'lightgbm', 'strawberry', 'sqlalchemy'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().endswith("[]"), proc.stdout


LOADED = (
    "import runpy, sys\n"
    "sys.argv = ['fpe', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('server.cli', run_name='__main__')\n"
    "except SystemExit as exc:\n"
    "    assert not exc.code, exc.code\n"
    "heavy = {'pandas', 'lightgbm', 'sklearn', 'scipy', 'sqlalchemy',\n"
    "         'strawberry', 'redis', 'arq'}\n"
    "print(sorted(heavy & set(sys.modules)), file=sys.stderr)\n"
)


def loaded_by(*argv: str) -> list[str]:
    """The heavy modules an ``fpe`` command loads, run in a fresh process."""
    import ast

    proc = subprocess.run(
        [sys.executable, "-c", LOADED, *argv], capture_output=True, text=True, check=True
    )
    return ast.literal_eval(proc.stderr.strip().splitlines()[-1])


def test_price_loads_no_database_pandas_or_model_code():
    """``fpe price`` answers from the odds alone: a fast start (docs/performance.md)."""
    assert loaded_by("price", "--odds", "2.1", "3.4", "3.6") == []


def test_version_is_the_package_version():
    from importlib.metadata import version

    command = [sys.executable, "-m", "server.cli", "--version"]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"fpe {version('football-probability-engine')}"


def test_a_closed_pipe_ends_quietly(e0_files):
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "fit", "--json", e0_files[-1]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # like `| head` that has read enough
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err


def test_backtest_shows_progress_on_a_terminal(e0_files, monkeypatch, capsys):
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    fake = Terminal()
    monkeypatch.setattr(sys, "stderr", fake)
    assert main(["backtest", e0_files[-1], "--burn-in-days", "60"]) == 0
    assert "backtest [" in fake.getvalue() and "100.0%" in fake.getvalue()


def test_console_script_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "server.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and "backtest" in proc.stdout


def test_each_command_is_summarised_by_its_module_docstring():
    from server.cli import COMMANDS, build_parser

    choices = build_parser()._subparsers._group_actions[0].choices
    for module in COMMANDS:
        name = module.__name__.rpartition(".")[2]
        summary = module.__doc__.split("\n\n")[0].split(": ", 1)[1]
        assert module.__doc__.startswith(f"``fpe {name}``: ")
        assert choices[name].description == textwrap.fill(" ".join(summary.split())[:-1], 79)


def test_one_season_needs_a_shorter_burn_in(e0_files, capsys):
    assert main(["backtest", e0_files[-1]]) == 1
    assert "burn-in" in capsys.readouterr().err
    assert main(["backtest", e0_files[-1], "--burn-in-days", "60", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert 250 < out["n"] < 380
    assert out["settings"]["burn_in_days"] == 60


def test_price_from_odds_alone_json_and_table(capsys):
    assert (
        main(["price", "--odds", "2.1", "3.5", "3.6", "--over-under", "1.9", "1.95", "--json"]) == 0
    )
    p = json.loads(capsys.readouterr().out)
    grid = np.array(p["score_grid"])
    x, y = np.indices(grid.shape)
    assert abs(grid[x > y].sum() - p["home_win"]) < 1e-9
    assert abs(grid[x == y].sum() - p["draw"]) < 1e-9
    assert abs(grid[x + y > 2.5].sum() - p["totals"]["2.5"]["over"]) < 1e-9
    assert p["home_win"] > p["away_win"] and -0.3 < p["rho"] < 0.3
    assert set(p["asian_handicap"]) >= {"-0.5", "+0", "-1"}
    assert main(["price", "--odds", "2.1", "3.5", "3.6"]) == 0
    out = capsys.readouterr().out
    assert "score grid" in out and "rho +0.0000" in out


def test_price_with_bad_or_impossible_odds_is_a_one_line_error(capsys):
    assert main(["price", "--odds", "2.1", "0.9", "3.6"]) == 1
    assert "0.9 is outside the decimal odds range [1.01, 1000]" in capsys.readouterr().err
    # a 202 % book is no book's prices: refused, not priced
    assert main(["price", "--odds", "1.2", "1.5", "1.9"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fpe: error: the 1X2 odds: the prices 1.2 1.5 1.9 add up to a 202.6 %")
    assert main(["price", "--odds", "2.1", "3.5", "3.6", "--over-under", "1.2", "1.3"]) == 1
    assert "the over/under odds" in capsys.readouterr().err
    assert main(["price", "--odds", "1.2", "9", "15", "--over-under", "1.01", "12"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fpe: error: no Dixon-Coles score grid") and "Traceback" not in err


def test_fit_on_data_that_do_not_identify_the_model_names_the_team(tmp_path, capsys):
    path = tmp_path / "E0.csv"
    rows = ["Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR"]
    games = [("A", "B", 1, 0), ("B", "C", 2, 1), ("C", "A", 0, 1), ("B", "A", 0, 2)]
    for day, (h, a, x, y) in enumerate(games, start=1):
        rows.append(f"E0,{day:02d}/08/2024,{h},{a},{x},{y},{'HDA'[(x < y) + (x <= y)]}")
    path.write_text("\n".join(rows) + "\n")
    assert main(["fit", str(path)]) == 1
    assert "team 'A' never concedes" in capsys.readouterr().err
