"""Check docker-compose.yml against the built image, not against the source tree:

- every ``fpe`` command the api and worker services run parses with the image's own CLI;
- every other executable they run (``sh``, the health check's program) exists in the image;
- every variable they set is one the image's code reads (``server.base.config.ENV_VARS``).

    python scripts/compose_check.py IMAGE [podman arguments ...]
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("api", "worker")

# runs inside the image: the compose facts arrive on stdin, problems leave on stdout
IN_IMAGE = """
import json, shutil, sys
from server.cli import build_parser
from server.base.config import ENV_VARS
facts, problems = json.load(sys.stdin), []
for argv in facts["fpe"]:
    try:
        build_parser().parse_args(argv[1:])
    except SystemExit:
        problems.append(f"not a command of the image's fpe: {' '.join(argv)}")
for program in facts["programs"]:
    if shutil.which(program) is None:
        problems.append(f"not in the image: {program}")
for name in facts["env"]:
    if name not in ENV_VARS:
        problems.append(f"set by compose but read by no code in the image: {name}")
print(json.dumps(problems))
"""


def split_commands(command: list[str] | str) -> list[list[str]]:
    """The argv of each command a service runs; ``sh -c "a && exec b"`` gives a and b."""
    if isinstance(command, list) and command[:2] == ["sh", "-c"]:
        return [shlex.split(p.strip().removeprefix("exec ")) for p in re.split(r"&&|;", command[2])]
    return [shlex.split(command) if isinstance(command, str) else list(command)]


def facts(compose: dict) -> dict[str, list]:
    fpe: list[list[str]] = []
    programs: set[str] = set()
    env: set[str] = set()
    for name in SERVICES:
        service = compose["services"][name]
        command = service["command"]
        if isinstance(command, list) and command[:2] == ["sh", "-c"]:
            programs.add("sh")
        for argv in split_commands(command):
            programs.add(argv[0])
            if argv[0] == "fpe":
                fpe.append(argv)
        test = service.get("healthcheck", {}).get("test")
        if test and test[0] in ("CMD", "CMD-SHELL"):
            programs.add(shlex.split(test[1])[0] if test[0] == "CMD-SHELL" else test[1])
        env |= set(service.get("environment", {}))
    return {"fpe": fpe, "programs": sorted(programs), "env": sorted(env)}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    image, podman = argv[0], argv[1:] or ["podman"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    found = facts(compose)
    done = subprocess.run(
        [*podman, "run", "--rm", "-i", image, "python", "-c", IN_IMAGE],
        input=json.dumps(found),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        print(f"compose check could not run in {image}: {done.stderr[-2000:]}", file=sys.stderr)
        return 1
    problems = json.loads(done.stdout.strip().splitlines()[-1])
    for problem in problems:
        print(f"docker-compose.yml: {problem}", file=sys.stderr)
    if not problems:
        commands = ", ".join(" ".join(a) for a in found["fpe"])
        print(
            f"docker-compose.yml agrees with {image}: {commands}; "
            f"programs {found['programs']}; {len(found['env'])} variables"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
