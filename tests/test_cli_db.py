"""fpe db / ingest / download: exit codes, messages, the embedded default and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from server.cli import main
from server.store import migrations
from tests.test_footballdata import EXPECTED_ROWS

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


# --- large and special files ----------------------------------------------------------------


def test_devices_fifos_and_oversized_files_are_refused_by_name(
    embedded, football_data_dir, tmp_path, monkeypatch, capsys
):
    """``fpe ingest /dev/zero`` read until the OOM killer stopped it at 23 GB."""
    import os

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)  # opening it would wait for a writer
    good = str(football_data_dir / "2425" / "D1.csv")
    assert main(["ingest", "/dev/zero", str(fifo), good]) == 1
    captured = capsys.readouterr()
    assert (
        "/dev/zero: FAILED, nothing written: cannot read /dev/zero: it is a character device, "
        "not a regular file"
    ) in captured.out
    assert f"{fifo}: FAILED, nothing written: cannot read {fifo}: it is a named pipe" in (
        captured.out
    )
    assert "D1 2425: read 306, inserted 306" in captured.out
    monkeypatch.setenv("FPE_MAX_FILE_BYTES", "100000")
    assert main(["ingest", good]) == 1
    out = capsys.readouterr().out
    assert "it is larger than 100,000 bytes, the limit set by FPE_MAX_FILE_BYTES" in out


def test_out_of_memory_is_one_error_line(embedded, tmp_path, monkeypatch, capsys):
    """A 1,000,000-row file ended in MemoryError with a full traceback."""
    from server.store import ingest

    async def exhausted(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(ingest, "ingest_paths", exhausted)
    assert main(["ingest", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fpe: error: out of memory in `fpe ingest`: the input is too large")
    assert "Traceback" not in err


# --- concurrent ingests on PostgreSQL -------------------------------------------------------


def _fpe(env: dict[str, str], *args: str, **kwargs: object):
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "server.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


async def _upgraded(database_url) -> str:
    from server.store.db import create_engine

    url = await database_url("postgresql")
    engine = create_engine(url)
    await migrations.upgrade(engine)
    await engine.dispose()
    return url


async def _table_counts(url: str) -> dict[str, int]:
    import sqlalchemy as sa

    from server.store.db import create_engine

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return {
                table: (await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one()
                for table in ("leagues", "teams", "matches", "match_odds")
            }
    finally:
        await engine.dispose()


async def test_two_ingests_of_the_same_files_at_once_both_succeed(
    database_url, football_data_dir, tmp_path
):
    """Both exited 1 with "duplicate key value violates unique constraint uq_matches_fixture"
    for 9-10 files each."""
    import asyncio
    import os

    from server.store.db import create_engine
    from server.store.ingest import ingest_paths

    files = [str(football_data_dir)]  # all 70 files: the old code failed on several
    shared, alone = await _upgraded(database_url), await _upgraded(database_url)
    env = {**os.environ, "FPE_DATABASE_URL": shared, "FPE_DATA_DIR": str(tmp_path)}
    procs = [_fpe(env, "ingest", *files) for _ in range(2)]
    results = [await asyncio.to_thread(p.communicate, timeout=600) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, out + err
        assert "failed files 0" in out and "Traceback" not in err
    engine = create_engine(alone)
    reports = await ingest_paths(engine, files)  # one ingest on its own, for comparison
    await engine.dispose()
    assert all(r.ok for r in reports)
    single = await _table_counts(alone)
    assert await _table_counts(shared) == single
    expected = sum(sum(counts) for counts in EXPECTED_ROWS.values())
    assert single["matches"] == sum(r.inserted for r in reports) == expected
    inserted = [
        int(out.rsplit("inserted ", 1)[1].split(",")[0]) for out, _ in results
    ]  # the totals line of each: between them every match is inserted once
    assert sum(inserted) == single["matches"]


async def test_an_ingest_waits_for_another_and_says_so(database_url, football_data_dir, tmp_path):
    import asyncio
    import os

    import asyncpg

    from server.store.ingest import INGEST_LOCK

    url = await _upgraded(database_url)
    holder = await asyncpg.connect(url.replace("+asyncpg", ""))
    transaction = holder.transaction()
    await transaction.start()
    await holder.execute("SELECT pg_advisory_xact_lock($1)", INGEST_LOCK)  # another ingest
    env = {**os.environ, "FPE_DATABASE_URL": url, "FPE_DATA_DIR": str(tmp_path)}
    e0 = str(football_data_dir / "2425" / "E0.csv")
    proc = _fpe(env, "ingest", e0)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(proc.stderr.readline), timeout=300)
        assert line.startswith(f"fpe: {e0}: waiting for another ingest to finish writing")
    finally:
        await transaction.rollback()
        await holder.close()
    out, err = await asyncio.to_thread(proc.communicate, timeout=300)
    assert proc.returncode == 0, out + err
    assert "E0 2425: read 380, inserted 380" in out
