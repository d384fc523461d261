"""Reading a data file safely: a regular file of bounded size, decoded and split into lines
a block at a time, so that memory is bounded by the block, not by the file.

* :func:`open_data_file` refuses anything but a regular file (``/dev/zero``, a FIFO, a
  socket, a directory) before reading a byte of it, and a file larger than
  ``FPE_MAX_FILE_BYTES`` (:func:`server.base.config.max_file_bytes`).  The size is checked
  again while reading, for files that grow or that report no size.
* :func:`sniff_encoding` picks UTF-8 (BOM optional), else cp1252, else latin-1 for the whole
  file in one pass over its bytes, and refuses binary data (NUL bytes).
* :func:`iter_lines` yields each physical line (``\\r\\n``, ``\\r`` and ``\\n`` all end a
  line) without its line break.

Errors are :class:`SourceError`; the format parsers re-raise them as their own.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import stat
from collections.abc import Iterator
from typing import BinaryIO

from core.errors import InvalidInputError
from server.base.config import max_file_bytes

__all__ = [
    "BLOCK_BYTES",
    "BoundedReader",
    "SourceError",
    "check_text",
    "decode_bytes",
    "iter_lines",
    "open_data_file",
    "read_data_file",
    "sniff_encoding",
]

BLOCK_BYTES = 1 << 20
"""How much of a file is read at a time."""

_TEXT_SAMPLE = 65536
_MAX_CONTROL_SHARE = 0.01
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")


class SourceError(InvalidInputError):
    """A file that cannot be read at all."""


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_a_file(source: str, mode: int) -> SourceError:
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    return SourceError(f"cannot read {source}: it is {kind}, not a regular file")


def _too_large(source: str, limit: int) -> SourceError:
    return SourceError(
        f"cannot read {source}: it is larger than {limit:,} bytes, the limit set by "
        "FPE_MAX_FILE_BYTES"
    )


class BoundedReader(io.RawIOBase):
    """A binary file that raises :class:`SourceError` once more than ``limit`` bytes have
    been read from it (a file can grow after its size was checked)."""

    def __init__(self, raw: BinaryIO, source: str, limit: int) -> None:
        super().__init__()
        self._raw, self._source, self._limit, self._read = raw, source, limit, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        position = self._raw.seek(offset, whence)
        self._read = position
        return position

    def tell(self) -> int:
        return self._raw.tell()

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        self._read += len(data)
        if self._read > self._limit:
            raise _too_large(self._source, self._limit)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_data_file(path: str | os.PathLike[str], limit: int | None = None) -> BinaryIO:
    """Open ``path`` for reading as bytes if it is a regular file of at most ``limit``
    bytes (default ``FPE_MAX_FILE_BYTES``); raise :class:`SourceError` naming the reason.

    The path is checked before it is opened (opening a FIFO would wait for a writer) and the
    open file again (the path may have changed in between)."""
    source = os.fspath(path)
    limit = max_file_bytes() if limit is None else limit
    try:
        before = os.stat(source)
        if not stat.S_ISREG(before.st_mode):
            raise _not_a_file(source, before.st_mode)
        if before.st_size > limit:
            raise _too_large(source, limit)
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise SourceError(f"cannot read {source}: {exc.strerror or exc}") from None
    raw = os.fdopen(fd, "rb", buffering=0)
    opened = os.fstat(fd)
    if not stat.S_ISREG(opened.st_mode):
        raw.close()
        raise _not_a_file(source, opened.st_mode)
    return io.BufferedReader(BoundedReader(raw, source, limit), BLOCK_BYTES)


def read_data_file(path: str | os.PathLike[str], limit: int | None = None) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (see :func:`open_data_file`)."""
    source = os.fspath(path)
    with open_data_file(path, limit) as stream:
        try:
            return stream.read()
        except OSError as exc:
            raise SourceError(f"cannot read {source}: {exc.strerror or exc}") from None


def sniff_encoding(stream: BinaryIO, source: str) -> str:
    """The encoding of the whole of ``stream``: ``utf-8-sig`` when every byte decodes as
    UTF-8, else ``cp1252``, else ``latin-1``.  Reads to the end a block at a time and seeks
    back to the start; NUL bytes refuse the file."""
    decoders = {
        name: codecs.getincrementaldecoder(name)("strict") for name in ("utf-8-sig", "cp1252")
    }
    try:
        while block := stream.read(BLOCK_BYTES):
            if b"\x00" in block:
                raise SourceError(f"{source} is not a CSV text file (it contains NUL bytes)")
            for name, decoder in list(decoders.items()):
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    del decoders[name]
        for name, decoder in list(decoders.items()):
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                del decoders[name]
        stream.seek(0)
    except OSError as exc:
        raise SourceError(f"cannot read {source}: {exc.strerror or exc}") from None
    return next(iter(decoders), "latin-1")


def iter_lines(stream: BinaryIO, encoding: str, source: str) -> Iterator[str]:
    """Every physical line of ``stream`` decoded with ``encoding``, without its line break.

    Nothing is yielded before the first 64 KiB of text are checked for control characters:
    a file that is mostly not text is refused."""
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    try:
        head: list[str] | None = []  # the lines of the sample, None once it is checked
        size = 0
        for line in text:
            if head is None:
                yield line.rstrip("\r\n")
                continue
            head.append(line)
            size += len(line)
            if size >= _TEXT_SAMPLE:
                check_text("".join(head)[:_TEXT_SAMPLE], source)
                yield from (kept.rstrip("\r\n") for kept in head)
                head = None
        if head is not None:
            check_text("".join(head), source)
            yield from (kept.rstrip("\r\n") for kept in head)
    except OSError as exc:
        raise SourceError(f"cannot read {source}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SourceError(f"{source} changed while it was being read") from None
    finally:
        if not stream.closed:
            text.detach()  # leave the stream open: its owner closes it


def check_text(sample: str, source: str) -> None:
    """Refuse a file whose first 64 KiB of text are more than 1 % control characters."""
    sample = sample[:_TEXT_SAMPLE]
    if len(_CONTROL_RE.findall(sample)) > _MAX_CONTROL_SHARE * len(sample):
        raise SourceError(f"{source} is not a CSV text file (mostly non-text bytes)")


def decode_bytes(data: bytes, source: str) -> str:
    """``data`` decoded as UTF-8 (BOM optional), else cp1252, else latin-1; binary data
    (NUL bytes, mostly control characters) raises :class:`SourceError`."""
    if b"\x00" in data:
        raise SourceError(f"{source} is not a CSV text file (it contains NUL bytes)")
    text = ""
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    check_text(text, source)
    return text
