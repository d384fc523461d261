"""Which model serves a fixture when no version is named.

One model per type and league set is active (:mod:`server.runs.registry`).  A fixture's
league is the one asked for, or else where its two teams played their latest matches; the
active model of the requested type whose leagues cover it serves it (covering both teams'
leagues is preferred over covering one), and when several do, the one with the latest
``data_to`` wins.  When none does, the error names the leagues that have active models.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from server.runs.modelerrors import ModelNotFoundError
from server.store import cache, reads
from server.store.reads import Database

__all__ = [
    "NoModelForLeagueError",
    "active_models",
    "choose_model",
    "choose_models",
    "latest_leagues",
    "pick",
    "require_active",
]


class NoModelForLeagueError(ModelNotFoundError):
    """No active model of the requested type covers the fixture's league."""


async def active_models(engine: Database, model_type: str) -> list[dict[str, Any]]:
    """The active models of ``model_type``: version, leagues and data_to, best first (latest
    data, then newest); cached for a few seconds like the rest of the prediction path."""
    key = ("active-models", model_type)
    found = cache.get(engine, key, cache.ACTIVE_TTL)
    if found is None:
        rows = await reads.active_models(engine, model_type)
        found = [
            {
                "version": version,
                "leagues": frozenset(x for x in scope.split(",") if x),
                "data_to": data_to,
            }
            for version, scope, data_to in rows
        ]
        cache.put(engine, key, found)
    return found


async def require_active(engine: Database, model_type: str) -> list[dict[str, Any]]:
    """The active models of ``model_type`` (see :func:`active_models`); a
    :class:`ModelNotFoundError` when there is none."""
    models = await active_models(engine, model_type)
    if not models:
        raise ModelNotFoundError(await _none_active(engine, model_type))
    return models


async def _none_active(engine: Database, model_type: str) -> str:
    """There is no active model of ``model_type``; the active ones of other types can be
    asked for by version, so they are named."""
    others = [row for row in await reads.active_versions(engine) if row[1] != model_type]
    named = ", ".join(
        f"{version} ({kind}, {scope.replace(',', ' ') or 'no league'})"
        for version, kind, scope in others[:5]
    )
    more = f" and {len(others) - 5} more" if len(others) > 5 else ""
    hint = f"; or ask for an active model of another type by version: {named}{more}"
    return f"there is no active {model_type!r} model: train one first" + (hint if others else "")


async def latest_leagues(engine: Database, team_ids: Iterable[int]) -> dict[int, str]:
    """The league of each team's latest match (teams without a match are left out)."""
    ids = sorted({int(i) for i in team_ids})
    if not ids:
        return {}
    key = ("latest-leagues", tuple(ids))
    found = cache.get(engine, key, cache.TEAM_TTL)
    if found is not None:
        return found
    found = dict(await reads.latest_leagues(engine, ids))
    cache.put(engine, key, found)
    return found


def pick(models: Sequence[dict[str, Any]], leagues: Sequence[str], model_type: str = "full") -> str:
    """The version that serves a fixture of ``leagues`` among ``models`` (best first)."""
    if not models:
        raise ModelNotFoundError(f"there is no active {model_type!r} model: train one first")
    wanted = {code for code in leagues if code}
    if not wanted:  # teams that never played: the newest active model
        return str(models[0]["version"])
    for test in (wanted.issubset, lambda covered: bool(wanted & covered)):
        for model in models:
            if test(model["leagues"]):
                return str(model["version"])
    covered = sorted({code for model in models for code in model["leagues"]})
    raise NoModelForLeagueError(
        f"no active {model_type!r} model covers {', '.join(sorted(wanted))}; active "
        f"{model_type!r} models cover {', '.join(covered) or 'no league'}: train one on "
        f"{', '.join(sorted(wanted))} or name a model version"
    )


async def choose_model(
    engine: Database,
    model_type: str = "full",
    leagues: Sequence[str] = (),
    team_ids: Sequence[int] = (),
    models: list[dict[str, Any]] | None = None,
) -> str:
    """The version that serves a fixture: of ``leagues`` when given, else of the leagues
    where ``team_ids`` played their latest matches (``models``: the active ones, when
    already read)."""
    if models is None:
        models = await active_models(engine, model_type)
    wanted = [code.strip().upper() for code in leagues if code]
    if not wanted and models:
        wanted = sorted(set((await latest_leagues(engine, team_ids)).values()))
    return pick(models, wanted, model_type)


async def choose_models(
    engine: Database,
    model_type: str,
    fixtures: Sequence[tuple[str | None, Sequence[int]]],
    models: list[dict[str, Any]] | None = None,
) -> list[str | NoModelForLeagueError]:
    """:func:`choose_model` for many fixtures ``(league or None, team ids)`` at once (two
    queries in all); a fixture no active model covers gets its error instead."""
    if models is None:
        models = await require_active(engine, model_type)
    played = await latest_leagues(
        engine, [t for league, teams in fixtures if not league for t in teams]
    )
    out: list[str | NoModelForLeagueError] = []
    for league, teams in fixtures:
        wanted = (
            [league.strip().upper()]
            if league
            else sorted({played[t] for t in teams if t in played})
        )
        try:
            out.append(pick(models, wanted, model_type))
        except NoModelForLeagueError as exc:
            out.append(exc)
    return out
