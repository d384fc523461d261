"""Jackpots: a list of fixtures with their 1X2 odds, probability sets A-G computed once at
creation and frozen with the model versions that made them (the service behind the legacy
app's jackpot pages and GraphQL; saved picks: :mod:`server.runs.jackpot_results`, templates:
:mod:`server.runs.jackpot_templates`).

The sets (``docs/jackpots.md``):

- **A** the engine's forecast without the fixture's odds (the active model's fallback without
  a market, calibrated when the model has a calibrator);
- **B** the active model with the fixture's odds (blend + calibration): the calibrated
  answer, the only set allowed for decision support;
- **C** the margin-free market (the model's margin method), not calibrated;
- **D** the active draw model's draw, home and away in B's ratio;
- **E** B sharpened with temperature :data:`TEMPERATURE` (``p ** (1 / T)`` renormalised), a
  heuristic;
- **F** left out: nothing honest to put there;
- **G** the mean of A, B and C.

Probabilities are stored as fractions; adapters format them (the REST shim in percent).
"""

from __future__ import annotations

import asyncio
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import InvalidInputError, NotFoundError
from server.formats.leagues import KNOWN_LEAGUES
from server.runs import predictions, registry
from server.runs.modelerrors import ModelNotFoundError
from server.store.db import begin_write, insert_row
from server.store.tables import Jackpot, JackpotFixture

__all__ = [
    "MAX_BOOK",
    "MAX_JACKPOT_FIXTURES",
    "MAX_NAME",
    "MAX_ODDS",
    "MIN_ODDS",
    "SETS",
    "TEMPERATURE",
    "FixtureIn",
    "JackpotNotFoundError",
    "compute_sets",
    "create_jackpot",
    "entropy_bits",
    "get_jackpot",
    "jackpot_row",
    "parse_fixtures",
    "percent",
    "text_field",
]

SETS = ("A", "B", "C", "D", "E", "G")
TEMPERATURE = 0.75  # set E: p ** (1 / T), T < 1 sharpens
MIN_ODDS, MAX_ODDS = 1.01, 1000.0
MAX_BOOK = 1.30  # sum of 1 / odds
MAX_JACKPOT_FIXTURES = 30
MAX_NAME = 255
_MAX_ID = 64
_J, _F = Jackpot.__table__, JackpotFixture.__table__


class JackpotNotFoundError(NotFoundError):
    """No jackpot, saved result or template has that id."""


@dataclass(frozen=True)
class FixtureIn:
    """One fixture as the user entered it; ``odds`` are decimal home/draw/away."""

    id: str
    home: str
    away: str
    odds: tuple[float, float, float]
    match_date: str | None = None
    league: str | None = None

    def label(self, i: int) -> str:
        return f"fixture {i + 1} ({self.home} v {self.away})"

    @property
    def code(self) -> str | None:
        """The league as a football-data.co.uk code, which narrows the team look-up to its
        country; a league's name is only shown."""
        return self.league if self.league in KNOWN_LEAGUES else None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "home": self.home,
            "away": self.away,
            "odds": list(self.odds),
            "match_date": self.match_date,
            "league": self.league,
        }


# --- input ---------------------------------------------------------------------------------


def text_field(value: Any, what: str, limit: int) -> str:
    """A non-empty string of at most ``limit`` characters, its whitespace collapsed."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} must be a non-empty string")
    value = " ".join(value.split())
    if len(value) > limit:
        raise InvalidInputError(f"{what} is longer than {limit} characters")
    return value


def _price(value: Any, where: str, side: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{where}: the {side} odds must be a decimal number, not {value!r}")
    if not MIN_ODDS <= value <= MAX_ODDS:
        raise InvalidInputError(
            f"{where}: the {side} odds {value:g} are outside [{MIN_ODDS:g}, {MAX_ODDS:g}]"
        )
    return float(value)


def parse_fixtures(items: Any) -> list[FixtureIn]:
    """Check a jackpot's fixtures: 1-30 of them, each ``{id, homeTeam, awayTeam, odds: {home,
    draw, away}[, matchDate][, league]}`` (``home``/``away`` are accepted for the team names),
    decimal odds in [1.01, 1000] with a book of at most 130 %, ids unique.  Every problem
    names its fixture; nothing is filled in."""
    if not isinstance(items, list) or not items:
        raise InvalidInputError("fixtures must be a non-empty list")
    if len(items) > MAX_JACKPOT_FIXTURES:
        raise InvalidInputError(
            f"{len(items)} fixtures: a jackpot has at most {MAX_JACKPOT_FIXTURES}"
        )
    out: list[FixtureIn] = []
    for i, item in enumerate(items):
        where = f"fixture {i + 1}"
        if not isinstance(item, dict):
            raise InvalidInputError(f"{where} must be an object")
        home = item.get("homeTeam", item.get("home"))
        away = item.get("awayTeam", item.get("away"))
        home = text_field(home, f"{where}: homeTeam", 100)
        away = text_field(away, f"{where}: awayTeam", 100)
        where = f"{where} ({home} v {away})"
        raw_id = item.get("id", i + 1)
        if isinstance(raw_id, int) and not isinstance(raw_id, bool):
            raw_id = str(raw_id)
        fixture_id = text_field(raw_id, f"{where}: id", _MAX_ID)
        odds = item.get("odds")
        if not isinstance(odds, dict) or any(odds.get(k) is None for k in ("home", "draw", "away")):
            raise InvalidInputError(
                f"{where}: odds must be {{home, draw, away}} decimal prices; none are made up"
            )
        prices = tuple(_price(odds[k], where, k) for k in ("home", "draw", "away"))
        book = sum(1.0 / p for p in prices)
        if book > MAX_BOOK:
            raise InvalidInputError(
                f"{where}: the odds make a book of {100 * book:.1f} %, more than "
                f"{100 * MAX_BOOK:.0f} %: check them"
            )
        date, league = item.get("matchDate"), item.get("league")
        date = None if date is None else text_field(date, f"{where}: matchDate", 32)
        league = None if league is None else text_field(league, f"{where}: league", 100)
        out.append(FixtureIn(fixture_id, home, away, prices, date, league))  # type: ignore[arg-type]
    seen: set[str] = set()
    for f in out:
        if f.id in seen:
            raise InvalidInputError(f"fixture id {f.id!r} is used twice: ids must be unique")
        seen.add(f.id)
    return out


async def _check_teams(engine: AsyncEngine, fixtures: list[FixtureIn]) -> None:
    """Refuse unknown team names, all of them in one message with suggested spellings (the
    one resolver: aliases, the team-name rule, a football-data code's country)."""
    found = await predictions.resolve_teams(engine, [(f.home, f.away, f.code) for f in fixtures])
    problems = [
        f"{f.label(i)}: {r}"
        for i, (f, r) in enumerate(zip(fixtures, found, strict=True))
        if isinstance(r, str)
    ]
    if problems:
        raise InvalidInputError("; ".join(problems))


# --- the sets ------------------------------------------------------------------------------


def entropy_bits(p: np.ndarray) -> float:
    p = np.asarray(p, dtype=float)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def percent(p: Any) -> list[float]:
    """Three probabilities as percent with two decimals summing to exactly 100 (largest
    remainders get the spare hundredths)."""
    units = np.asarray(p, dtype=float) / float(np.sum(p)) * 10_000
    floor = np.floor(units).astype(int)
    spare = 10_000 - int(floor.sum())
    for k in np.argsort(-(units - floor), kind="stable")[:spare]:
        floor[k] += 1
    return [int(u) / 100 for u in floor]


def _row(
    p: np.ndarray,
    calibrated: bool,
    heuristic: bool = False,
    decision: bool = False,
    components: dict[str, float | None] | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "home": float(p[0]),
        "draw": float(p[1]),
        "away": float(p[2]),
        "entropy": entropy_bits(p),
        "calibrated": calibrated,
        "heuristic": heuristic,
        "decision_support": decision,
    }
    if components is not None:
        row["draw_components"] = components
    return row


def compute_sets(
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    draw: float | None,
    components: dict[str, float | None] | None,
    calibrated: bool,
    decision: bool = True,
) -> dict[str, dict[str, Any]]:
    """The sets of one fixture from A (no odds), B (with odds), C (margin-free market) and
    the draw model's draw (None: no draw model, no D); ``decision``: B is the calibrated blend
    of a ``full`` model, fit for decision support."""
    a, b, c = (np.asarray(x, dtype=float) for x in (a, b, c))
    sharp = b ** (1.0 / TEMPERATURE)
    sets = {
        "A": _row(a, calibrated, components=components),
        "B": _row(b, calibrated, decision=decision, components=components),
        "C": _row(c, False, components=components),
        "E": _row(sharp / sharp.sum(), False, heuristic=True),
        "G": _row((a + b + c) / 3.0, False, heuristic=True),
    }
    if draw is not None:
        rest = (1.0 - draw) / (b[0] + b[2])
        sets["D"] = _row(np.array([b[0] * rest, draw, b[2] * rest]), False)
    return {k: sets[k] for k in SETS if k in sets}


# --- predictions -----------------------------------------------------------------------------


async def _predict(
    engine: AsyncEngine, fixtures: list[dict[str, Any]], version: str
) -> list[predictions.FixtureResult]:
    """The one call into the prediction service, per fixture ``{home, away[, league][,
    odds]}``."""
    return await predictions.predict_fixtures(engine, fixtures, version)


def _three(result: predictions.FixtureResult) -> np.ndarray:
    assert result.prediction is not None
    return np.array(result.prediction.outcomes.as_tuple())


async def _draw_components(
    engine: AsyncEngine, version: str, results: list[predictions.FixtureResult]
) -> list[dict[str, float | None]]:
    """The draw model's three component draws per fixture: its independent Poisson model,
    Dixon-Coles' own draw and the margin-free market's."""
    stored = await predictions.load_model(engine, version)
    out: list[dict[str, float | None]] = [
        {
            "poisson": None,
            "dixon_coles": None,
            "market": None
            if r.prediction is None or r.prediction.market is None
            else r.prediction.market.draw,
        }
        for r in results
    ]
    # the team ids the full model's forecast was made for (no second name look-up)
    pairs = [
        ("", "") if r.prediction is None else (r.prediction.fixture.home, r.prediction.fixture.away)
        for r in results
    ]
    rows_ok = [i for i, (h, a) in enumerate(pairs) if h in stored.teams and a in stored.teams]
    poisson_model = stored.independent_poisson
    if not rows_ok or poisson_model is None:
        return out
    home_ids = [pairs[i][0] for i in rows_ok]
    away_ids = [pairs[i][1] for i in rows_ok]
    dc, poisson = await asyncio.to_thread(
        lambda: (
            stored.dixon_coles.predict(home_ids, away_ids),
            poisson_model.predict(home_ids, away_ids),
        )
    )
    for k, i in enumerate(rows_ok):
        out[i]["poisson"] = float(poisson.draw[k])
        out[i]["dixon_coles"] = float(dc.draw[k])
    return out


_PREDICTING_TYPES = ("full", "calibration", "blending", "poisson")  # in order of preference


async def _active_model(engine: AsyncEngine) -> dict[str, Any]:
    """The active ``full`` model, else the active model of the next type that predicts all
    three outcomes with odds (``draw`` models give set D only)."""
    for model_type in _PREDICTING_TYPES:
        models = await registry.list_models(engine, status="active", model_type=model_type, limit=1)
        if models:
            return models[0]
    raise ModelNotFoundError(
        "there is no active model to predict the jackpot with: train one first (a full model "
        "gives the calibrated set B)"
    )


async def _active_version(engine: AsyncEngine, model_type: str) -> str | None:
    models = await registry.list_models(engine, status="active", model_type=model_type, limit=1)
    return models[0]["version"] if models else None


def _failures(
    fixtures: list[FixtureIn], results: list[predictions.FixtureResult], version: str
) -> None:
    problems = [
        f"{f.label(i)}: {r.error}"
        for i, (f, r) in enumerate(zip(fixtures, results, strict=True))
        if r.error is not None
    ]
    if problems:
        raise InvalidInputError(
            f"no active model covers every fixture (model {version}): " + "; ".join(problems)
        )


async def _probabilities(
    engine: AsyncEngine, fixtures: list[FixtureIn]
) -> tuple[str, str | None, list[dict[str, Any]], list[str]]:
    """(model version, draw model version, per fixture its sets, warnings)."""
    model = await _active_model(engine)
    version = model["version"]
    calibrated = model["model_type"] in ("full", "calibration")
    full = model["model_type"] == "full"
    warnings: list[str] = []
    if not full:
        warnings.append(
            f"there is no active full model: the sets come from the active "
            f"{model['model_type']} model {version}, so B is not the calibrated blend with the "
            "odds and no set is marked for decision support"
        )
    plain = [{"home": f.home, "away": f.away, "league": f.code} for f in fixtures]
    priced = [
        p | {"odds": dict(zip(("home", "draw", "away"), f.odds, strict=True))}
        for p, f in zip(plain, fixtures, strict=True)
    ]
    results = await _predict(engine, plain + priced, version)
    without, with_odds = results[: len(fixtures)], results[len(fixtures) :]
    _failures(fixtures, with_odds, version)
    draw_version = await _active_version(engine, "draw")
    draws: list[float | None] = [None] * len(fixtures)
    components: list[dict[str, float | None] | None] = [None] * len(fixtures)
    if draw_version is None:
        warnings.append("there is no active draw model: set D and drawComponents are left out")
    else:
        drawn = await _predict(engine, priced, draw_version)
        if any(r.prediction is None for r in drawn):
            warnings.append(
                f"the draw model {draw_version} does not know every team: set D is left out"
            )
            draw_version = None
        else:
            draws = [float(_three(r)[1]) for r in drawn]
            components = list(await _draw_components(engine, draw_version, with_odds))
    sets: list[dict[str, Any]] = []
    for i, (a, b) in enumerate(zip(without, with_odds, strict=True)):
        assert b.prediction is not None and b.prediction.market is not None
        three = [_three(a), _three(b)]
        market = np.array(b.prediction.market.as_tuple())
        sets.append(
            {
                "home_team": b.home_team,
                "away_team": b.away_team,
                "sets": compute_sets(
                    three[0], three[1], market, draws[i], components[i], calibrated, full
                ),
            }
        )
    if draw_version is None:
        for s in sets:
            s["sets"].pop("D", None)
    return version, draw_version, sets, warnings


# --- jackpots ------------------------------------------------------------------------------


def _new_id() -> str:
    return f"JK-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(6)}"


async def create_jackpot(
    engine: AsyncEngine, fixtures: list[FixtureIn], name: str | None = None
) -> dict[str, Any]:
    """Predict every fixture with the active models and store the sets: computed once,
    here, never again.  Unknown teams and teams no active model covers are refused, every
    one named; no fixture is skipped (the sets are aligned by index)."""
    if not 1 <= len(fixtures) <= MAX_JACKPOT_FIXTURES:
        raise InvalidInputError(f"a jackpot has 1 to {MAX_JACKPOT_FIXTURES} fixtures")
    await _check_teams(engine, fixtures)
    version, draw_version, computed, warnings = await _probabilities(engine, fixtures)
    now = datetime.now(UTC)
    name = text_field(name, "name", MAX_NAME) if name else f"Jackpot {now:%Y-%m-%d %H:%M}"
    public_id = _new_id()
    async with begin_write(engine) as conn:
        jackpot_id = await insert_row(
            conn,
            _J,
            public_id=public_id,
            name=name,
            model_version=version,
            draw_model_version=draw_version,
            status="calculated",
            warnings=warnings,
            created_at=now,
        )
        await conn.execute(
            sa.insert(_F),
            [
                {
                    "jackpot_id": jackpot_id,
                    "position": i,
                    "fixture_id": f.id,
                    "home_team": f.home,
                    "away_team": f.away,
                    "home_odds": f.odds[0],
                    "draw_odds": f.odds[1],
                    "away_odds": f.odds[2],
                    "match_date": f.match_date,
                    "league": f.league,
                    "probabilities": c,
                }
                for i, (f, c) in enumerate(zip(fixtures, computed, strict=True))
            ],
        )
    return await get_jackpot(engine, public_id)


async def jackpot_row(conn: Any, public_id: str) -> Any:
    """The ``jackpots`` row of a public id (a :class:`JackpotNotFoundError` if none)."""
    row = (await conn.execute(sa.select(_J).where(_J.c.public_id == public_id))).first()
    if row is None:
        raise JackpotNotFoundError(f"no jackpot has id {public_id!r}")
    return row


async def get_jackpot(engine: AsyncEngine, public_id: str) -> dict[str, Any]:
    """A jackpot with its fixtures (in entry order) and the sets stored at creation."""
    async with engine.connect() as conn:
        row = await jackpot_row(conn, public_id)
        fixtures = (
            await conn.execute(
                sa.select(_F).where(_F.c.jackpot_id == row.id).order_by(_F.c.position)
            )
        ).all()
    return {
        "id": row.public_id,
        "name": row.name,
        "model_version": row.model_version,
        "draw_model_version": row.draw_model_version,
        "status": row.status,
        "warnings": list(row.warnings or []),
        "created_at": row.created_at,
        "fixtures": [
            {
                "id": f.fixture_id,
                "home": f.home_team,
                "away": f.away_team,
                "odds": {"home": f.home_odds, "draw": f.draw_odds, "away": f.away_odds},
                "match_date": f.match_date,
                "league": f.league,
                "sets": f.probabilities["sets"],
            }
            for f in fixtures
        ],
    }
