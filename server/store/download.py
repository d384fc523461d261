"""Fetch football-data.co.uk season files and keep their raw bytes in the data directory.

``<base>/<SEASON>/<DIV>.csv`` (``https://www.football-data.co.uk/mmz4281/2324/E0.csv``) is
saved as ``<data dir>/football-data/<SEASON>/<DIV>.csv``; the write is atomic, so an
interrupted download never leaves half a file.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

import httpx

from core.errors import FPEError, InvalidInputError

__all__ = ["DownloadError", "download", "season_code", "validate_league"]

_LEAGUE = re.compile(r"^[A-Z]{1,3}[0-9]?$")


class DownloadError(FPEError):
    """A file could not be fetched; the message names the URL and the reason."""

    code = "BAD_GATEWAY"
    http_status = 502


def season_code(text: str) -> str:
    """Validate a season code such as ``2324`` (2023/24); ``2023`` and ``2023/24`` are
    accepted too."""
    value = text.strip()
    m = re.fullmatch(r"(\d{4})/(\d{2})", value)
    if m:
        value = m[1][2:] + m[2]
    elif re.fullmatch(r"(19|20)\d{2}", value) and value[2:] != "99":
        start = int(value[2:])
        value = f"{start:02d}{(start + 1) % 100:02d}"
    if not re.fullmatch(r"\d{4}", value) or (int(value[:2]) + 1) % 100 != int(value[2:]):
        raise InvalidInputError(
            f"season {text!r} is not a season code: use four digits such as 2324 for 2023/24"
        )
    return value


def validate_league(text: str) -> str:
    code = text.strip().upper()
    if not _LEAGUE.match(code):
        raise InvalidInputError(f"league {text!r} is not a football-data.co.uk code such as E0")
    return code


def _write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def download(
    base_url: str,
    data_dir: Path,
    leagues: Iterable[str],
    seasons: Iterable[str],
    *,
    timeout: float = 30.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[Path]:
    """Download every (league, season) pair; returns the saved paths in that order.

    All files are fetched before any is written, so a failure writes nothing.
    """
    pairs = [(validate_league(lg), season_code(s)) for s in seasons for lg in leagues]
    if not pairs:
        raise InvalidInputError("give at least one --league and one --season")
    fetched: list[tuple[Path, bytes]] = []
    async with httpx.AsyncClient(
        timeout=timeout, follow_redirects=True, transport=transport
    ) as client:
        for league, season in pairs:
            url = f"{base_url.rstrip('/')}/{season}/{league}.csv"
            try:
                response = await client.get(url)
            except httpx.HTTPError as exc:
                raise DownloadError(f"cannot fetch {url}: {exc.__class__.__name__}: {exc}") from exc
            if response.status_code == 404:
                raise DownloadError(f"no file for {league} {season}: {url} answered 404 Not Found")
            if response.status_code != 200:
                raise DownloadError(
                    f"cannot fetch {url}: HTTP {response.status_code} {response.reason_phrase}"
                )
            if not response.content.strip():
                raise DownloadError(f"{url} returned an empty file")
            fetched.append(
                (data_dir / "football-data" / season / f"{league}.csv", response.content)
            )
    for path, data in fetched:
        _write_atomic(path, data)
    return [path for path, _ in fetched]
