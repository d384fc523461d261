"""fpe download against a local mirror of football-data.co.uk."""

from __future__ import annotations

import socket

import pytest

from core.errors import InvalidInputError
from server.store.download import DownloadError, download, season_code, validate_league


async def test_downloads_keep_the_raw_bytes(football_data_server, football_data_dir, tmp_path):
    paths = await download(football_data_server, tmp_path, ["E0", "D1"], ["2324", "2425"])
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "football-data/2324/E0.csv",
        "football-data/2324/D1.csv",
        "football-data/2425/E0.csv",
        "football-data/2425/D1.csv",
    ]
    for path in paths:
        original = football_data_dir / path.parent.name / path.name
        assert path.read_bytes() == original.read_bytes()
    assert not list(tmp_path.rglob("*.part"))


async def test_missing_file_is_a_clear_error_and_writes_nothing(football_data_server, tmp_path):
    with pytest.raises(DownloadError, match=r"no file for E0 9900: .*404"):
        await download(football_data_server, tmp_path, ["E0"], ["2425", "9900"])
    assert not (tmp_path / "football-data").exists()  # the good file was not kept either


async def test_server_error_is_a_clear_error(football_data_server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 500"):
        await download(f"{football_data_server}/broken", tmp_path, ["E0"], ["2425"])


async def test_unreachable_host_is_a_clear_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(DownloadError, match=f"cannot fetch http://127.0.0.1:{port}/2425/E0.csv"):
        await download(f"http://127.0.0.1:{port}", tmp_path, ["E0"], ["2425"], timeout=3)


@pytest.mark.parametrize(
    ("text", "code"), [("2324", "2324"), ("2023/24", "2324"), ("2023", "2324"), ("9900", "9900")]
)
def test_season_codes(text, code):
    assert season_code(text) == code


@pytest.mark.parametrize("text", ["23", "2325", "abcd", "2023/25", ""])
def test_bad_season_codes(text):
    with pytest.raises(InvalidInputError, match="season"):
        season_code(text)


def test_league_codes():
    assert validate_league("e0") == "E0"
    assert validate_league("SP1") == "SP1"
    with pytest.raises(InvalidInputError, match="league"):
        validate_league("../etc")


async def test_a_body_over_the_size_limit_is_refused_and_writes_nothing(
    football_data_server, tmp_path, monkeypatch
):
    monkeypatch.setenv("FPE_MAX_FILE_BYTES", "170000")  # D1 2425: 156,414 bytes, E0: 197,110
    with pytest.raises(DownloadError, match=r"E0\.csv is larger than 170,000 bytes, the limit"):
        await download(football_data_server, tmp_path, ["D1", "E0"], ["2425"])
    assert list(tmp_path.iterdir()) == []  # no file, no .part, no folder


async def test_an_endless_body_without_a_length_is_cut_at_the_limit(tmp_path, monkeypatch):
    """A server that never stops sending (no Content-Length) is read up to the limit only."""
    import httpx

    sent = []

    async def endless():
        while True:
            sent.append(65536)
            yield b"Div,Date," * 7282

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=endless()))
    monkeypatch.setenv("FPE_MAX_FILE_BYTES", "1000000")
    with pytest.raises(DownloadError, match="larger than 1,000,000 bytes"):
        await download("http://mirror", tmp_path, ["E0"], ["2425"], transport=transport)
    assert sum(sent) < 2_000_000 and list(tmp_path.iterdir()) == []
