"""docker-compose.yml and the Dockerfile agree with the code (Docker cannot run here)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from server.app import create_app
from server.cli import build_parser
from server.config import ENV_VARS, Settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _fpe_commands(command: list[str] | str) -> list[list[str]]:
    text = command if isinstance(command, str) else shlex.join(command)
    if isinstance(command, list) and command[:2] == ["sh", "-c"]:
        text = command[2]
    parts = re.split(r"&&|;", text)
    return [shlex.split(p.replace("exec ", "", 1)) for p in parts if "fpe" in p]


def test_services_and_their_wiring(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "api", "worker"}
    assert services["api"]["ports"] == ["8000:8000"]
    assert all("healthcheck" in services[s] for s in ("postgres", "redis", "api"))
    assert services["api"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "worker"):
        env = services[name]["environment"]
        assert env["FPE_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert "@postgres:5432/" in env["FPE_DATABASE_URL"]
        assert env["FPE_REDIS_URL"] == "redis://redis:6379/0"
        assert set(env) <= ENV_VARS, set(env) - ENV_VARS  # nothing the code does not read


def test_environment_is_what_settings_accept(compose):
    for name in ("api", "worker"):
        env = {
            k: re.sub(r"\$\{([A-Z_]+):-([^}]*)\}", r"\2", str(v))
            for k, v in compose["services"][name]["environment"].items()
        }
        env = {k: v.replace("${POSTGRES_PASSWORD:-fpe}", "fpe") for k, v in env.items()}
        settings = Settings.from_env(env)
        assert settings.redis_url == "redis://redis:6379/0"
        assert not settings.embedded


def test_commands_are_real_fpe_commands(compose):
    parser = build_parser()
    seen = []
    for name in ("api", "worker"):
        for argv in _fpe_commands(compose["services"][name]["command"]):
            assert argv[0] == "fpe"
            args = parser.parse_args(argv[1:])  # exits on an unknown command or option
            seen.append(args.command)
    assert seen == ["db", "serve", "worker"]
    serve = parser.parse_args(_fpe_commands(compose["services"]["api"]["command"])[1][1:])
    assert serve.host == "0.0.0.0" and serve.port == 8000


def test_health_check_paths_exist(compose):
    test = compose["services"]["api"]["healthcheck"]["test"]
    path = re.search(r"http://127\.0\.0\.1:8000(/\S*)", " ".join(test))[1]
    paths = {getattr(r, "path", None) for r in create_app(Settings.from_env({})).routes}
    assert path in paths and {"/healthz", "/readyz", "/metrics"} <= paths


def test_dockerfile_builds_the_cython_core_and_ships_the_schema():
    text = (ROOT / "Dockerfile").read_text()
    assert "pip install ." in text and "import core._kernel" in text
    for folder in ("core", "schema", "server", "sql"):
        assert f"COPY {folder} ./{folder}" in text
    assert "EXPOSE 8000" in text and '"fpe", "serve"' in text


def test_the_api_answers_its_health_check_and_service_name(compose):
    """The Host check (FPE_ALLOWED_HOSTS) lets through the health check's host, the
    published port on the machine (localhost) and the compose service name."""
    env = {
        k: re.sub(r"\$\{([A-Z_]+):-([^}]*)\}", r"\2", str(v))
        for k, v in compose["services"]["api"]["environment"].items()
    }
    hosts = Settings.from_env(env).allowed_hosts
    test = " ".join(compose["services"]["api"]["healthcheck"]["test"])
    health_host = re.search(r"http://([^:/]+)", test)[1]
    assert {health_host, "localhost", "api"} <= set(hosts) and "*" not in hosts
