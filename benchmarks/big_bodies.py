"""What 200 MB request bodies cost a live ``fpe serve``: its peak resident memory (VmHWM)
before and after, for bodies declared with Content-Length and streamed chunked, one at a
time and eight at once (issue 18, item 4).

    python benchmarks/big_bodies.py [--checkout DIR] [--size-mb 200] [--at-once 8]

``--checkout`` serves another source tree (e.g. main before the limit) with this venv.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

MIB = 1024 * 1024


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _post(port: int, size: int, chunked: bool) -> str:
    """Send up to ``size`` bytes of body to /graphql; the status line, or how it ended."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    writer.write(
        f"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"{length}\r\n\r\n".encode()
    )
    block = b" " * MIB
    sent = 0
    try:
        while sent < size:
            writer.write((b"%x\r\n" % MIB + block + b"\r\n") if chunked else block)
            await writer.drain()
            sent += MIB
        if chunked:
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        status = (await reader.readline()).decode().strip() or "closed"
    except ConnectionError as exc:
        status = f"{type(exc).__name__} after {sent // MIB} MB sent"
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    return status


async def _round(port: int, pid: int, size: int, at_once: int, chunked: bool) -> None:
    before = _peak_mb(pid)
    statuses = await asyncio.gather(*(_post(port, size, chunked) for _ in range(at_once)))
    kind = "chunked" if chunked else "Content-Length"
    print(
        f"{at_once} x {size // MIB} MB {kind}: peak RSS {before:.0f} -> {_peak_mb(pid):.0f} MB "
        f"(+{_peak_mb(pid) - before:.0f}); {sorted(set(statuses))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--at-once", type=int, default=8)
    args = parser.parse_args()
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(args.checkout), "FPE_DATA_DIR": tempfile.mkdtemp()}
    for name in ("FPE_DATABASE_URL", "FPE_REDIS_URL"):
        env.pop(name, None)
    command = [sys.executable, "-m", "server.cli", "serve", "--port", str(port)]
    server = subprocess.Popen([*command, "--log-level", "error"], env=env, cwd=args.checkout)
    try:
        for _ in range(300):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            time.sleep(0.1)
        print(f"{args.checkout}: started, peak RSS {_peak_mb(server.pid):.0f} MB")
        size = args.size_mb * MIB
        for at_once in (1, args.at_once):
            for chunked in (False, True):
                asyncio.run(_round(port, server.pid, size, at_once, chunked))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
