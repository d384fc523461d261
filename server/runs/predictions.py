"""Predictions and evaluations from stored model versions (the service behind
``fpe predict``, ``fpe evaluate`` and the APIs)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.betting import betting_report
from core.errors import InvalidInputError, UnknownTeamError
from core.evaluation import BENCHMARK_SOURCES, benchmark_market, compare, versus_ceiling
from core.markets import MatchProbabilities
from core.odds import implied_probabilities
from core.odds import overround as overround_of
from core.pipeline import StoredModel, pre_match_market
from core.pricing import fit_grid
from core.pricing import price as price_grid
from server.formats.leagues import league_info
from server.runs.registry import get_model
from server.runs.runconfig import RunConfig
from server.runs.selection import load_matches
from server.store import cache
from server.store.tables import League, Team

__all__ = [
    "MAX_FIXTURES",
    "TeamLookupError",
    "consistent_markets",
    "evaluate",
    "market_rows",
    "markets",
    "predict",
    "predict_fixtures",
    "price",
]

TOTAL_LINES = (0.5, 1.5, 2.5, 3.5, 4.5)
HANDICAP_LINES = (-1.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 1.5)


class TeamLookupError(InvalidInputError):
    """A team name that matches no team, or several."""


_LOADED: OrderedDict[str, tuple[StoredModel, dict[str, Any]]] = OrderedDict()
_CACHE_SIZE = 8


async def _model_row(engine: AsyncEngine, version: str | None) -> dict[str, Any]:
    key = ("model", version)
    row = cache.get(engine, key, cache.ACTIVE_TTL)
    if row is None:
        row = await get_model(engine, version, with_weights=False)
        cache.put(engine, key, row)
    return row


async def _model(
    engine: AsyncEngine, version: str | None
) -> tuple[dict[str, Any], StoredModel, dict[str, Any]]:
    """The model's row, its rebuilt predictor and its weights.  Versions never change, so
    predictors are cached by version (the LightGBM model is parsed once, not per request)."""
    row = await _model_row(engine, version)
    cached = _LOADED.get(row["version"])
    if cached is None:
        weights = (await get_model(engine, row["version"]))["model_weights"]
        cached = (await asyncio.to_thread(StoredModel, weights), weights)
        _LOADED[row["version"]] = cached
        while len(_LOADED) > _CACHE_SIZE:
            _LOADED.popitem(last=False)
    else:
        _LOADED.move_to_end(row["version"])
    return row, cached[0], cached[1]


async def _team_ids(
    engine: AsyncEngine, names: list[str], league: str | None
) -> list[tuple[int, str]]:
    key = ("teams", tuple(names), league)
    found = cache.get(engine, key, cache.TEAM_TTL)
    if found is None:
        found = await _lookup_teams(engine, names, league)
        cache.put(engine, key, found)
    return found


async def _lookup_teams(
    engine: AsyncEngine, names: list[str], league: str | None
) -> list[tuple[int, str]]:
    """Resolve team names (case-insensitive) in one query, within the league's country."""
    t, lg = Team.__table__, League.__table__
    wanted = [" ".join(n.split()).lower() for n in names]
    query = sa.select(t.c.id, t.c.name, t.c.country).where(sa.func.lower(t.c.name).in_(wanted))
    if league:
        query = query.add_columns(
            sa.select(lg.c.country).where(lg.c.code == league).scalar_subquery().label("lc")
        )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
        if league and not rows:
            known = (await conn.execute(sa.select(lg.c.id).where(lg.c.code == league))).first()
            if known is None:
                raise InvalidInputError(f"unknown league {league!r}")
    if league:
        if rows and rows[0].lc is None:
            raise InvalidInputError(f"unknown league {league!r}")
        rows = [r for r in rows if r.country == r.lc]
    out = []
    for name, key in zip(names, wanted, strict=True):
        matches = [r for r in rows if r.name.lower() == key]
        if not matches:
            where = f" in {league_info(league).country}" if league else ""
            raise TeamLookupError(f"no team called {name!r}{where}")
        if len(matches) > 1:  # an exact spelling wins over case variants stored earlier
            matches = [r for r in matches if r.name == " ".join(name.split())] or matches
        if len(matches) > 1:
            if len({r.country for r in matches}) == 1:
                spellings = ", ".join(sorted(repr(r.name) for r in matches))
                raise TeamLookupError(f"{name!r} matches {spellings}: use the exact spelling")
            countries = ", ".join(sorted(r.country for r in matches))
            raise TeamLookupError(
                f"{name!r} is a team in several countries ({countries}): name the league"
            )
        out.append((matches[0].id, matches[0].name))
    return out


def _check_prices(odds: Any, over_under: Any) -> None:
    if odds is not None and (len(odds) != 3 or not all(o > 1.0 for o in odds)):
        raise InvalidInputError("odds must be three decimal prices above 1.0 (home draw away)")
    if over_under is not None and (len(over_under) != 2 or not all(o > 1.0 for o in over_under)):
        raise InvalidInputError("over/under odds must be two decimal prices above 1.0")


def _check_line(line: float) -> None:
    if not (line >= 0 and (line * 2) % 2 == 1):
        raise InvalidInputError(f"the totals line must be a half-goal line (2.5), got {line}")


def market_rows(grid: MatchProbabilities) -> list[dict[str, Any]]:
    """Every market of every fixture of ``grid``: 1X2, expected goals, the score grid,
    totals, both teams to score and Asian handicaps, all from the same grid (each market
    computed once for all fixtures)."""
    home_xg, away_xg = grid.expected_goals
    totals = {line: grid.totals(line) for line in TOTAL_LINES}
    handicaps = {line: grid.asian_handicap(line) for line in HANDICAP_LINES}
    rho = np.broadcast_to(grid.rho, (len(grid),))
    btts = grid.btts
    return [
        {
            "home_win": float(grid.home_win[i]),
            "draw": float(grid.draw[i]),
            "away_win": float(grid.away_win[i]),
            "expected_goals": {"home": float(home_xg[i]), "away": float(away_xg[i])},
            "rho": float(rho[i]),
            "score_grid": grid.grid[i].tolist(),
            "totals": {
                str(line): {"over": float(t.win[i]), "under": float(t.lose[i])}
                for line, t in totals.items()
            },
            "btts": {"yes": float(btts[i]), "no": float(1.0 - btts[i])},
            "asian_handicap": {
                f"{line:+g}": {
                    "win": float(h.win[i]),
                    "push": float(h.push[i]),
                    "lose": float(h.lose[i]),
                }
                for line, h in handicaps.items()
            },
        }
        for i in range(len(grid))
    ]


def markets(grid: MatchProbabilities, i: int = 0) -> dict[str, Any]:
    """Every market of fixture ``i`` of ``grid`` (see :func:`market_rows`)."""
    return market_rows(_rows(grid, np.array([i])))[0]


def _rows(grid: MatchProbabilities, idx: np.ndarray) -> MatchProbabilities:
    """The fixtures ``idx`` of ``grid``."""
    rho = np.broadcast_to(grid.rho, (len(grid),))[idx]
    return MatchProbabilities(
        [grid.home_team[i] for i in idx],
        [grid.away_team[i] for i in idx],
        np.asarray(grid.home_rate)[idx],
        np.asarray(grid.away_rate)[idx],
        grid.grid[idx],
        rho,
    )


def consistent_markets(
    probs: np.ndarray, goal: MatchProbabilities, over: np.ndarray, line: float = 2.5
) -> list[dict[str, Any]]:
    """The markets of each fixture from a grid that reproduces its final 1X2 ``probs``
    (and its over ``line`` probability where ``over`` is not NaN): the goal model's grid
    where it already does, else the fixture's rates (and rho) refitted.  A fixture whose
    prices no Dixon-Coles grid can reproduce with its totals keeps the 1X2 fit alone."""
    rows = market_rows(goal)
    has_over = ~np.isnan(over)
    refit = (np.abs(probs - goal.outcomes).max(axis=1) > 1e-12) | has_over
    rho = np.broadcast_to(goal.rho, (len(goal),))
    rates = np.asarray(goal.home_rate), np.asarray(goal.away_rate)

    def fit(idx: np.ndarray, with_over: bool) -> MatchProbabilities:
        return fit_grid(
            probs[idx],
            home_rate=rates[0][idx],
            away_rate=rates[1][idx],
            rho=rho[idx],
            over=over[idx] if with_over else None,
            line=line,
        )

    for with_over in (True, False):
        idx = np.flatnonzero(refit & (has_over if with_over else ~has_over))
        if idx.size == 0:
            continue
        try:
            fitted = [(idx, fit(idx, with_over))]
        except InvalidInputError:  # one fixture's prices: fit them one by one
            fitted = []
            for i in idx:
                one = np.array([i])
                try:
                    fitted.append((one, fit(one, with_over)))
                except InvalidInputError:
                    if not with_over:
                        raise
                    fitted.append((one, fit(one, False)))
        for where, grid in fitted:
            for i, row in zip(where, market_rows(grid), strict=True):
                rows[i] = row
    return rows


async def predict(
    engine: AsyncEngine,
    home: str,
    away: str,
    league: str | None = None,
    model_version: str | None = None,
    odds: tuple[float, float, float] | None = None,
    max_goals: int | None = None,
    over_under: tuple[float, float] | None = None,
    line: float = 2.5,
) -> dict[str, Any]:
    """1X2 probabilities of the active ``full`` model (or ``model_version``), with the
    score grid, totals, both-teams-to-score and Asian handicaps.  ``odds`` (decimal
    home/draw/away) feed the market blend; without them the blend falls back to the goal
    model.  When the final 1X2 is not the goal model's (blend, calibration), the match's
    goal rates are refitted so that the grid and every market reproduce it; ``over_under``
    (decimal prices of over/under ``line``) makes the grid reproduce the totals too
    (rho refitted).  ``max_goals`` cuts the grid (default: exact, < 1e-10 left out)."""
    if max_goals is not None and not 1 <= max_goals <= 20:
        raise InvalidInputError("max_goals must be between 1 and 20")
    _check_prices(odds, over_under)
    _check_line(line)
    model, stored, weights = await _model(engine, model_version)
    (home_id, home_name), (away_id, away_name) = await _team_ids(engine, [home, away], league)
    if home_id == away_id:
        raise InvalidInputError(f"{home_name!r} cannot play itself")
    margin = weights.get("config", {}).get("margin", "power")
    market = overround = None
    if odds is not None:
        prices = np.array([odds], dtype=float)
        market = implied_probabilities(prices, margin)
        overround = overround_of(prices)
    over = None
    if over_under is not None:
        over = implied_probabilities(np.array([over_under], dtype=float), margin)[:, 0]
    try:  # the pool, blend and grid refits are CPU work: off the event loop
        probs, goal_model, grid = await asyncio.to_thread(
            _predict_one, stored, (str(home_id), str(away_id)), market, overround, over, line
        )
    except UnknownTeamError as exc:
        names = {str(home_id): home_name, str(away_id): away_name}
        missing = ", ".join(repr(names.get(t, t)) for t in exc.teams)
        raise UnknownTeamError([f"{missing} (not in model {model['version']})"]) from None
    if max_goals is not None:
        grid = _cut(grid, max_goals)
    return {
        "model_version": model["version"],
        "model_type": model["model_type"],
        "home_team": home_name,
        "away_team": away_name,
        **markets(grid),
        "home_win": float(probs[0, 0]),
        "draw": float(probs[0, 1]),
        "away_win": float(probs[0, 2]),
        "used_odds": odds is not None and ("blend" in weights or "draw" in weights),
        "goal_model": {
            "home_win": float(goal_model.home_win[0]),
            "draw": float(goal_model.draw[0]),
            "away_win": float(goal_model.away_win[0]),
            "expected_goals": {
                "home": float(goal_model.expected_goals[0][0]),
                "away": float(goal_model.expected_goals[1][0]),
            },
        },
    }


def _predict_one(
    stored: StoredModel,
    teams: tuple[str, str],
    market: np.ndarray | None,
    overround: np.ndarray | None,
    over: np.ndarray | None,
    line: float,
) -> tuple[np.ndarray, MatchProbabilities, MatchProbabilities]:
    """(final 1X2, the goal model's grid, a grid that reproduces the final 1X2 and, when
    given, the ``over`` probability of ``line``) for one fixture."""
    probs, goal_model = stored.predict([teams[0]], [teams[1]], market, overround)
    if over is None and np.abs(probs - goal_model.outcomes).max() <= 1e-12:
        return probs, goal_model, goal_model
    grid = fit_grid(
        probs,
        home_rate=goal_model.home_rate,
        away_rate=goal_model.away_rate,
        rho=goal_model.rho,
        over=over,
        line=line,
    )
    return probs, goal_model, grid


def _cut(grid: MatchProbabilities, max_goals: int) -> MatchProbabilities:
    """The grid cut at ``max_goals`` goals a side and renormalised (an explicit request)."""
    cut = grid.grid[:, : max_goals + 1, : max_goals + 1].copy()
    cut /= cut.sum(axis=(1, 2))[:, None, None]
    return MatchProbabilities(
        grid.home_team, grid.away_team, grid.home_rate, grid.away_rate, cut, grid.rho
    )


def price(
    odds: tuple[float, float, float],
    over_under: tuple[float, float] | None = None,
    line: float = 2.5,
    margin: str = "power",
    rho: float = 0.0,
) -> dict[str, Any]:
    """The fair score grid and every derived market from 1X2 (+ over/under) odds alone,
    no fitted model: the service behind ``fpe price``."""
    _check_prices(odds, over_under)
    _check_line(line)
    grid = price_grid(
        [odds], None if over_under is None else [over_under], line=line, margin=margin, rho=rho
    )
    return {"odds": list(odds), "over_under": over_under and list(over_under), **markets(grid)}


async def evaluate(
    engine: AsyncEngine,
    model_version: str | None,
    selection: dict[str, Any],
    margin: str = "power",
    market: str = "pre",
) -> dict[str, Any]:
    """Score a stored model against one market source on chosen matches: the pre-match
    market (default) or the closing one (``market``), with the closing market reported as
    the ceiling.  The model's blend gets the matches' pre-match prices, the odds a forecast
    issued before kick-off can have.  Matches of teams the model does not know are skipped
    and counted; matches on or before the model's training data end are flagged as
    in-sample."""
    if market not in BENCHMARK_SOURCES:
        raise InvalidInputError(f"unknown market {market!r}; use 'pre' or 'close'")
    model, stored, weights = await _model(engine, model_version)
    config = RunConfig.from_json({"model_type": "poisson", **selection})
    frame = await load_matches(engine, config)
    known = set(weights["dixon_coles"]["parameters"]["teams"])
    usable = frame["home_team"].isin(known) & frame["away_team"].isin(known)
    frame = frame[usable].reset_index(drop=True)
    if frame.empty:
        raise InvalidInputError("none of the selected matches is between teams the model knows")
    features = await asyncio.to_thread(pre_match_market, frame, margin)
    probs, _ = await asyncio.to_thread(
        stored.predict,
        frame["home_team"].tolist(),
        frame["away_team"].tolist(),
        features[0],
        features[1],
    )
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
    reference = weights["dixon_coles"].get("fit", {}).get("reference_date")
    in_sample = 0
    if reference:
        in_sample = int((frame["date"] < np.datetime64(reference[:10])).sum())
    result["betting"] = await asyncio.to_thread(betting_report, frame, probs, y)
    result.update(
        model_version=model["version"],
        market_kind=market,
        market_source=bench.source,
        matches_without_market=bench.missing,
        skipped_unknown_teams=int((~usable).sum()),
        in_sample_matches=in_sample,
        period={
            "from": frame["date"].min().date().isoformat(),
            "to": frame["date"].max().date().isoformat(),
        },
    )
    return result


# --- many fixtures at once --------------------------------------------------------------

MAX_FIXTURES = 500
OUTCOMES = ("home", "draw", "away")


async def _resolve_fixture_teams(
    engine: AsyncEngine, fixtures: list[dict[str, Any]]
) -> list[tuple[int, str, int, str] | str]:
    """Per fixture ``(home id, home name, away id, away name)`` or the reason it cannot be
    resolved; two queries for the whole batch (teams by name, leagues by code)."""
    t, lg = Team.__table__, League.__table__
    names = {n.strip().lower() for f in fixtures for n in (f["home"], f["away"])}
    codes = {f["league"] for f in fixtures if f.get("league")}
    async with engine.connect() as conn:
        teams = (
            await conn.execute(
                sa.select(t.c.id, t.c.name, t.c.country).where(sa.func.lower(t.c.name).in_(names))
            )
        ).all()
        leagues = await conn.execute(sa.select(lg.c.code, lg.c.country).where(lg.c.code.in_(codes)))
        countries = {code: country for code, country in leagues}
    by_name: dict[str, list[Any]] = {}
    for row in teams:
        by_name.setdefault(row.name.lower(), []).append(row)
    out: list[tuple[int, str, int, str] | str] = []
    for f in fixtures:
        league = f.get("league")
        if league and league not in countries:
            out.append(f"unknown league {league!r}")
            continue
        found = []
        for name in (f["home"], f["away"]):
            rows = by_name.get(name.strip().lower(), [])
            if league:
                rows = [r for r in rows if r.country == countries[league]]
            if not rows:
                where = f" in {countries[league]}" if league else ""
                found.append(f"no team called {name!r}{where}")
            elif len(rows) > 1:
                found.append(f"{name!r} is a team in several countries: name the league")
            else:
                found.append(rows[0])
        problems = [x for x in found if isinstance(x, str)]
        if problems:
            out.append("; ".join(problems))
        elif found[0].id == found[1].id:
            out.append(f"{found[0].name!r} cannot play itself")
        else:
            out.append((found[0].id, found[0].name, found[1].id, found[1].name))
    return out


def _prices(odds: dict[str, Any] | None, keys: tuple[str, ...]) -> list[float] | None:
    if not odds or any(odds.get(k) is None for k in keys):
        return None
    values = [float(odds[k]) for k in keys]
    if not all(np.isfinite(v) and v > 1.0 for v in values):
        raise InvalidInputError(f"odds must be decimal prices above 1.0, got {values}")
    return values


async def predict_fixtures(
    engine: AsyncEngine,
    fixtures: list[dict[str, Any]],
    model_version: str | None = None,
    max_goals: int | None = None,
) -> list[dict[str, Any]]:
    """Predict many fixtures with one model load and one vectorised pass.

    Each fixture is ``{home, away[, league][, date][, odds][, edge_odds]}`` with ``odds``
    ``{home, draw, away[, over25, under25]}`` (decimal): they feed the market blend and give
    the margin-free market probabilities; ``edge`` per outcome is model probability x
    price - 1, against ``edge_odds`` (same keys; say, the best prices) when given, else
    against ``odds``.  The
    result is in input order: the same fields as :func:`predict` plus ``market`` and
    ``edge`` (None without odds), or ``{"error": reason}`` for a fixture whose teams or
    league are unknown (the others are still predicted)."""
    if not fixtures:
        return []
    if len(fixtures) > MAX_FIXTURES:
        raise InvalidInputError(
            f"{len(fixtures)} fixtures in one request; at most {MAX_FIXTURES}: split the list"
        )
    for i, f in enumerate(fixtures):
        for side in ("home", "away"):
            if not isinstance(f.get(side), str) or not f[side].strip():
                raise InvalidInputError(f"fixture {i + 1}: {side} must be a team name")
        try:
            _prices(f.get("odds"), OUTCOMES)
            _prices(f.get("odds"), ("over25", "under25"))
            _prices(f.get("edge_odds"), OUTCOMES)
            _prices(f.get("edge_odds"), ("over25", "under25"))
        except InvalidInputError as exc:
            raise InvalidInputError(f"fixture {i + 1}: {exc}") from None
    model, stored, weights = await _model(engine, model_version)
    known = set(weights["dixon_coles"]["parameters"]["teams"])
    resolved = await _resolve_fixture_teams(engine, fixtures)
    results: list[dict[str, Any]] = [{} for _ in fixtures]
    rows: list[int] = []
    for i, r in enumerate(resolved):
        if isinstance(r, str):
            results[i] = {"error": r}
            continue
        missing = [name for tid, name in ((r[0], r[1]), (r[2], r[3])) if str(tid) not in known]
        if missing:
            listed = ", ".join(repr(n) for n in missing)
            results[i] = {"error": f"{listed} not in model {model['version']}"}
        else:
            rows.append(i)
    if rows:
        computed = await asyncio.to_thread(
            _predict_rows,
            stored,
            weights,
            [fixtures[i] for i in rows],
            [resolved[i] for i in rows],
            max_goals,  # type: ignore[misc]
        )
        for i, result in zip(rows, computed, strict=True):
            results[i] = result | {
                "model_version": model["version"],
                "model_type": model["model_type"],
            }
    for f, result in zip(fixtures, results, strict=True):
        result.update(
            fixture={
                "home": f["home"],
                "away": f["away"],
                "league": f.get("league"),
                "date": f.get("date"),
            }
        )
    return results


def _predict_rows(
    stored: StoredModel,
    weights: dict[str, Any],
    fixtures: list[dict[str, Any]],
    teams: list[tuple[int, str, int, str]],
    max_goals: int | None,
) -> list[dict[str, Any]]:
    """The vectorised pass (in a thread: hundreds of score grids are CPU work)."""
    n = len(fixtures)
    margin = weights.get("config", {}).get("margin", "power")
    prices = np.full((n, 3), np.nan)
    for i, f in enumerate(fixtures):
        p = _prices(f.get("odds"), OUTCOMES)
        if p is not None:
            prices[i] = p
    priced = ~np.isnan(prices).any(axis=1)
    market = overround = None
    if priced.any():
        market = np.full((n, 3), np.nan)
        market[priced] = implied_probabilities(prices[priced], margin)
        overround = np.full(n, np.nan)
        overround[priced] = overround_of(prices[priced])
    probs, goal = stored.predict(
        [str(t[0]) for t in teams], [str(t[2]) for t in teams], market, overround
    )
    over = np.full(n, np.nan)
    for i, f in enumerate(fixtures):
        ou = _prices(f.get("odds"), ("over25", "under25"))
        if ou is not None:
            over[i] = implied_probabilities(np.array([ou]), margin)[0, 0]
    if max_goals is not None:
        goal = _cut(goal, max_goals)
    rows = consistent_markets(probs, goal, over)
    goal_xg = goal.expected_goals
    out = []
    for i, (f, t) in enumerate(zip(fixtures, teams, strict=True)):
        model_p = dict(zip(OUTCOMES, map(float, probs[i]), strict=True))
        over25 = rows[i]["totals"]["2.5"]["over"]
        result: dict[str, Any] = {
            "home_team": t[1],
            "away_team": t[3],
            **rows[i],
            "home_win": model_p["home"],
            "draw": model_p["draw"],
            "away_win": model_p["away"],
            "used_odds": bool(priced[i]) and ("blend" in weights or "draw" in weights),
            "goal_model": {
                "home_win": float(goal.home_win[i]),
                "draw": float(goal.draw[i]),
                "away_win": float(goal.away_win[i]),
                "expected_goals": {"home": float(goal_xg[0][i]), "away": float(goal_xg[1][i])},
            },
            "odds": None,
            "market": None,
            "edge": None,
        }
        edge_prices = _prices(f.get("edge_odds"), OUTCOMES) or (
            prices[i].tolist() if priced[i] else None
        )
        if priced[i]:
            result["odds"] = dict(zip(OUTCOMES, prices[i].tolist(), strict=True))
            result["market"] = dict(zip(OUTCOMES, map(float, market[i]), strict=True))  # type: ignore[index]
        if edge_prices is not None:
            result["edge"] = {
                k: model_p[k] * price - 1.0 for k, price in zip(OUTCOMES, edge_prices, strict=True)
            }
            result["edge_odds"] = dict(zip(OUTCOMES, edge_prices, strict=True))
        ou = _prices(f.get("odds"), ("over25", "under25"))
        if ou is not None:
            fair = implied_probabilities(np.array([ou]), margin)[0]
            result["market_over25"] = float(fair[0])
        edge_ou = _prices(f.get("edge_odds"), ("over25", "under25")) or ou
        if edge_ou is not None:
            result["edge_over25"] = {
                "over": over25 * edge_ou[0] - 1.0,
                "under": (1 - over25) * edge_ou[1] - 1.0,
            }
        out.append(result)
    return out
