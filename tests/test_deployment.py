"""docker-compose.yml and the Dockerfile agree with the code. The built image itself is checked
by ``scripts/image-test`` (which ``.ci/run`` calls): it builds it, runs it and checks the
compose file against the image's own code."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from server.api.app import create_app
from server.base.config import ENV_VARS, Settings
from server.cli import build_parser

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
    path = re.search(r"http://127\.0\.0\.1:8000(/[\w/]*)", " ".join(test))[1]
    paths = {getattr(r, "path", None) for r in create_app(Settings.from_env({})).routes}
    assert path in paths and {"/healthz", "/readyz", "/metrics"} <= paths


def test_dockerfile_is_multi_stage_non_root_and_checks_its_health():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) == 2 and stages[0].startswith("python:3.11-slim AS builder")
    builder, runtime = stages
    assert "build-essential" in builder and "pip wheel" in builder
    # the runtime stage installs wheels from the builder only: no COPY of the source tree
    assert "build-essential" not in runtime and not re.search(r"^COPY (?!--from)", runtime, re.M)
    assert "from=builder" in runtime and "--no-index" in runtime
    assert re.search(r"^USER fpe$", runtime, re.M) and "HEALTHCHECK" in runtime
    assert "/readyz" in runtime and "EXPOSE 8000" in runtime


def test_dockerignore_sends_only_what_the_builder_copies():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*"  # everything is excluded unless listed
    copied = re.findall(r"^COPY (?!--)(.+) \S+$", (ROOT / "Dockerfile").read_text(), re.M)
    for path in " ".join(copied).split():
        assert f"!{path}" in patterns or f"!{path}/" in patterns, path


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
