"""Predictions and evaluations from stored model versions (the service behind
``fpe predict``, ``fpe evaluate`` and the APIs)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import InvalidInputError, UnknownTeamError
from core.evaluation import BENCHMARK_SOURCES, benchmark_market, compare
from core.odds import implied_probabilities
from core.odds import overround as overround_of
from core.pipeline import StoredModel, pre_match_market
from server import cache
from server.leagues import league_info
from server.tables import League, Team
from server.training import RunConfig, get_model, load_matches

__all__ = ["TeamLookupError", "evaluate", "predict"]

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
    wanted = [n.strip().lower() for n in names]
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
        if len(matches) > 1:
            countries = ", ".join(sorted(r.country for r in matches))
            raise TeamLookupError(
                f"{name!r} is a team in several countries ({countries}): name the league"
            )
        out.append((matches[0].id, matches[0].name))
    return out


async def predict(
    engine: AsyncEngine,
    home: str,
    away: str,
    league: str | None = None,
    model_version: str | None = None,
    odds: tuple[float, float, float] | None = None,
    max_goals: int = 10,
) -> dict[str, Any]:
    """1X2 probabilities of the active ``full`` model (or ``model_version``), with the
    Dixon-Coles score grid, totals, both-teams-to-score and Asian handicaps.  ``odds``
    (decimal home/draw/away) feed the market blend; without them the blend falls back to
    the goal model."""
    if not 1 <= max_goals <= 20:
        raise InvalidInputError("max_goals must be between 1 and 20")
    if odds is not None and (len(odds) != 3 or not all(o > 1.0 for o in odds)):
        raise InvalidInputError("odds must be three decimal prices above 1.0 (home draw away)")
    model, stored, weights = await _model(engine, model_version)
    (home_id, home_name), (away_id, away_name) = await _team_ids(engine, [home, away], league)
    if home_id == away_id:
        raise InvalidInputError(f"{home_name!r} cannot play itself")
    market = overround = None
    if odds is not None:
        prices = np.array([odds], dtype=float)
        market = implied_probabilities(prices, weights.get("config", {}).get("margin", "power"))
        overround = overround_of(prices)
    try:
        # one fixture: microseconds of numpy, cheaper than a thread hop
        probs, grid = stored.predict([str(home_id)], [str(away_id)], market, overround, max_goals)
    except UnknownTeamError as exc:
        names = {str(home_id): home_name, str(away_id): away_name}
        missing = ", ".join(repr(names.get(t, t)) for t in exc.teams)
        raise UnknownTeamError([f"{missing} (not in model {model['version']})"]) from None
    home_xg, away_xg = grid.expected_goals
    totals = {
        str(line): {
            "over": float(grid.totals(line).win[0]),
            "under": float(grid.totals(line).lose[0]),
        }
        for line in TOTAL_LINES
    }
    handicaps = {}
    for line in HANDICAP_LINES:
        s = grid.asian_handicap(line)
        handicaps[f"{line:+g}"] = {
            "win": float(s.win[0]),
            "push": float(s.push[0]),
            "lose": float(s.lose[0]),
        }
    return {
        "model_version": model["version"],
        "model_type": model["model_type"],
        "home_team": home_name,
        "away_team": away_name,
        "home_win": float(probs[0, 0]),
        "draw": float(probs[0, 1]),
        "away_win": float(probs[0, 2]),
        "used_odds": odds is not None and "blend" in weights,
        "goal_model": {
            "home_win": float(grid.home_win[0]),
            "draw": float(grid.draw[0]),
            "away_win": float(grid.away_win[0]),
        },
        "expected_goals": {"home": float(home_xg[0]), "away": float(away_xg[0])},
        "score_grid": grid.grid[0].tolist(),
        "totals": totals,
        "btts": {"yes": float(grid.btts[0]), "no": float(1.0 - grid.btts[0])},
        "asian_handicap": handicaps,
    }


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
        ceiling = benchmark_market(frame, "close", margin)
        both = priced & ceiling.priced
        if both.sum() >= 2:
            c = compare(probs[both], ceiling.probs[both], y[both])
            result["ceiling"] = {
                "market_kind": "close",
                "market_source": ceiling.source,
                "n": c["n"],
                "market": c["market"],
                "rps_diff": c["rps_diff"],
                "rps_diff_se": c["rps_diff_se"],
            }
    reference = weights["dixon_coles"].get("fit", {}).get("reference_date")
    in_sample = 0
    if reference:
        in_sample = int((frame["date"] < np.datetime64(reference[:10])).sum())
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

