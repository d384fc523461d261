"""Fetch football-data.co.uk season files and keep their raw bytes in the data directory.

``<base>/<SEASON>/<DIV>.csv`` (``https://www.football-data.co.uk/mmz4281/2324/E0.csv``) is
saved as ``<data dir>/football-data/<SEASON>/<DIV>.csv``; the write is atomic, so an
interrupted download never leaves half a file, and a body is streamed to disk and refused
past ``FPE_MAX_FILE_BYTES``, so a runaway server cannot fill the memory.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import httpx

from core.errors import FPEError, InvalidInputError
from server.base.config import max_file_bytes

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


def _part_file(target: Path, created: list[Path]) -> tuple[Path, BinaryIO]:
    """A hidden ``.part`` file beside ``target``, open for writing; the folders made for it
    are added to ``created`` (removed again if the download fails)."""
    missing = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        created.append(folder)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    return Path(tmp), os.fdopen(fd, "wb")


async def _fetch(
    client: httpx.AsyncClient, url: str, target: Path, limit: int, created: list[Path]
) -> Path:
    """Stream ``url`` into a ``.part`` file beside ``target``, refusing a body over
    ``limit`` bytes as soon as it is known to be (Content-Length, else while reading)."""
    too_large = f"{url} is larger than {limit:,} bytes, the limit set by FPE_MAX_FILE_BYTES"
    async with client.stream("GET", url) as response:
        if response.status_code == 404:
            league, season = target.stem, target.parent.name
            raise DownloadError(f"no file for {league} {season}: {url} answered 404 Not Found")
        if response.status_code != 200:
            raise DownloadError(
                f"cannot fetch {url}: HTTP {response.status_code} {response.reason_phrase}"
            )
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise DownloadError(too_large)
        part, out = _part_file(target, created)
        size, text = 0, False
        try:
            with out:
                async for block in response.aiter_bytes():
                    size += len(block)
                    if size > limit:
                        raise DownloadError(too_large)
                    if not text and block.strip():
                        text = True
                        if block.lstrip()[:1] == b"<":  # an error page served with 200
                            raise DownloadError(
                                f"{url} returned an HTML page, not a CSV file: "
                                f"football-data.co.uk does not publish {target.stem} "
                                f"{target.parent.name}"
                            )
                    out.write(block)
            if not text:
                raise DownloadError(f"{url} returned an empty file")
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    return part


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

    All files are fetched (each into a hidden ``.part`` file, at most ``FPE_MAX_FILE_BYTES``
    bytes) before any is put in place, so a failure writes nothing.
    """
    pairs = [(validate_league(lg), season_code(s)) for s in seasons for lg in leagues]
    if not pairs:
        raise InvalidInputError("give at least one --league and one --season")
    limit = max_file_bytes()
    fetched: list[tuple[Path, Path]] = []
    created: list[Path] = []
    try:
        async with httpx.AsyncClient(
            timeout=timeout, follow_redirects=True, transport=transport
        ) as client:
            for league, season in pairs:
                url = f"{base_url.rstrip('/')}/{season}/{league}.csv"
                target = data_dir / "football-data" / season / f"{league}.csv"
                try:
                    part = await _fetch(client, url, target, limit, created)
                    fetched.append((part, target))
                except httpx.HTTPError as exc:
                    raise DownloadError(
                        f"cannot fetch {url}: {exc.__class__.__name__}: {exc}"
                    ) from exc
        for part, target in fetched:
            os.replace(part, target)
    except BaseException:
        for part, _ in fetched:
            part.unlink(missing_ok=True)
        for folder in reversed(created):
            with contextlib.suppress(OSError):  # not empty: someone else's files
                folder.rmdir()
        raise
    return [target for _, target in fetched]
