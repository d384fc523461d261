"""Team names as users type them: aliases ("Spurs" for Tottenham) and "did you mean"
suggestions for a name that matches no team.

A name goes through :func:`server.formats.teamnames.canonical_team_name` first (so a name
mixing Cyrillic and Latin letters is refused, naming the letter, rather than looked up),
then :func:`resolve_names` replaces an alias by its team's stored name unless the name is a
team's own.  Aliases live in ``team_aliases`` by country and the team's stored name;
migration 0004 seeds the common ones, :func:`add_alias` adds more (``fpe aliases add``,
GraphQL ``addTeamAlias``).
"""

from __future__ import annotations

import contextlib
import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import InvalidInputError, NotFoundError
from server.formats.teamnames import canonical_team_name, team_key
from server.store import cache, reads
from server.store.reads import Database

if TYPE_CHECKING:  # SQLAlchemy is imported where it is used: a LiteReader needs none
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "AliasNotFoundError",
    "add_alias",
    "did_you_mean",
    "list_aliases",
    "remove_alias",
    "resolve_fixtures",
    "resolve_names",
]

_SUGGESTIONS = 3
_CUTOFF = 0.6


class AliasNotFoundError(NotFoundError):
    """No alias has that name."""


@dataclass
class _Names:
    """Every team and alias, by key (:func:`team_key`)."""

    teams: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # (name, country)
    aliases: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # (country, team)
    countries: dict[str, str] = field(default_factory=dict)  # league code -> country


def _key(name: str) -> str:
    """:func:`team_key`, or a plain fold for a stored name the rule refuses (stored before
    the rule existed)."""
    try:
        return team_key(name)
    except InvalidInputError:
        return " ".join(name.split()).casefold()


async def _load(engine: Database) -> _Names:
    """Teams, aliases and league countries in one statement."""
    rows = await reads.team_names(engine)
    names = _Names()
    for kind, first, country, team in rows:
        if kind == "team":
            names.teams.setdefault(_key(first), []).append((first, country))
        elif kind == "alias":
            names.aliases.setdefault(first, []).append((country, team))
        else:
            names.countries[first] = country
    return names


def _aliases_table() -> sa.Table:
    from server.store.tables import TeamAlias

    return TeamAlias.__table__


async def _names(engine: Database, fresh: bool = False) -> _Names:
    found = None if fresh else cache.get(engine, ("team-names",), cache.TEAM_TTL)
    if found is None:
        found = await _load(engine)
        cache.put(engine, ("team-names",), found)
    return found


def _resolve(names: _Names, name: str, country: str | None) -> str:
    text = canonical_team_name(name)
    key = text.casefold()
    if any(country in (None, c) for _, c in names.teams.get(key, [])):
        return text  # a team's own name is never an alias
    targets = {t for c, t in names.aliases.get(key, []) if country in (None, c)}
    return targets.pop() if len(targets) == 1 else text


async def resolve_names(
    engine: AsyncEngine, names: list[str], league: str | None = None
) -> list[str]:
    """Each name in its canonical form, an alias replaced by its team's stored name (within
    ``league``'s country when given).  A name mixing look-alike alphabets is a
    :class:`~server.formats.teamnames.TeamNameError` naming the letter."""
    found = await _names(engine)
    country = found.countries.get(league) if league else None
    return [_resolve(found, n, country) for n in names]


async def resolve_fixtures(
    engine: Database, fixtures: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Copies of ``fixtures`` with ``home`` and ``away`` through :func:`resolve_names`; a name
    that cannot be used is left as it is (its fixture then fails with "no team called")."""
    found = await _names(engine)
    out = []
    for f in fixtures:
        country = found.countries.get(f.get("league") or "")
        copy = dict(f)
        for side in ("home", "away"):
            with contextlib.suppress(InvalidInputError):
                copy[side] = _resolve(found, f[side], country)
        out.append(copy)
    return out


def _suggest(names: _Names, name: str, country: str | None) -> list[str]:
    try:
        key = team_key(name)
    except InvalidInputError:
        key = " ".join(name.split()).casefold()
    options: dict[str, str] = {}  # key -> the team it suggests
    for k, teams in names.teams.items():
        for team, c in teams:
            if country in (None, c):
                options.setdefault(k, team)
    for k, aliases in names.aliases.items():
        for c, team in aliases:
            if country in (None, c) and team_key(team) in names.teams:
                options.setdefault(k, team)
    close = difflib.get_close_matches(key, list(options), n=_SUGGESTIONS * 2, cutoff=_CUTOFF)
    if not close:  # a longer or shorter form: "Tottenham Hotspur FC", "Totten"
        close = [k for k in options if len(k) >= 3 and (k in key or key in k)]
    return list(dict.fromkeys(options[k] for k in close))[:_SUGGESTIONS]


async def did_you_mean(engine: Database, name: str, league: str | None = None) -> str:
    """``"; did you mean 'Tottenham'?"`` for a name that matches no team (the closest team
    names and aliases, within ``league``'s country when given), else ``""``."""
    found = await _names(engine)
    teams = _suggest(found, name, found.countries.get(league) if league else None)
    if not teams:
        return ""
    quoted = [repr(t) for t in teams]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"; did you mean {listed}?"


# --- the aliases table ------------------------------------------------------------------------


async def list_aliases(engine: AsyncEngine, country: str | None = None) -> list[dict[str, Any]]:
    """Every alias (of ``country``'s teams), by country and alias."""
    import sqlalchemy as sa

    table = _aliases_table()
    query = sa.select(
        table.c.alias, table.c.team_name, table.c.country, table.c.created_at
    ).order_by(table.c.country, table.c.alias_key)
    if country is not None:
        query = query.where(table.c.country == country)
    async with engine.connect() as conn:
        return [
            {"alias": a, "team": t, "country": c, "created_at": at}
            for a, t, c, at in await conn.execute(query)
        ]


def _country_of(names: _Names, league: str | None) -> str | None:
    if not league:
        return None
    if league not in names.countries:
        raise InvalidInputError(f"unknown league {league!r}")
    return names.countries[league]


async def add_alias(
    engine: AsyncEngine, alias: str, team: str, league: str | None = None
) -> dict[str, Any]:
    """Make ``alias`` another name of ``team`` (a stored team, within ``league``'s country
    when given).  Adding the same alias again is a no-op; an alias of another team, or the
    name of a team, is refused."""
    import sqlalchemy as sa
    from sqlalchemy.exc import IntegrityError

    from server.store.db import begin_write

    table = _aliases_table()
    names = await _names(engine, fresh=True)
    country = _country_of(names, league)
    text = canonical_team_name(alias)
    if not text or len(text) > 100:
        raise InvalidInputError("an alias is a name of 1 to 100 characters")
    where = f" in {country}" if country else ""
    targets = [(n, c) for n, c in names.teams.get(team_key(team), []) if country in (None, c)]
    if not targets:
        hint = await did_you_mean(engine, team, league)
        raise InvalidInputError(f"no team called {team!r}{where}{hint}")
    if len(targets) > 1:
        countries = ", ".join(sorted(c for _, c in targets))
        raise InvalidInputError(
            f"{team!r} is a team in several countries ({countries}): name the league"
        )
    (team_name, country), key = targets[0], text.casefold()
    if any(c == country for _, c in names.teams.get(key, [])):
        raise InvalidInputError(f"{text!r} is already the name of a team in {country}")
    try:
        async with begin_write(engine) as conn:
            await conn.execute(
                sa.insert(table).values(
                    alias=text, alias_key=key, country=country, team_name=team_name
                )
            )
    except IntegrityError:
        existing = [t for c, t in names.aliases.get(key, []) if c == country]
        if existing != [team_name]:
            async with engine.connect() as conn:
                row = (
                    await conn.execute(
                        sa.select(table.c.team_name).where(
                            table.c.alias_key == key, table.c.country == country
                        )
                    )
                ).first()
            if row is None or row[0] != team_name:
                other = row[0] if row else "another team"
                raise InvalidInputError(
                    f"{text!r} is already an alias of {other!r} in {country}: remove it first"
                ) from None
    cache.invalidate(engine)
    return {"alias": text, "team": team_name, "country": country}


async def remove_alias(engine: AsyncEngine, alias: str, league: str | None = None) -> int:
    """Remove ``alias`` (in ``league``'s country when given); returns how many went."""
    import sqlalchemy as sa

    from server.store.db import begin_write

    table = _aliases_table()
    names = await _names(engine, fresh=True)
    country = _country_of(names, league)
    query = sa.delete(table).where(table.c.alias_key == _key(alias))
    if country is not None:
        query = query.where(table.c.country == country)
    async with begin_write(engine) as conn:
        removed = (await conn.execute(query)).rowcount
    if not removed:
        raise AliasNotFoundError(f"no alias {alias!r}" + (f" in {country}" if country else ""))
    cache.invalidate(engine)
    return int(removed)
