"""Configuration from the environment, read once at start-up.

=========================  ===============================================================
``FPE_DATABASE_URL``       ``postgresql+asyncpg://user@host/db`` in production; unset: an
                           embedded SQLite file ``<data dir>/fpe.sqlite3``
``FPE_DATA_DIR``           where the embedded database and downloaded files live; default
                           ``$XDG_DATA_HOME/fpe`` or ``~/.local/share/fpe``
``FPE_REDIS_URL``          Redis for arq workers and progress streams; unset: training runs
                           in-process (the embedded default)
``FPE_REDIS_PREFIX``       prefix of every Redis key and of the arq queue; default ``fpe``
``FPE_HEARTBEAT_SECONDS``  how often a running job writes its heartbeat; default 1
``FPE_STALE_SECONDS``      a run whose heartbeat is older is marked failed; default 30
``FPE_WRITE_RETRY_SECONDS`` how long a finished run's result is retried through a database
                           outage before the run fails with the database's error; default 60
``FPE_API_TOKEN``          when set, mutations, subscriptions and REST writes need
                           ``Authorization: Bearer <token>``
``FPE_ALLOWED_ORIGINS``    comma-separated origins allowed to open WebSockets (besides the
                           server's own host); default none
``FPE_CORS_ORIGINS``       comma-separated origins whose pages may call the API with
                           ``fetch`` (CORS) and make REST writes; default the legacy
                           frontend's dev servers, ``http://localhost:8080``, ``:3000``,
                           ``:8081`` and their ``http://127.0.0.1`` forms; ``*`` allows any
``FPE_ALLOWED_HOSTS``      comma-separated Host names the server answers (DNS-rebinding
                           guard; ``*.example.com`` wildcards, ``*`` for any); default
                           ``localhost,127.0.0.1,[::1]``
``FPE_LOG_FORMAT``         ``json`` (one JSON object per line) or ``text`` (lines for people);
                           default: text on a terminal, JSON otherwise
``FPE_MAX_BODY_BYTES``     the largest request body accepted (413 beyond it, refused by
                           ``Content-Length`` or when a streamed body passes it); default
                           4 MiB
``FPE_HEADER_TIMEOUT``     ``fpe serve`` closes a connection whose request headers are not
                           complete within this many seconds; default 10
``FPE_MAX_CONNECTIONS``    open connections per server process (WebSockets included);
                           past it new ones get a 503 and are closed; default 1000
``FPE_MAX_QUERY_LENGTH``   the longest GraphQL query text accepted, in characters (a longer
                           one is refused with ``QUERY_TOO_LARGE``); default 100000
``FPE_DOWNLOAD_BASE_URL``  football-data.co.uk file root; default
                           ``https://www.football-data.co.uk/mmz4281``
``FPE_MAX_FILE_BYTES``     the largest data file read, uploaded or downloaded, in bytes;
                           default 50,000,000 (the largest real file is about 290 kB)
``FPE_OVERROUND_MIN``      the odds rule: one book's prices for one market are refused
``FPE_OVERROUND_MAX``      when their book (sum of 1/odds) is outside this range; default
                           0.95 and 1.30 (decimal odds must also be in [1.01, 1000])
``FPE_REFRESH``            the scheduled refresh (new season files for the leagues of the
                           active models, ingested, each active model retrained up to
                           today): ``off`` (default), ``daily`` or ``weekly`` (Mondays); run
                           by the arq workers' cron, or by ``fpe serve`` without Redis
``FPE_REFRESH_AT``         the refresh's time of day, ``HH:MM`` UTC; default ``05:00``
=========================  ===============================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from core.errors import FPEError
from core.odds import OddsRule

__all__ = [
    "ENV_VARS",
    "ConfigError",
    "Settings",
    "max_file_bytes",
    "normalise_database_url",
    "odds_rule",
]

# every environment variable the service reads (the compose file is checked against it)
ENV_VARS = frozenset(
    {
        "FPE_DATABASE_URL",
        "FPE_DATA_DIR",
        "FPE_REDIS_URL",
        "FPE_REDIS_PREFIX",
        "FPE_DOWNLOAD_BASE_URL",
        "FPE_HEARTBEAT_SECONDS",
        "FPE_STALE_SECONDS",
        "FPE_API_TOKEN",
        "FPE_ALLOWED_ORIGINS",
        "FPE_CORS_ORIGINS",
        "FPE_ALLOWED_HOSTS",
        "FPE_LOG_FORMAT",
        "FPE_WRITE_RETRY_SECONDS",
        "FPE_MAX_BODY_BYTES",
        "FPE_HEADER_TIMEOUT",
        "FPE_MAX_CONNECTIONS",
        "FPE_MAX_FILE_BYTES",
        "FPE_MAX_QUERY_LENGTH",
        "FPE_OVERROUND_MIN",
        "FPE_OVERROUND_MAX",
        "FPE_REFRESH",
        "FPE_REFRESH_AT",
        "XDG_DATA_HOME",
    }
)

DEFAULT_DOWNLOAD_BASE_URL = "https://www.football-data.co.uk/mmz4281"
# the legacy React frontend's dev servers
DEFAULT_CORS_ORIGINS = tuple(
    f"http://{host}:{port}" for host in ("localhost", "127.0.0.1") for port in (8080, 3000, 8081)
)

DEFAULT_ALLOWED_HOSTS = ("localhost", "127.0.0.1", "[::1]")
DEFAULT_MAX_QUERY_LENGTH = 100_000

# the largest legitimate bodies are far below it: a 500-row fixtures CSV is about 260 KB, a
# 500-fixture predictions request about 100 KB, a stored model's weights about 170 KB
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 1000
REFRESH_EVERY = ("off", "daily", "weekly")
DEFAULT_REFRESH_AT = (5, 0)


class ConfigError(FPEError):
    """A configuration value that cannot be used; the message names the variable."""


def _default_data_dir(env: Mapping[str, str]) -> Path:
    if env.get("FPE_DATA_DIR"):
        return Path(env["FPE_DATA_DIR"]).expanduser()
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "fpe"


def normalise_database_url(url: str) -> str:
    """Accept the usual spellings and return the async driver's URL."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    if url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite:///")):
        return url
    raise ConfigError(
        f"FPE_DATABASE_URL={url!r} is not supported: use postgresql+asyncpg://... "
        "or sqlite+aiosqlite:///path/to/file.sqlite3"
    )


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    redis_url: str | None = None
    download_base_url: str = DEFAULT_DOWNLOAD_BASE_URL
    redis_prefix: str = "fpe"
    heartbeat_seconds: float = 1.0
    stale_seconds: float = 30.0
    write_retry_seconds: float = 60.0
    api_token: str | None = None
    allowed_origins: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    allowed_hosts: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS
    log_json: bool | None = None  # None: text on a terminal, JSON otherwise
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_query_length: int = DEFAULT_MAX_QUERY_LENGTH
    refresh: str = "off"
    refresh_at: tuple[int, int] = DEFAULT_REFRESH_AT

    @property
    def embedded(self) -> bool:
        """True for the embedded SQLite default."""
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = _default_data_dir(env)
        url = env.get("FPE_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'fpe.sqlite3'}"
        base = (env.get("FPE_DOWNLOAD_BASE_URL") or DEFAULT_DOWNLOAD_BASE_URL).rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise ConfigError(f"FPE_DOWNLOAD_BASE_URL={base!r} must be an http(s) URL")
        return cls(
            database_url=normalise_database_url(url),
            data_dir=data_dir,
            redis_url=env.get("FPE_REDIS_URL") or None,
            download_base_url=base,
            redis_prefix=env.get("FPE_REDIS_PREFIX") or "fpe",
            heartbeat_seconds=_seconds(env, "FPE_HEARTBEAT_SECONDS", 1.0),
            stale_seconds=_seconds(env, "FPE_STALE_SECONDS", 30.0),
            write_retry_seconds=_seconds(env, "FPE_WRITE_RETRY_SECONDS", 60.0),
            api_token=env.get("FPE_API_TOKEN") or None,
            allowed_origins=_origins(env, "FPE_ALLOWED_ORIGINS") or (),
            cors_origins=_origins(env, "FPE_CORS_ORIGINS") or DEFAULT_CORS_ORIGINS,
            allowed_hosts=_hosts(env.get("FPE_ALLOWED_HOSTS")),
            log_json=_log_json(env.get("FPE_LOG_FORMAT")),
            max_body_bytes=_count(env, "FPE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1024),
            header_timeout=_seconds(env, "FPE_HEADER_TIMEOUT", DEFAULT_HEADER_TIMEOUT),
            max_connections=_count(env, "FPE_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS, 2),
            max_query_length=_count(env, "FPE_MAX_QUERY_LENGTH", DEFAULT_MAX_QUERY_LENGTH, 1),
            refresh=_refresh(env.get("FPE_REFRESH")),
            refresh_at=_time_of_day(env.get("FPE_REFRESH_AT")),
        )


DEFAULT_MAX_FILE_BYTES = 50_000_000
"""A football-data.co.uk season file is 150-290 kB; every season of every division in one
file would be a few MB.  50 MB leaves room for any real file while refusing runaway input
early (files are parsed in chunks, so the limit is not what bounds memory)."""


def max_file_bytes(env: Mapping[str, str] | None = None) -> int:
    """``FPE_MAX_FILE_BYTES``: the largest data file read or downloaded, in bytes."""
    env = os.environ if env is None else env
    text = (env.get("FPE_MAX_FILE_BYTES") or "").strip().replace("_", "")
    if not text:
        return DEFAULT_MAX_FILE_BYTES
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(
            f"FPE_MAX_FILE_BYTES={text!r} must be a whole number of bytes such as 50000000"
        )
    return int(text)


def _log_json(text: str | None) -> bool | None:
    """``FPE_LOG_FORMAT``: ``json`` is True, ``text`` False, unset (or ``auto``) None."""
    value = (text or "auto").strip().lower()
    if value not in ("json", "text", "auto"):
        raise ConfigError(
            f"FPE_LOG_FORMAT={text!r} must be json or text (unset: text on a terminal)"
        )
    return None if value == "auto" else value == "json"


def odds_rule(env: Mapping[str, str] | None = None) -> OddsRule:
    """The odds rule with ``FPE_OVERROUND_MIN`` and ``FPE_OVERROUND_MAX`` (book sums)."""
    env = os.environ if env is None else env
    default = OddsRule()
    bounds = []
    for name, value in (
        ("FPE_OVERROUND_MIN", default.min_book),
        ("FPE_OVERROUND_MAX", default.max_book),
    ):
        text = (env.get(name) or "").strip()
        if text:
            try:
                value = float(text)
            except ValueError:
                raise ConfigError(f"{name}={text!r} is not a number such as 1.30") from None
            if not 0.5 <= value <= 3.0:
                raise ConfigError(f"{name}={text!r} must be a book sum between 0.5 and 3")
        bounds.append(value)
    if bounds[0] >= bounds[1]:
        raise ConfigError(
            f"FPE_OVERROUND_MIN ({bounds[0]:g}) must be below FPE_OVERROUND_MAX ({bounds[1]:g})"
        )
    return OddsRule(bounds[0], bounds[1])


def _refresh(text: str | None) -> str:
    value = (text or "off").strip().lower()
    if value not in REFRESH_EVERY:
        raise ConfigError(f"FPE_REFRESH={text!r} must be one of {', '.join(REFRESH_EVERY)}")
    return value


def _time_of_day(text: str | None) -> tuple[int, int]:
    if not text or not text.strip():
        return DEFAULT_REFRESH_AT
    hour, _, minute = text.strip().partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise ConfigError(f"FPE_REFRESH_AT={text!r} must be a time of day HH:MM (UTC)")
    return int(hour), int(minute)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a number of seconds") from None
    if not 0.05 <= value <= 3600:
        raise ConfigError(f"{name}={text!r} must be between 0.05 and 3600 seconds")
    return value


def _count(env: Mapping[str, str], name: str, default: int, least: int) -> int:
    text = env.get(name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a whole number") from None
    if value < least:
        raise ConfigError(f"{name}={text!r} must be at least {least}")
    return value


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated origins (``scheme://host[:port]``, or ``*``), as browsers send them."""
    origins = []
    for text in (env.get(name) or "").split(","):
        text = text.strip().rstrip("/")
        if not text:
            continue
        if text != "*":
            parts = urlsplit(text)
            try:
                port = parts.port
            except ValueError:
                port, parts = None, parts._replace(netloc="")
            extra = parts.path or parts.query or parts.fragment or parts.username
            if parts.scheme not in ("http", "https") or not parts.hostname or extra:
                raise ConfigError(
                    f"{name}: {text!r} is not an origin such as http://localhost:8080 "
                    "(scheme, host and optional port)"
                )
            host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
            if port is not None and port != {"http": 80, "https": 443}[parts.scheme]:
                host = f"{host}:{port}"
            text = f"{parts.scheme}://{host}"
        origins.append(text)
    return tuple(origins)


def _hosts(text: str | None) -> tuple[str, ...]:
    if not text or not text.strip():
        return DEFAULT_ALLOWED_HOSTS
    hosts = tuple(h.strip().lower() for h in text.split(",") if h.strip())
    for host in hosts:
        wildcard = host.startswith("*") and not host.startswith("*.")
        if host != "*" and ("*" in host[1:] or wildcard):
            raise ConfigError(f"FPE_ALLOWED_HOSTS: {host!r} is not a host name or *.domain")
    return hosts
