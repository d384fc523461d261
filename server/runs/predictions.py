"""Predictions and evaluations from stored model versions (the service behind
``fpe predict``, ``fpe evaluate`` and the APIs).

This module only looks things up: the model (:func:`_model`, cached by version) and the
teams (:func:`resolve_teams`, the one resolver); the forecast itself is
:meth:`core.serving.StoredModel.forecast`, and every adapter formats its typed
:class:`FixtureResult`.  :func:`predict_fixture_rows` is the one fixtures-file loop."""

from __future__ import annotations

import asyncio
import functools
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, ParamSpec

from core.errors import FPEError, InvalidInputError, UnknownTeamError
from core.odds import OddsRule
from core.serving import Fixture, Prediction, StoredModel
from server.base.config import odds_rule
from server.base.dates import as_date
from server.formats.fixture_dates import check_fixture_date
from server.formats.leagues import league_info
from server.formats.teamnames import TeamNameError, canonical_team_name, team_key
from server.runs.modelerrors import ModelNotFoundError
from server.runs.pricing import check_line as _check_line
from server.runs.pricing import price
from server.runs.scope import NoModelForLeagueError, choose_model, choose_models, require_active
from server.runs.teams import did_you_mean, resolve_fixtures
from server.store import cache, reads
from server.store.lite import LiteReader
from server.store.reads import Database

if TYPE_CHECKING:  # SQLAlchemy, pandas and the evaluation are imported where they are
    # used: one fixture from a LiteReader needs none of them (a fast ``fpe predict``)
    from sqlalchemy.ext.asyncio import AsyncEngine

    from server.formats.fixtures import FixtureRow

__all__ = [
    "MAX_FIXTURES",
    "EvaluationBusyError",
    "FixtureResult",
    "TeamLookupError",
    "evaluate",
    "load_model",
    "predict",
    "predict_fixture_rows",
    "predict_fixtures",
    "price",
    "resolve_teams",
]

MAX_FIXTURES = 500
OUTCOMES = ("home", "draw", "away")


class TeamLookupError(InvalidInputError):
    """A team name that matches no team, or several."""


@dataclass(frozen=True)
class FixtureResult:
    """One fixture as asked (``home``, ``away``, ``league``, ``date``), the stored names
    of its teams and its :class:`~core.serving.Prediction`, or the ``error`` that stopped
    it; ``notes`` say which prices were not used and why."""

    fixture: Mapping[str, Any]
    prediction: Prediction | None = None
    home_team: str | None = None
    away_team: str | None = None
    error: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def model_version(self) -> str | None:
        """The version that predicted the fixture (None when it could not be)."""
        return None if self.prediction is None else self.prediction.model_version


# --- look-ups: the model -----------------------------------------------------------------

_LOADED: OrderedDict[str, StoredModel] = OrderedDict()
_CACHE_SIZE = 8


async def _get_model(
    engine: Database, version: str | None, with_weights: bool = True
) -> dict[str, Any]:
    """:func:`server.runs.registry.get_model` of the newest active ``full`` model or of
    ``version``: the row (with its weights), or from a LiteReader the version, type and
    weights."""
    if not isinstance(engine, LiteReader):
        from server.runs.registry import get_model

        return await get_model(engine, version, with_weights=with_weights)
    if version is None:
        version = (await require_active(engine, "full"))[0]["version"]
    row = await engine.model(version, with_weights)
    if row is None:
        raise ModelNotFoundError(f"no model has version {version!r}")
    return row


async def _model_row(engine: Database, version: str | None) -> dict[str, Any]:
    key = ("model", version)
    row = cache.get(engine, key, cache.ACTIVE_TTL)
    if row is None:
        row = await _get_model(engine, version, with_weights=False)
        cache.put(engine, key, row)
    return row


async def load_model(engine: Database, version: str | None) -> StoredModel:
    """The model rebuilt from its weights.  Versions never change, so models are cached by
    version (the LightGBM model is parsed once, not per request)."""
    row = await _model_row(engine, version)
    stored = _LOADED.get(row["version"])
    if stored is None:
        weights = (await _get_model(engine, row["version"]))["model_weights"]
        stored = await asyncio.to_thread(StoredModel, weights, row["version"], row["model_type"])
        _LOADED[row["version"]] = stored
        while len(_LOADED) > _CACHE_SIZE:
            _LOADED.popitem(last=False)
    else:
        _LOADED.move_to_end(row["version"])
    return stored


# --- look-ups: the teams -----------------------------------------------------------------

Resolved = tuple[int, str, int, str]  # home id, home name, away id, away name


async def resolve_teams(
    engine: Database, fixtures: Sequence[tuple[str, str, str | None]]
) -> list[Resolved | str]:
    """The one team resolver: per ``(home, away, league)`` the stored teams, or why they
    cannot be found; two queries for the whole batch.  Names are folded as the ingest folds
    them (:func:`~server.formats.teamnames.team_key`: Unicode forms, spaces, case); among
    several stored spellings of one name the exact one wins; a league restricts the search
    to its country, and a name in several countries needs one."""
    aliased = await resolve_fixtures(  # "Spurs" is Tottenham
        engine, [{"home": h, "away": a, "league": league} for h, a, league in fixtures]
    )
    fixtures = [(f["home"], f["away"], f["league"]) for f in aliased]
    keys: dict[str, str | TeamNameError] = {}
    for home, away, _ in fixtures:
        for name in (home, away):
            try:
                keys[name] = team_key(name)
            except TeamNameError as exc:
                keys[name] = exc
    wanted = {k for k in keys.values() if isinstance(k, str)}
    # stored names are compared in lower case: casefold() folds further ("ß" is "ss")
    wanted |= {canonical_team_name(n).lower() for n, k in keys.items() if isinstance(k, str)}
    codes = {league for _, _, league in fixtures if league}
    teams, countries = await reads.teams_and_countries(engine, wanted, codes)
    by_key: dict[str, list[Any]] = {}
    for row in teams:
        by_key.setdefault(team_key(row.name), []).append(row)

    async def one(name: str, league: str | None) -> Any:
        key = keys[name]
        if isinstance(key, TeamNameError):
            return str(key)
        rows = by_key.get(key, [])
        if league:
            rows = [r for r in rows if r.country == countries[league]]
        if not rows:
            where = f" in {league_info(league).country}" if league else ""
            return f"no team called {name!r}{where}{await did_you_mean(engine, name, league)}"
        if len(rows) > 1:  # an exact spelling wins over case variants stored earlier
            rows = [r for r in rows if r.name == canonical_team_name(name)] or rows
        if len(rows) > 1:
            if len({r.country for r in rows}) == 1:
                spellings = ", ".join(sorted(repr(r.name) for r in rows))
                return f"{name!r} matches {spellings}: use the exact spelling"
            listed = ", ".join(sorted(r.country for r in rows))
            return f"{name!r} is a team in several countries ({listed}): name the league"
        return rows[0]

    out: list[Resolved | str] = []
    for home, away, league in fixtures:
        if league and league not in countries:
            out.append(f"unknown league {league!r}")
            continue
        found = [await one(home, league), await one(away, league)]
        problems = [x for x in found if isinstance(x, str)]
        if problems:
            out.append("; ".join(problems))
        elif found[0].id == found[1].id:
            out.append(f"{found[0].name!r} cannot play itself")
        else:
            out.append((found[0].id, found[0].name, found[1].id, found[1].name))
    return out


async def _resolve_one(engine: Database, home: str, away: str, league: str | None) -> Resolved:
    key = ("teams", home, away, league)
    found = cache.get(engine, key, cache.TEAM_TTL)
    if found is None:
        (found,) = await resolve_teams(engine, [(home, away, league)])
        if isinstance(found, str):
            if found.startswith("unknown league"):
                raise InvalidInputError(found)
            raise TeamLookupError(found)
        cache.put(engine, key, found)
    return found


# --- checks of what a fixture carries --------------------------------------------------


def _day(value: Any) -> date | None:
    try:
        return as_date(value)
    except ValueError:
        raise InvalidInputError(f"date {value!r} is not a date (YYYY-MM-DD)") from None


def _date_problem(value: Any) -> str | None:
    """Why a fixture's date cannot be used (far from today), or ``None``."""
    day = _day(value)
    return None if day is None else check_fixture_date(day, datetime.now(UTC).date())


def _prices(odds: Mapping[str, Any] | None, keys: tuple[str, ...]) -> tuple[float, ...] | None:
    """The prices ``keys`` of ``odds`` when all are given."""
    if not odds or any(odds.get(k) is None for k in keys):
        return None
    return tuple(odds[k] for k in keys)


def _checked(
    rule: OddsRule, odds: Mapping[str, Any] | None, keys: tuple[str, ...], what: str
) -> tuple[float, ...] | None:
    prices = _prices(odds, keys)
    if prices is not None:
        rule.check(prices, what)
        return tuple(float(p) for p in prices)
    return None


# --- one fixture -----------------------------------------------------------------------


async def predict(
    engine: Database,
    home: str,
    away: str,
    league: str | None = None,
    model_version: str | None = None,
    odds: tuple[float, float, float] | None = None,
    max_goals: int | None = None,
    over_under: tuple[float, float] | None = None,
    line: float = 2.5,
    day: date | None = None,
) -> FixtureResult:
    """The forecast of the active ``full`` model (or ``model_version``) for one fixture:
    the batch of one of :meth:`~core.serving.StoredModel.forecast`.  ``odds`` (decimal
    home/draw/away) feed the market blend; ``over_under`` (over/under ``line``) makes the
    grid reproduce the totals too (an error when no grid can); ``max_goals`` cuts the grid.
    A ``day`` far from today is refused."""
    _check_line(line)
    rule = odds_rule()
    what = f"{home} v {away}"
    if odds is not None:
        rule.check(odds, f"{what}: the 1X2 odds")
    if over_under is not None:
        rule.check(over_under, f"{what}: the over/under odds")
    problem = _date_problem(day)
    if problem:
        raise InvalidInputError(f"{what}: {problem}")
    active = None if model_version else await require_active(engine, "full")  # first problem
    home_id, home_name, away_id, away_name = await _resolve_one(engine, home, away, league)
    if model_version is None:  # the active model covering the fixture's league
        model_version = await choose_model(
            engine, "full", [league or ""], [home_id, away_id], models=active
        )
    stored = await load_model(engine, model_version)
    fixture = Fixture(
        str(home_id),
        str(away_id),
        None if odds is None else tuple(map(float, odds)),  # type: ignore[arg-type]
        None if over_under is None else tuple(map(float, over_under)),  # type: ignore[arg-type]
        line,
    )
    try:  # the pool, blend and grid refits are CPU work: off the event loop
        (prediction,) = await asyncio.to_thread(stored.forecast, [fixture], max_goals, _today())
    except UnknownTeamError as exc:
        names = {str(home_id): home_name, str(away_id): away_name}
        missing = ", ".join(repr(names.get(t, t)) for t in exc.teams)
        raise UnknownTeamError([f"{missing} (not in model {stored.version})"]) from None
    if prediction.notes:  # one fixture's totals prices no grid reproduces: say so
        raise InvalidInputError(f"{what}: {prediction.notes[0]}")
    return FixtureResult(
        {"home": home, "away": away, "league": league, "date": day},
        prediction,
        home_name,
        away_name,
    )


# --- many fixtures at once --------------------------------------------------------------


def _fixture_echo(f: Mapping[str, Any]) -> dict[str, Any]:
    return {"home": f["home"], "away": f["away"], "league": f.get("league"), "date": f.get("date")}


async def predict_fixtures(
    engine: AsyncEngine,
    fixtures: list[dict[str, Any]],
    model_version: str | None = None,
    max_goals: int | None = None,
) -> list[FixtureResult]:
    """Predict many fixtures with one model load and one vectorised pass.

    Each fixture is ``{home, away[, league][, date][, odds][, edge_odds][, notes]}`` with
    ``odds`` ``{home, draw, away[, over25, under25]}`` (decimal): they feed the market blend
    and give the margin-free market probabilities; ``edge`` per outcome is model probability
    x price - 1, against ``edge_odds`` (same keys; say, the best prices) when given, else
    against ``odds``.  Odds that break the odds rule refuse the request, naming the fixture.
    The result is in input order; a fixture whose teams or league are unknown, or whose
    date is far from today, carries its ``error`` (the others are still predicted)."""
    if not fixtures:
        return []
    if len(fixtures) > MAX_FIXTURES:
        raise InvalidInputError(
            f"{len(fixtures)} fixtures in one request; at most {MAX_FIXTURES}: split the list"
        )
    rule = odds_rule()
    queries: list[Fixture] = []
    problems: list[str | None] = []
    for i, f in enumerate(fixtures):
        for side in ("home", "away"):
            if not isinstance(f.get(side), str) or not f[side].strip():
                raise InvalidInputError(f"fixture {i + 1}: {side} must be a team name")
        what = f"fixture {i + 1} ({f['home']} v {f['away']})"
        odds = _checked(rule, f.get("odds"), OUTCOMES, f"{what}: the 1X2 odds")
        ou = _checked(rule, f.get("odds"), ("over25", "under25"), f"{what}: the over/under odds")
        edge = _prices(f.get("edge_odds"), OUTCOMES)
        edge_ou = _prices(f.get("edge_odds"), ("over25", "under25"))
        queries.append(Fixture("", "", odds, ou, 2.5, edge, edge_ou))  # type: ignore[arg-type]
        try:
            problems.append(_date_problem(f.get("date")))
        except InvalidInputError as exc:
            raise InvalidInputError(f"{what}: {exc}") from None
    active = None if model_version else await require_active(engine, "full")
    resolved = await resolve_teams(
        engine, [(f["home"], f["away"], f.get("league")) for f in fixtures]
    )
    results = [
        FixtureResult(
            _fixture_echo(f),
            error=r if isinstance(r, str) else problems[i],
            notes=tuple(f.get("notes") or ()),
        )
        for i, (f, r) in enumerate(zip(fixtures, resolved, strict=True))
    ]
    ok = [i for i, r in enumerate(results) if r.error is None]
    chosen: list[str | NoModelForLeagueError]
    if model_version is not None:
        chosen = [model_version] * len(ok)
    else:  # per fixture, the active model covering its league
        wanted = [(fixtures[i].get("league"), _ids(resolved[i])) for i in ok]
        chosen = await choose_models(engine, "full", wanted, models=active)
    groups: dict[str, list[int]] = {}  # version -> the fixtures it serves
    for i, version in zip(ok, chosen, strict=True):
        if isinstance(version, NoModelForLeagueError):
            results[i] = replace(results[i], error=str(version))
        else:
            groups.setdefault(version, []).append(i)
    for version, members in groups.items():
        stored = await load_model(engine, version)
        rows: list[int] = []
        for i in members:
            r = resolved[i]
            assert not isinstance(r, str)
            missing = [n for tid, n in ((r[0], r[1]), (r[2], r[3])) if str(tid) not in stored.teams]
            if missing:
                listed = ", ".join(repr(n) for n in missing)
                results[i] = replace(results[i], error=f"{listed} not in model {stored.version}")
                continue
            queries[i] = replace(queries[i], home=str(r[0]), away=str(r[2]))
            results[i] = replace(results[i], home_team=r[1], away_team=r[3])
            rows.append(i)
        if not rows:
            continue
        computed = await asyncio.to_thread(
            stored.forecast, [queries[i] for i in rows], max_goals, _today()
        )
        for i, prediction in zip(rows, computed, strict=True):
            done = results[i]
            results[i] = replace(done, prediction=prediction, notes=done.notes + prediction.notes)
    return results


def _ids(resolved: Resolved | str) -> list[int]:
    assert not isinstance(resolved, str)
    return [resolved[0], resolved[2]]


async def predict_fixture_rows(
    engine: AsyncEngine,
    rows: list[FixtureRow],
    model_version: str | None = None,
    league: str | None = None,
    source: str = "the fixtures file",
) -> list[tuple[int, FixtureResult]]:
    """The one fixtures-file loop: the usable rows of a parsed file predicted in one pass
    (``league`` fills rows without a division), and every row's ``(line, result)`` in file
    order; a row the parser could not use carries its problem as the error."""
    if not rows:
        raise InvalidInputError(f"{source}: no fixtures in the file")
    if len(rows) > MAX_FIXTURES:
        raise InvalidInputError(
            f"{source}: {len(rows)} fixtures; at most {MAX_FIXTURES} per run: split the file"
        )
    usable = [r for r in rows if r.problem is None]
    fixtures = [r.fixture | {"league": r.fixture.get("league") or league} for r in usable]
    results = iter(await predict_fixtures(engine, fixtures, model_version) if usable else [])
    out = []
    for r in rows:
        if r.problem:
            result = FixtureResult(_fixture_echo(r.fixture), error=r.problem)
        else:
            result = next(results)
        out.append((r.line, result))
    return out


def _version_selection(
    row: Mapping[str, Any], selection: Mapping[str, Any]
) -> tuple[dict[str, Any], str]:
    """The matches to evaluate the version ``row`` on when ``selection`` names no leagues:
    its training leagues, within its validation period unless ``selection`` gives seasons
    or dates; and those words, to say which default was used."""
    out = dict(selection, leagues=list(row.get("training_leagues") or []))
    if selection.get("seasons") or selection.get("date_from") or selection.get("date_to"):
        return out, "the version's leagues"
    if row.get("validation_from") is None or row.get("validation_to") is None:
        return out, "the version's leagues (it stored no validation period)"
    out.update(date_from=row["validation_from"], date_to=row["validation_to"])
    return out, "the version's leagues and validation period"


FORECASTS_HELD_OUT = "held-out forecasts of the validation fit"
FORECASTS_STORED = "the stored model"


class EvaluationBusyError(FPEError):
    """Another evaluation is running in this server process; the message says to retry."""

    code = "SERVICE_UNAVAILABLE"
    http_status = 503


_P = ParamSpec("_P")
_EVALUATING = asyncio.Lock()  # scoring and bootstrapping hold the GIL for seconds


def _one_at_a_time(
    evaluation: Callable[_P, Awaitable[dict[str, Any]]],
) -> Callable[_P, Awaitable[dict[str, Any]]]:
    """Refuse, not queue, an evaluation while another runs: a queue of them would hold the
    server."""

    @functools.wraps(evaluation)
    async def run(*args: _P.args, **kwargs: _P.kwargs) -> dict[str, Any]:
        if _EVALUATING.locked():
            raise EvaluationBusyError(
                "another evaluation is running on this server: try again in a few seconds"
            )
        async with _EVALUATING:
            return await evaluation(*args, **kwargs)

    return run


@_one_at_a_time
async def evaluate(
    engine: AsyncEngine,
    model_version: str | None,
    selection: dict[str, Any],
    margin: str = "power",
    market: str = "pre",
    held_out: bool | None = None,
) -> dict[str, Any]:
    """Score a version's forecasts against one market source on chosen matches: the
    pre-match market (default) or the closing one (``market``), with the closing market
    reported as the ceiling, and the bets their edges select (:func:`_score`).

    Which forecasts: with ``held_out`` (the default for a named version without leagues,
    when it stored them) the version's held-out forecasts of its validation matches, made
    by the fit on the data before its validation period: out of sample, so the figures
    say whether the edges are real; selected matches without one are counted, not scored.
    Otherwise the stored model's forecasts, its blend given the matches' pre-match prices
    (the odds a forecast issued before kick-off can have): matches of teams it does not
    know are skipped and counted, and matches on or before its training data end are
    counted as in-sample (the stored model was refitted on them: figures on them flatter
    it).  A ``selection`` without leagues, for a named version, is the version's
    (:func:`_version_selection`); the result's ``selection`` says which matches were used
    and ``forecasts`` which forecasts were scored."""
    import numpy as np

    from core.sources import BENCHMARK_SOURCES
    from server.runs.selection import load_matches, parse_selection

    if market not in BENCHMARK_SOURCES:
        raise InvalidInputError(f"unknown market {market!r}; use 'pre' or 'close'")
    if held_out and model_version is None:
        raise InvalidInputError("held-out forecasts are a version's: name the version")
    asked = held_out
    if held_out is None:  # the default: held out when the version's own matches are asked
        held_out = model_version is not None and not selection.get("leagues")
    row: dict[str, Any] | None = None
    forecasts: dict[str, Any] | None = None
    scored = FORECASTS_STORED
    if model_version is not None:
        row = await _forecast_row(engine, model_version, held_out)
        forecasts = row.get("validation_forecasts") if held_out else None
        if held_out and not forecasts:
            if asked:  # asked for explicitly: no silent switch
                raise InvalidInputError(
                    f"model {row['version']} kept no held-out forecasts (trained before "
                    "they were stored): evaluate the stored model instead"
                )
            scored = f"{FORECASTS_STORED} (the version kept no held-out forecasts)"
    default = None
    if not selection.get("leagues") and row is not None:
        selection, default = _version_selection(row, selection)
    chosen = parse_selection(selection)
    if model_version is None:  # the active model covering the selected leagues
        model_version = await choose_model(engine, "full", chosen.leagues)
    frame = await load_matches(engine, chosen)
    skipped_unknown = skipped_unforecast = in_sample = 0
    if forecasts:
        assert row is not None
        version = row["version"]
        has, probs = await asyncio.to_thread(_held_out_probs, frame, forecasts)
        skipped_unforecast = int((~has).sum())
        frame, probs = frame[has].reset_index(drop=True), probs[has]
        if frame.empty:
            raise InvalidInputError(
                f"none of the selected matches has a held-out forecast of {version} (its "
                f"validation period: {row.get('validation_from')} to {row.get('validation_to')})"
            )
        scored = FORECASTS_HELD_OUT
    else:
        stored = await load_model(engine, model_version)
        version = stored.version
        usable = frame["home_team"].isin(stored.teams) & frame["away_team"].isin(stored.teams)
        skipped_unknown = int((~usable).sum())
        frame = frame[usable].reset_index(drop=True)
        if frame.empty:
            raise InvalidInputError("none of the selected matches is between teams the model knows")
        probs = await asyncio.to_thread(_stored_probs, stored, frame, margin)
        reference = stored.card.reference_date
        if reference:
            in_sample = int((frame["date"] < np.datetime64(reference[:10])).sum())
    result = await asyncio.to_thread(_score, frame, probs, market, margin)
    result.update(
        model_version=version,
        forecasts=scored,
        held_out=scored == FORECASTS_HELD_OUT,
        skipped_unknown_teams=skipped_unknown,
        skipped_without_forecast=skipped_unforecast,
        in_sample_matches=in_sample,
        selection={
            "leagues": list(chosen.leagues),
            "seasons": list(chosen.seasons),
            "date_from": chosen.date_from,
            "date_to": chosen.date_to,
            "default": default,
        },
        period={
            "from": frame["date"].min().date().isoformat(),
            "to": frame["date"].max().date().isoformat(),
        },
    )
    return result


async def _forecast_row(engine: AsyncEngine, version: str, held_out: bool) -> dict[str, Any]:
    """The version's row, with its held-out forecasts when ``held_out``."""
    if not held_out:
        return await _model_row(engine, version)
    from server.runs.registry import get_model

    return await get_model(engine, version, with_weights=False, with_forecasts=True)


def _held_out_probs(frame: Any, forecasts: Mapping[str, Any]) -> tuple[Any, Any]:
    """Per match of ``frame`` (a :func:`~server.runs.selection.load_matches` frame) whether
    the version held out a forecast of it, and that forecast (NaN rows: none): matched by
    date, league and teams (ids, as the training frame had them)."""
    import numpy as np

    stored = {
        (d, lg, h, a): p
        for d, lg, h, a, p in zip(
            forecasts["date"],
            forecasts["league"],
            forecasts["home"],
            forecasts["away"],
            forecasts["p"],
            strict=True,
        )
    }
    nan = (np.nan, np.nan, np.nan)
    keys = zip(
        (d.isoformat() for d in frame["date"].dt.date),
        frame["league"].astype(str),
        frame["home_team"],
        frame["away_team"],
        strict=True,
    )
    probs = np.array([stored.get(key, nan) for key in keys], dtype=float).reshape(-1, 3)
    return np.isfinite(probs).all(axis=1), probs


def _today() -> date:
    """The day a fixture is forecast on (a stored Kalman filter re-centres after a season
    break): today, in UTC."""
    return datetime.now(UTC).date()


def _stored_probs(stored: StoredModel, frame: Any, margin: str) -> Any:
    """The stored model's forecasts of ``frame``'s matches, its blend given their pre-match
    prices."""
    import numpy as np

    from core.pipeline import pre_match_market

    market, overround = pre_match_market(frame, margin)
    home = frame["home_team"].to_numpy(dtype=object)
    away = frame["away_team"].to_numpy(dtype=object)
    days = frame["date"].to_numpy(dtype="datetime64[D]")
    probs = np.full((len(frame), 3), np.nan)
    # each match as of its own day, as a fixture is served on its day (the Kalman filter
    # re-centres after a season break)
    for day in np.unique(days):
        rows = np.flatnonzero(days == day)
        probs[rows], _ = stored.predict(
            home[rows].tolist(),
            away[rows].tolist(),
            market[rows],
            overround[rows],
            on=day.astype(object),
        )
    return probs


def _score(frame: Any, probs: Any, market: str, margin: str) -> dict[str, Any]:
    """The one scoring of forecasts ``probs`` of ``frame``'s matches: against the ``market``
    source (and the closing market as the ceiling, for the pre-match one) on the matches it
    prices, and :func:`core.betting.betting_report` of the bets their edges select."""
    from core.betting import betting_report
    from core.evaluation import benchmark_market, compare, versus_ceiling

    bench = benchmark_market(frame, market, margin)
    priced = bench.priced
    if priced.sum() < 2:
        kind = "pre-match" if market == "pre" else "closing"
        raise InvalidInputError(
            f"fewer than two selected matches have {kind} prices (Pinnacle or market average)"
        )
    y = frame["result"].to_numpy()
    result = compare(probs[priced], bench.probs[priced], y[priced])
    if market == "pre":
        top = versus_ceiling(probs, y, priced, benchmark_market(frame, "close", margin))
        if top is not None:
            result["ceiling"] = top
    result["betting"] = betting_report(frame, probs, y)
    result.update(
        market_kind=market,
        market_source=bench.source,
        matches_without_market=bench.missing,
    )
    return result
