"""Where the database and the data live, for ``fpe --help``.

Worked out from the environment by the rules of ``server.base.config.Settings`` and, for
the password, ``server.store.db.describe``, without importing them: they pull in the core
(numpy, pandas) and SQLAlchemy, which ``fpe --help`` must not wait for.
tests/test_cli.py checks that the two agree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["data_dir", "database", "where_things_live"]

# Settings' spellings of the two drivers (config.normalise_database_url)
_DRIVERS = (
    ("postgresql://", "postgresql+asyncpg://"),
    ("postgres://", "postgresql+asyncpg://"),
    ("sqlite:///", "sqlite+aiosqlite:///"),
)


def data_dir(env: Mapping[str, str]) -> Path:
    if env.get("FPE_DATA_DIR"):
        return Path(env["FPE_DATA_DIR"]).expanduser()
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "fpe"


def database(env: Mapping[str, str]) -> str:
    """The database URL the commands use, its password shown as ``***``."""
    url = env.get("FPE_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir(env) / 'fpe.sqlite3'}"
    for plain, driver in _DRIVERS:
        if url.startswith(plain):
            url = driver + url[len(plain) :]
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.split(":", 1)[0]
        url = parts._replace(netloc=f"{user}:***@{host}").geturl()
    return url


def where_things_live(env: Mapping[str, str] | None = None) -> str:
    """Two lines for the end of ``fpe --help``."""
    env = os.environ if env is None else env
    try:
        db, data = database(env), str(data_dir(env))
    except (RuntimeError, KeyError):  # no home directory to default to
        db = data = "unknown: set FPE_DATA_DIR"
    return (
        "where things live (from FPE_DATABASE_URL and FPE_DATA_DIR):\n"
        f"  database  {db}\n"
        f"  data      {data}  (downloads in football-data/<SEASON>/<DIV>.csv)"
    )
