"""fpe db / ingest / download: exit codes, messages, the embedded default and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from server.cli import main
from server.store import migrations

LATEST = migrations.load("postgresql")[-1].version


@pytest.fixture
def embedded(monkeypatch, tmp_path):
    monkeypatch.delenv("FPE_DATABASE_URL", raising=False)
    monkeypatch.setenv("FPE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
async def postgres(monkeypatch, database_url, tmp_path):
    url = await database_url("postgresql")
    monkeypatch.setenv("FPE_DATABASE_URL", url)
    monkeypatch.setenv("FPE_DATA_DIR", str(tmp_path / "data"))
    return url


def test_embedded_database_is_created_and_migrated_on_first_use(
    embedded, football_data_dir, capsys
):
    e0 = str(football_data_dir / "2425" / "E0.csv")
    assert main(["ingest", e0]) == 0
    out = capsys.readouterr().out
    assert "E0 2425: read 380, inserted 380, updated 0, unchanged 0, rejected 0" in out
    assert (embedded / "fpe.sqlite3").exists()
    assert main(["ingest", e0, "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert report["unchanged"] == 380 and report["inserted"] == 0
    assert main(["db", "status"]) == 0
    assert f"schema version {LATEST}, pending: none" in capsys.readouterr().out


def test_postgres_needs_an_explicit_upgrade(postgres, football_data_dir, capsys):
    e0 = str(football_data_dir / "2425" / "E0.csv")
    assert main(["ingest", e0]) == 1
    assert "run `fpe db upgrade`" in capsys.readouterr().err
    assert main(["db", "upgrade"]) == 0
    assert "applied 0001_initial" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert "applied" not in out and f"schema version {LATEST}" in out
    assert main(["ingest", e0]) == 0
    assert "inserted 380" in capsys.readouterr().out


def test_a_bad_file_fails_the_command_but_not_the_others(
    embedded, football_data_dir, tmp_path, capsys
):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\x01\x02binary")
    good = str(football_data_dir / "2425" / "D1.csv")
    assert main(["ingest", str(bad), good]) == 1
    captured = capsys.readouterr()
    assert "FAILED, nothing written" in captured.out and "not a CSV text file" in captured.out
    assert "D1 2425: read 306, inserted 306" in captured.out
    assert "Traceback" not in captured.err


def test_rejected_rows_are_listed_with_file_and_line(embedded, tmp_path, capsys):
    csv = tmp_path / "E0.csv"
    csv.write_text(
        "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG\nE0,10/08/2024,A,B,1,0\nE0,10/08/2024,C,D,x,0\n"
    )
    assert main(["ingest", str(csv)]) == 0
    captured = capsys.readouterr()
    assert f"{csv}:3: rejected:" in captured.err
    assert "inserted 1" in captured.out and "rejected 1" in captured.out


def test_download_then_ingest(embedded, football_data_server, monkeypatch, capsys):
    monkeypatch.setenv("FPE_DOWNLOAD_BASE_URL", football_data_server)
    assert main(["download", "--league", "E0", "--league", "SP1", "--season", "2324"]) == 0
    out = capsys.readouterr().out
    assert "E0 2324: read 380, inserted 380" in out and "SP1 2324: read 380" in out
    assert (embedded / "football-data" / "2324" / "E0.csv").exists()


def test_download_errors_are_messages(embedded, football_data_server, monkeypatch, capsys):
    monkeypatch.setenv("FPE_DOWNLOAD_BASE_URL", football_data_server)
    assert main(["download", "--league", "E0", "--season", "0102"]) == 1
    assert "404" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:  # a malformed option: a usage error
        main(["download", "--league", "E0", "--season", "twenty"])
    assert info.value.code == 2 and "not a season code" in capsys.readouterr().err


def test_bad_database_url_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setenv("FPE_DATABASE_URL", "mysql://root@localhost/x")
    assert main(["db", "status"]) == 1
    assert "FPE_DATABASE_URL" in capsys.readouterr().err


def test_unreachable_postgres_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setenv("FPE_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    assert main(["db", "upgrade"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fpe: error: database postgresql+asyncpg://postgres@127.0.0.1:1/none")


def test_a_20_digit_goal_count_is_a_rejected_row_and_later_files_go_in(embedded, tmp_path, capsys):
    """It raised OverflowError out of ``fpe ingest`` and the later files were lost."""
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(
        "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG\n"
        "E0,10/08/2024,A,B,1,0\n"
        "E0,10/08/2024,C,D,12345678901234567890,0\n"
    )
    second.write_text("Div,Date,HomeTeam,AwayTeam,FTHG,FTAG\nE0,17/08/2024,A,C,2,2\n")
    assert main(["ingest", str(first), str(second)]) == 0
    captured = capsys.readouterr()
    assert f"{first}:3: rejected: implausible goals: FTHG=12345678901234567890" in captured.err
    assert "Traceback" not in captured.err
    assert "inserted 1, updated 0, unchanged 0, rejected 1" in captured.out
    assert "2 files: inserted 2" in captured.out


def test_a_stray_quote_rejects_its_row_only(embedded, tmp_path, capsys):
    rows = [f"E0,{d:02d}/09/2024,H{d},A{d},1,0" for d in range(1, 21)]
    rows.insert(5, 'E0,09/08/2024,"Arsenal,Chelsea,1,0')
    csv = tmp_path / "E0.csv"
    csv.write_text("\n".join(["Div,Date,HomeTeam,AwayTeam,FTHG,FTAG", *rows]) + "\n")
    assert main(["ingest", str(csv)]) == 0
    captured = capsys.readouterr()
    assert f"{csv}:7: rejected: cannot split the row into cells, a stray quote?" in captured.err
    assert "read 21, inserted 20, updated 0, unchanged 0, rejected 1" in captured.out


def test_team_spelling_variants_are_reported(embedded, tmp_path, capsys):
    csv = tmp_path / "E0.csv"
    csv.write_text(
        "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG\n"
        "E0,10/08/2024,Arsenal,B,1,0\nE0,17/08/2024,B,arsenal,1,0\nE0,24/08/2024,Arsenal,C,1,0\n"
    )
    assert main(["ingest", str(csv)]) == 0
    err = capsys.readouterr().err
    assert f"{csv}: note: team 'arsenal' is taken as 'Arsenal' (case or spaces differ)" in err


def test_seed_without_internet_says_how_to_seed_offline(embedded, monkeypatch, capsys):
    monkeypatch.setenv("FPE_DOWNLOAD_BASE_URL", "http://127.0.0.1:1/mmz4281")
    monkeypatch.delenv("FPE_SEED_DIR", raising=False)
    assert main(["seed", "--league", "E0", "--season", "2425"]) == 1
    err = capsys.readouterr().err
    assert "fpe: error: cannot fetch" in err and "Traceback" not in err
    assert "--from DIR" in err and "FPE_SEED_DIR" in err
