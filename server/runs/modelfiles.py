"""Model files: a stored version exported as versioned JSON, and imported into another
database (``fpe models export/import``, GraphQL ``exportModel``/``importModel``, REST
``GET /api/model/versions/{id}/export`` and ``POST /api/model/versions/import``).

The file::

    {"format": "fpe-model", "format_version": 1, "exported_at": ...,
     "checksum": "sha256:<hex>",
     "model": {"version", "model_type", ...every column of its row..., "weights": {...},
               "teams": {"<id>": {"name", "country"}}, "leagues": [{code, name, country}]}}

``checksum`` is the SHA-256 of ``model`` as canonical JSON (sorted keys, no spaces), so a
file edited or cut short is refused.  Python's JSON writes every float with the digits
that read back as the same double, so the weights survive exactly.

Weights name teams by this database's ids; the file carries each id's name and country.
Import maps them to the importing database's teams (by
:func:`server.formats.teamnames.team_key`, then the aliases) and rewrites the ids.  Teams
(and leagues) the database lacks are created, and listed in the answer: so a file imports
into a fresh database.  ``create_teams=False`` refuses such a file instead, listing the
unknown teams.  Before anything is written, the rewritten model must predict every pair of
its teams exactly as the file's model does.  An imported version keeps its version name,
is ``completed`` (activate it by hand, or with ``activate=True``), and never overwrites a
version that exists.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from datetime import UTC, date, datetime
from itertools import permutations
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.errors import FPEError, InvalidInputError
from core.serving import StoredModel
from server.formats.leagues import league_info
from server.formats.teamnames import team_key
from server.runs.registry import activate_model, get_model
from server.runs.serialize import json_ready
from server.store import cache
from server.store.db import begin_write
from server.store.tables import League, Model, ModelStatus, Team, TeamAlias, UTCDateTime

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ModelFileError",
    "VersionExistsError",
    "default_path",
    "dumps",
    "export_model",
    "import_model",
    "loads",
]

FORMAT = "fpe-model"
FORMAT_VERSION = 1
_MODELS, _TEAMS, _LEAGUES = Model.__table__, Team.__table__, League.__table__
_ALIASES = TeamAlias.__table__
_NOT_COPIED = {"id", "status", "model_weights"}  # the importing database decides these
_GOAL_MODELS = ("dixon_coles", "market_implied", "independent_poisson")
_CHECK_TEAMS = 40  # the round trip is checked on every pair of up to this many teams


class VersionExistsError(FPEError):
    """The file's version exists in this database already (an import never overwrites)."""

    code = "CONFLICT"
    http_status = 409


class ModelFileError(InvalidInputError):
    """A model file that cannot be imported: not JSON, cut short, edited, from a newer
    release, or naming teams this database cannot take; the message says which."""


def _canonical(model: dict[str, Any]) -> bytes:
    return json.dumps(
        model, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def _checksum(model: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(_canonical(model)).hexdigest()


def _team_ids(weights: dict[str, Any]) -> set[str]:
    ids = {str(t) for t in weights.get("teams", {})}
    for part in _GOAL_MODELS:
        ids |= {str(t) for t in weights.get(part, {}).get("parameters", {}).get("teams", [])}
    for values in _by_team(weights):
        ids |= {str(t) for t in values.get("teams", {})}
    return ids


def _by_team(weights: dict[str, Any]) -> list[dict[str, Any]]:
    """The parts of the weights whose ``teams`` map team ids to values: each group of the
    Kalman filter, the last match's shots."""
    groups = weights.get("kalman", {}).get("groups", {})
    parts = [g for g in groups.values() if isinstance(g, dict)] if isinstance(groups, dict) else []
    shots = weights.get("last_shots")
    return [*parts, shots] if isinstance(shots, dict) else parts


async def export_model(engine: AsyncEngine, version: str) -> dict[str, Any]:
    """The file of ``version`` as a JSON-ready dict (see the module's docstring)."""
    row = await get_model(engine, version)
    weights = row.pop("model_weights") or {}
    ids = _team_ids(weights)
    numeric = [int(i) for i in ids if i.isdigit()]
    async with engine.connect() as conn:
        teams = await conn.execute(
            sa.select(_TEAMS.c.id, _TEAMS.c.name, _TEAMS.c.country).where(_TEAMS.c.id.in_(numeric))
        )
        names = {str(i): {"name": n, "country": c} for i, n, c in teams}
        codes = list(row.get("training_leagues") or [])
        leagues = await conn.execute(
            sa.select(_LEAGUES.c.code, _LEAGUES.c.name, _LEAGUES.c.country)
            .where(_LEAGUES.c.code.in_(codes))
            .order_by(_LEAGUES.c.code)
        )
        league_rows = [{"code": c, "name": n, "country": k} for c, n, k in leagues]
    missing = sorted(ids - set(names), key=lambda i: (len(i), i))
    if missing:
        raise FPEError(
            f"model {version!r} names team id(s) {', '.join(missing)} that this database no "
            "longer has: it cannot be exported"
        )
    model = {
        **{k: v for k, v in json_ready(row).items() if k not in _NOT_COPIED},
        "weights": weights,
        "teams": names,
        "leagues": league_rows,
    }
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported_at": datetime.now(UTC).isoformat(),
        "checksum": await asyncio.to_thread(_checksum, model),
        "model": model,
    }


def dumps(file: dict[str, Any]) -> str:
    """The file's text (indented, so that it diffs well under version control)."""
    return json.dumps(file, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def default_path(root: Path, model_type: str, version: str) -> Path:
    """``<root>/Model/<type>/<version>.json``, the seed design's layout (a ``root`` that is
    itself named ``Model`` is not nested again)."""
    base = root if root.name == "Model" else root / "Model"
    return base / model_type / f"{version}.json"


def loads(text: str | bytes | dict[str, Any]) -> dict[str, Any]:
    """Parse (unless it is parsed already) and verify a model file: its format, its version
    and its checksum.  CPU work on a large file: call it in a thread."""
    if isinstance(text, dict):
        return _verified(text)
    try:
        data = json.loads(text)
    except UnicodeDecodeError:
        raise ModelFileError("the model file is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ModelFileError(
            f"the model file is not valid JSON (cut short or damaged?): {exc.msg} at line "
            f"{exc.lineno}, column {exc.colno}"
        ) from None
    return _verified(data)


def _verified(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelFileError(f'not a model file: no "format": {FORMAT!r}')
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"the model file's format_version {version!r} is not a version")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"the model file has format version {version}, written by a newer release; this "
            f"one reads up to version {FORMAT_VERSION}: upgrade to import it"
        )
    model = data.get("model")
    if not isinstance(model, dict):
        raise ModelFileError('the model file has no "model" object')
    try:
        actual = _checksum(model)
    except ValueError as exc:  # NaN or infinity: never written by export
        raise ModelFileError(f"the model file holds a value JSON cannot carry: {exc}") from None
    if data.get("checksum") != actual:
        raise ModelFileError(
            "the model file's checksum does not match its content: it was changed or damaged "
            f"after export (file says {str(data.get('checksum'))[:80]!r})"
        )
    _check_shape(model)
    return data


def _check_shape(model: dict[str, Any]) -> None:
    for key, kind in (("version", str), ("model_type", str), ("weights", dict), ("teams", dict)):
        if not isinstance(model.get(key), kind):
            raise ModelFileError(f"the model file's model.{key} is missing or not a {kind}")
    if not 1 <= len(model["version"]) <= 64 or not model["version"].isprintable():
        raise ModelFileError(f"the model file's version {model['version'][:80]!r} is not usable")
    for tid, team in model["teams"].items():
        if not (
            isinstance(team, dict)
            and isinstance(team.get("name"), str)
            and isinstance(team.get("country"), str)
        ):
            raise ModelFileError(f"the model file's team {tid!r} has no name and country")
    unnamed = _team_ids(model["weights"]) - set(model["teams"])
    if unnamed:
        raise ModelFileError(f"the model file's weights name team ids without a name: {unnamed}")


# --- import ---------------------------------------------------------------------------------


def _remap(weights: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    """``weights`` with every team id replaced through ``ids`` (order kept: the parameters
    are aligned with the team lists)."""
    out = json.loads(json.dumps(weights))
    for part in _GOAL_MODELS:
        params = out.get(part, {}).get("parameters")
        if params is not None:
            params["teams"] = [ids[str(t)] for t in params["teams"]]
        strengths = out.get(part, {}).get("team_strengths")
        if isinstance(strengths, dict):
            out[part]["team_strengths"] = {ids[str(k)]: v for k, v in strengths.items()}
    for values in _by_team(out):
        if isinstance(values.get("teams"), dict):
            values["teams"] = {ids[str(k)]: v for k, v in values["teams"].items()}
    for key in ("teams", "team_strengths"):
        if isinstance(out.get(key), dict):
            out[key] = {ids.get(str(k), str(k)): v for k, v in out[key].items()}
    return out


def _check_same_predictions(old: dict[str, Any], new: dict[str, Any], ids: dict[str, str]) -> None:
    """The rewritten weights predict every pair of (up to ``_CHECK_TEAMS``) teams as the
    file's do, to 1e-12 (CPU work: call it in a thread)."""
    try:
        teams = [str(t) for t in old["dixon_coles"]["parameters"]["teams"]][:_CHECK_TEAMS]
        home, away = zip(*permutations(teams, 2), strict=True)
        before, grid_before = StoredModel(old).predict(list(home), list(away))
        after, grid_after = StoredModel(new).predict([ids[t] for t in home], [ids[t] for t in away])
    except (KeyError, TypeError, ValueError, ArithmeticError, FPEError) as exc:
        raise ModelFileError(f"the model file's weights cannot predict: {exc!r}") from None
    if not (
        np.allclose(before, after, rtol=0, atol=1e-12)
        and np.allclose(grid_before.grid, grid_after.grid, rtol=0, atol=1e-12)
    ):
        raise ModelFileError("the imported model would not predict what the file's model does")


async def _resolve_teams(
    conn: AsyncConnection, teams: dict[str, dict[str, str]]
) -> tuple[dict[str, int], list[dict[str, str]]]:
    """The file's team ids -> this database's ids (by team key within the country, then
    aliases); and the file's teams it does not have."""
    stored: dict[tuple[str, str], int] = {}
    for tid, name, country in await conn.execute(
        sa.select(_TEAMS.c.id, _TEAMS.c.name, _TEAMS.c.country)
    ):
        try:
            stored.setdefault((country, team_key(name)), tid)
        except InvalidInputError:  # stored before the rule: only its own spelling matches
            stored.setdefault((country, name.casefold()), tid)
    aliases = {
        (c, k): t
        for k, c, t in await conn.execute(
            sa.select(_ALIASES.c.alias_key, _ALIASES.c.country, _ALIASES.c.team_name)
        )
    }
    found: dict[str, int] = {}
    unknown = []
    for tid, team in teams.items():
        try:
            key = (team["country"], team_key(team["name"]))
        except InvalidInputError as exc:
            raise ModelFileError(f"the model file's team {tid}: {exc}") from None
        if key not in stored and key in aliases:
            key = (key[0], team_key(aliases[key]))
        if key in stored:
            found[tid] = stored[key]
        else:
            unknown.append({"id": tid, **team})
    return found, unknown


def _value(column: sa.Column, value: Any) -> Any:
    """A JSON value back as the column's Python type (timestamps, dates)."""
    if value is None:
        return None
    if isinstance(column.type, UTCDateTime):
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(column.type, sa.Date):
        return date.fromisoformat(value)
    if isinstance(column.type, sa.Double) and not math.isfinite(float(value)):
        raise ValueError(f"{value!r} is not a finite number")
    return value


def _row(model: dict[str, Any]) -> dict[str, Any]:
    row = {}
    for column in _MODELS.c:
        if column.name in _NOT_COPIED or column.name not in model:
            continue
        try:
            row[column.name] = _value(column, model[column.name])
        except (TypeError, ValueError) as exc:
            raise ModelFileError(f"the model file's {column.name}: {exc}") from None
    return row


async def import_model(
    engine: AsyncEngine,
    text: str | bytes | dict[str, Any],
    *,
    create_teams: bool = True,
    activate: bool = False,
) -> dict[str, Any]:
    """Import a model file (its text, or the parsed dict) as a new ``completed`` version.

    Returns ``{version, model_type, status, teams, created_teams, created_leagues}``.
    Refused with :class:`ModelFileError` (nothing written): a damaged, edited or newer
    file; unknown teams when ``create_teams`` is False (all listed).  An existing version
    is a :class:`VersionExistsError`."""
    data = await asyncio.to_thread(loads, text)
    model = data["model"]
    version = model["version"]
    created_teams: list[str] = []
    created_leagues: list[str] = []
    try:
        async with begin_write(engine) as conn:
            exists = await conn.execute(sa.select(_MODELS.c.id).where(_MODELS.c.version == version))
            if exists.first() is not None:
                raise VersionExistsError(
                    f"model version {version!r} exists already in this database; an import "
                    "never overwrites a version"
                )
            found, unknown = await _resolve_teams(conn, model["teams"])
            if unknown and not create_teams:
                listed = ", ".join(f"{t['name']} ({t['country']})" for t in unknown)
                raise ModelFileError(
                    f"{len(unknown)} team(s) of the model file are not in this database: {listed}"
                )
            for team in unknown:
                new_id = await conn.scalar(
                    sa.insert(_TEAMS)
                    .values(name=team["name"], country=team["country"])
                    .returning(_TEAMS.c.id)
                )
                found[team["id"]] = int(new_id)
                created_teams.append(team["name"])
            created_leagues = await _create_leagues(conn, model.get("leagues") or [])
            ids = {tid: str(i) for tid, i in found.items()}
            weights = _remap(model["weights"], ids)
            await asyncio.to_thread(_check_same_predictions, model["weights"], weights, ids)
            await conn.execute(
                sa.insert(_MODELS).values(
                    **_row(model), model_weights=weights, status=ModelStatus.COMPLETED
                )
            )
    except IntegrityError as exc:
        raise VersionExistsError(
            f"model version {version!r} was created meanwhile; an import never overwrites a "
            f"version ({getattr(exc, 'orig', exc)})"
        ) from None
    cache.invalidate(engine)
    if activate:
        await activate_model(engine, version)
    return {
        "version": version,
        "model_type": model["model_type"],
        "status": "active" if activate else ModelStatus.COMPLETED.value,
        "teams": len(found),
        "created_teams": created_teams,
        "created_leagues": created_leagues,
    }


async def _create_leagues(conn: AsyncConnection, leagues: list[Any]) -> list[str]:
    """The file's leagues this database lacks, created (name and country from the file)."""
    created = []
    for league in leagues:
        if not isinstance(league, dict) or not isinstance(league.get("code"), str):
            raise ModelFileError("the model file's leagues are not {code, name, country}")
        code = league["code"]
        known = await conn.execute(sa.select(_LEAGUES.c.id).where(_LEAGUES.c.code == code))
        if known.first() is not None:
            continue
        info = league_info(code)
        await conn.execute(
            sa.insert(_LEAGUES).values(
                code=code,
                name=str(league.get("name") or info.name),
                country=str(league.get("country") or info.country),
            )
        )
        created.append(code)
    return created
