"""Serving: a stored model rebuilt from its weights, and the one way a forecast is made
from it.

:meth:`StoredModel.forecast` takes fixtures (:class:`Fixture`: the model's team keys and
the prices on offer) and returns one typed :class:`Prediction` each: the final 1X2, the
markets of a score grid that reproduces it (and the over probability of the given totals
prices), the goal model's own 1X2, the odds that were used, the margin-free market and the
edges, and the model version.  One fixture is the batch of one.  The rule "the grid
reproduces the final 1X2" lives in :func:`reproducing_grid`, and ``max_goals`` cuts the
final grid in one place (:func:`cut_grid`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from core.blend import Blend
from core.calibration import Calibrator, calibrator_from_dict
from core.dixon_coles import DixonColes
from core.draw import DrawModel
from core.errors import InvalidInputError, UnknownTeamError
from core.forecast import POOL_COMPONENTS, pooled_rates
from core.kalman import KalmanRatings, with_filter
from core.last_match import LastMatchShots
from core.last_match import component as shots_component
from core.market_model import MarketImplied
from core.markets import MatchProbabilities, feasible_rho
from core.odds import implied_probabilities
from core.odds import overround as overround_of
from core.pool import LogLinearPool, draw_component
from core.pricing import fit_grid

__all__ = [
    "HANDICAP_LINES",
    "TOTAL_LINES",
    "Fixture",
    "GoalPair",
    "Handicap",
    "Markets",
    "ModelCard",
    "Outcomes",
    "OverUnder",
    "Prediction",
    "StoredModel",
    "cut_grid",
    "markets_of",
    "predict_proba",
    "reproducing_grid",
]

TOTAL_LINES = (0.5, 1.5, 2.5, 3.5, 4.5)
HANDICAP_LINES = (-1.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 1.5)


# --- the typed result ------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcomes:
    """One number per 1X2 outcome (probabilities, prices or edges)."""

    home: float
    draw: float
    away: float

    @classmethod
    def of(cls, values: Sequence[Any]) -> Outcomes:
        return cls(float(values[0]), float(values[1]), float(values[2]))

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.home, self.draw, self.away)


@dataclass(frozen=True)
class OverUnder:
    over: float
    under: float


@dataclass(frozen=True)
class GoalPair:
    home: float
    away: float


@dataclass(frozen=True)
class Handicap:
    win: float
    push: float
    lose: float


@dataclass(frozen=True)
class Markets:
    """Every market of one score grid: its 1X2, expected goals, the grid, totals, both
    teams to score and Asian handicaps (lines as numbers, in :data:`TOTAL_LINES` and
    :data:`HANDICAP_LINES` order)."""

    outcomes: Outcomes
    expected_goals: GoalPair
    rho: float
    score_grid: tuple[tuple[float, ...], ...]
    totals: Mapping[float, OverUnder]
    btts: float  # both teams score
    asian_handicap: Mapping[float, Handicap]


@dataclass(frozen=True)
class Fixture:
    """One fixture to forecast: the model's team keys and the decimal prices on offer.
    ``odds`` (1X2) feed the market blend and give the market; ``over_under`` (over/under
    ``line``) makes the grid reproduce the totals too; the edges are against ``edge_odds``
    and ``edge_over_under`` (say, the best prices) when given, else against those."""

    home: str
    away: str
    odds: tuple[float, float, float] | None = None
    over_under: tuple[float, float] | None = None
    line: float = 2.5
    edge_odds: tuple[float, float, float] | None = None
    edge_over_under: tuple[float, float] | None = None


@dataclass(frozen=True)
class Prediction:
    """The forecast of one fixture by one stored model."""

    fixture: Fixture
    model_version: str
    model_type: str
    outcomes: Outcomes  # the final 1X2
    markets: Markets  # of a grid that reproduces ``outcomes`` (and the over/under prices)
    goal_model: Outcomes  # the goal model's own 1X2 ...
    goal_model_xg: GoalPair  # ... and its expected goals
    used_odds: bool  # the odds fed a blend or a draw model
    market: Outcomes | None = None  # margin-free 1X2 of ``fixture.odds``
    market_over: float | None = None  # margin-free over ``line`` of ``fixture.over_under``
    edge_odds: Outcomes | None = None  # the prices the edges are against
    edge: Outcomes | None = None  # per outcome: probability x price - 1
    edge_over_under: OverUnder | None = None  # the same for over/under ``line``
    notes: tuple[str, ...] = field(default=())  # what was not used, and why

    @property
    def odds(self) -> Outcomes | None:
        """The 1X2 prices given with the fixture."""
        return None if self.fixture.odds is None else Outcomes.of(self.fixture.odds)


# --- grids and their markets -----------------------------------------------------------------


def markets_of(grid: MatchProbabilities) -> list[Markets]:
    """The markets of every fixture of ``grid`` (each market computed once for all)."""
    home_xg, away_xg = grid.expected_goals
    totals = {line: grid.totals(line) for line in TOTAL_LINES}
    handicaps = {line: grid.asian_handicap(line) for line in HANDICAP_LINES}
    rho = np.broadcast_to(grid.rho, (len(grid),))
    btts = grid.btts
    return [
        Markets(
            outcomes=Outcomes(
                float(grid.home_win[i]), float(grid.draw[i]), float(grid.away_win[i])
            ),
            expected_goals=GoalPair(float(home_xg[i]), float(away_xg[i])),
            rho=float(rho[i]),
            score_grid=tuple(tuple(row) for row in grid.grid[i].tolist()),
            totals={
                line: OverUnder(float(t.win[i]), float(t.lose[i])) for line, t in totals.items()
            },
            btts=float(btts[i]),
            asian_handicap={
                line: Handicap(float(h.win[i]), float(h.push[i]), float(h.lose[i]))
                for line, h in handicaps.items()
            },
        )
        for i in range(len(grid))
    ]


def _rows(grid: MatchProbabilities, idx: np.ndarray) -> MatchProbabilities:
    rho = np.broadcast_to(grid.rho, (len(grid),))[idx]
    return MatchProbabilities(
        np.asarray(grid.home_team, dtype=object)[idx],
        np.asarray(grid.away_team, dtype=object)[idx],
        np.asarray(grid.home_rate)[idx],
        np.asarray(grid.away_rate)[idx],
        grid.grid[idx],
        rho,
    )


Groups = list[tuple[np.ndarray, MatchProbabilities]]


def reproducing_grid(
    probs: np.ndarray,
    grid: MatchProbabilities,
    over: np.ndarray | None = None,
    line: float = 2.5,
    refit: np.ndarray | None = None,
) -> tuple[Groups, list[str | None]]:
    """The rule "the grid reproduces the final 1X2", in one place: score grids whose 1X2 is
    ``probs`` (and whose over ``line`` probability is ``over`` where it is not NaN), as
    groups ``(fixture indices, their grids)``, and per fixture why its over probability could
    not be reproduced (``None`` when it was, or was not asked).

    ``grid`` (the goal model's) is kept where it already reproduces ``probs`` (to 1e-12) and
    no ``over`` is asked, unless ``refit`` selects the fixture; elsewhere the fixture's rates
    (and rho, with ``over``) are refitted from ``grid``'s.  A fixture whose totals no
    Dixon-Coles grid can reproduce with its 1X2 keeps the 1X2 fit alone."""
    n = len(grid)
    over = np.full(n, np.nan) if over is None else np.asarray(over, dtype=float)
    has_over = ~np.isnan(over)
    if refit is None:
        refit = np.abs(probs - grid.outcomes).max(axis=1) > 1e-12
    refit = refit | has_over
    notes: list[str | None] = [None] * n
    kept = np.flatnonzero(~refit)
    groups: Groups = [(kept, _rows(grid, kept))] if kept.size else []
    rho = np.broadcast_to(grid.rho, (n,))
    lam, mu = np.asarray(grid.home_rate), np.asarray(grid.away_rate)

    def fit(idx: np.ndarray, with_over: bool) -> MatchProbabilities:
        return fit_grid(
            probs[idx],
            home_rate=lam[idx],
            away_rate=mu[idx],
            rho=rho[idx],
            over=over[idx] if with_over else None,
            line=line,
        )

    for with_over in (True, False):
        idx = np.flatnonzero(refit & (has_over if with_over else ~has_over))
        if idx.size == 0:
            continue
        try:
            groups.append((idx, fit(idx, with_over)))
        except InvalidInputError:  # one fixture's prices: fit them one by one
            for i in idx:
                one = np.array([i])
                try:
                    groups.append((one, fit(one, with_over)))
                except InvalidInputError as exc:
                    if not with_over:
                        raise
                    notes[i] = str(exc)
                    groups.append((one, fit(one, False)))
    return groups, notes


def _merged(grid: MatchProbabilities, groups: Groups) -> MatchProbabilities:
    """One :class:`MatchProbabilities` of ``grid``'s fixtures from ``groups``."""
    if len(groups) == 1 and groups[0][0].size == len(grid):
        g = groups[0][1]
        return MatchProbabilities(
            grid.home_team, grid.away_team, g.home_rate, g.away_rate, g.grid, g.rho
        )
    n = len(grid)
    size = max(g.grid.shape[1] for _, g in groups)
    cells = np.zeros((n, size, size))
    lam, mu, rho = np.zeros(n), np.zeros(n), np.zeros(n)
    for where, g in groups:
        cells[where, : g.grid.shape[1], : g.grid.shape[2]] = g.grid
        lam[where], mu[where] = g.home_rate, g.away_rate
        rho[where] = np.broadcast_to(g.rho, (len(where),))
    return MatchProbabilities(grid.home_team, grid.away_team, lam, mu, cells, rho)


def _markets(groups: Groups, n: int, max_goals: int | None) -> list[Markets]:
    """The markets of each fixture from its group's grid, cut at ``max_goals`` if asked."""
    rows: list[Markets | None] = [None] * n
    for where, g in groups:
        cut = g if max_goals is None else cut_grid(g, max_goals)
        for i, m in zip(where, markets_of(cut), strict=True):
            rows[i] = m
    assert all(r is not None for r in rows)
    return rows  # type: ignore[return-value]


def cut_grid(grid: MatchProbabilities, max_goals: int) -> MatchProbabilities:
    """The grid cut at ``max_goals`` goals a side and renormalised (an explicit request;
    the default grid is exact, less than 1e-10 left out)."""
    if not 1 <= max_goals <= 20:
        raise InvalidInputError("max_goals must be between 1 and 20")
    cut = grid.grid[:, : max_goals + 1, : max_goals + 1].copy()
    cut /= cut.sum(axis=(1, 2))[:, None, None]
    return MatchProbabilities(
        grid.home_team, grid.away_team, grid.home_rate, grid.away_rate, cut, grid.rho
    )


# --- the stored model ------------------------------------------------------------------------


def _pool_components(
    weights: Mapping[str, Any], pool: LogLinearPool | None, has_shots: bool
) -> tuple[str, ...]:
    """The stored pool's components in order (of :data:`core.forecast.POOL_COMPONENTS`, the
    shots only where the model keeps each team's last match): Dixon-Coles and the
    market-implied component first (their weights pool the goal rates), then any of the
    others once.  Weights stored
    before the names were kept had those two and, with a third weight, the shots."""
    if pool is None:
        return ()
    given = (
        weights["pool"].get("components")
        or ("dixon_coles", "market_implied", "last_shots")[: len(pool.weights_)]
    )
    names = tuple(str(name) for name in given) if isinstance(given, list | tuple) else ()
    known = set(POOL_COMPONENTS) - (set() if has_shots else {"last_shots"})
    if (
        names[:2] != ("dixon_coles", "market_implied")
        or len(set(names)) != len(names)
        or set(names) - known
        or len(names) != len(pool.weights_)
    ):
        raise InvalidInputError(f"the pool's components {given!r} do not match its weights")
    return names


@dataclass(frozen=True)
class ModelCard:
    """What a stored model's weights say about it, read without rebuilding it: its teams,
    margin method, whether it uses odds, its training data's end, and the legacy summary
    fields (team strengths, home advantage, blend alpha, reliability curves, the draw
    model's parameters)."""

    teams: frozenset[str]
    margin: str
    uses_odds: bool
    reference_date: str | None
    team_strengths: Mapping[str, Mapping[str, float]]
    home_advantage: float | None
    blend_alpha: float | None
    calibration_curves: Mapping[str, Any] | None
    draw: Mapping[str, Any] | None

    @classmethod
    def from_weights(cls, weights: Mapping[str, Any]) -> ModelCard:
        dc = weights.get("dixon_coles") or {}
        return cls(
            teams=frozenset(str(t) for t in dc.get("parameters", {}).get("teams", [])),
            margin=(weights.get("config") or {}).get("margin", "power"),
            uses_odds="blend" in weights or "draw" in weights,
            reference_date=(dc.get("fit") or {}).get("reference_date"),
            team_strengths=weights.get("team_strengths") or {},
            home_advantage=weights.get("home_advantage"),
            blend_alpha=weights.get("blend_alpha"),
            calibration_curves=weights.get("calibration_curves") or None,
            draw=weights.get("draw") or None,
        )


class StoredModel:
    """A trained model rebuilt from its weights once, ready to predict many times."""

    def __init__(
        self, weights: Mapping[str, Any], version: str = "", model_type: str | None = None
    ) -> None:
        self.card = ModelCard.from_weights(weights)
        self.version = version
        self.model_type = model_type or weights.get("model_type") or ""
        self.dixon_coles = DixonColes.from_dict(weights["dixon_coles"])
        # models trained before the market-implied ratings existed have neither
        self.market_implied = (
            MarketImplied.from_dict(weights["market_implied"])
            if "market_implied" in weights
            else None
        )
        # models trained before the stored Kalman filter: the ratings alone
        self.kalman = KalmanRatings.from_dict(weights["kalman"]) if "kalman" in weights else None
        self.pool = LogLinearPool.from_dict(weights["pool"]) if "pool" in weights else None
        # models trained from matches with shots on target: the pool's third component
        self.last_shots = (
            LastMatchShots.from_dict(weights["last_shots"]) if "last_shots" in weights else None
        )
        self.pool_components = _pool_components(weights, self.pool, self.last_shots is not None)
        self.blend = Blend.from_dict(weights["blend"]) if "blend" in weights else None
        self.draw = DrawModel.from_dict(weights["draw"]) if "draw" in weights else None
        self.independent_poisson = (
            DixonColes.from_dict(weights["independent_poisson"]) if self.draw is not None else None
        )
        self.calibrator: Calibrator | None = (
            calibrator_from_dict(weights["calibrator"]) if "calibrator" in weights else None
        )

    @property
    def teams(self) -> frozenset[str]:
        return self.card.teams

    @property
    def margin(self) -> str:
        """The margin removal the model was trained with (apply it to the odds it gets)."""
        return self.card.margin

    @property
    def uses_odds(self) -> bool:
        """Whether odds change its forecast (a blend or a draw model)."""
        return self.card.uses_odds

    def predict(
        self,
        home: list[str],
        away: list[str],
        market: np.ndarray | None = None,
        overround: np.ndarray | None = None,
        on: date | None = None,
    ) -> tuple[np.ndarray, MatchProbabilities]:
        """1X2 probabilities for new fixtures, and the goal model's
        :class:`~core.markets.MatchProbabilities` (score grid and markets).  The engine's own
        forecast is the pool of Dixon-Coles and the market-implied component (it needs no
        odds): the ratings, with the Kalman filter's forecast for the day ``on`` where the
        model keeps one (:class:`~core.kalman.KalmanRatings`; ``None``: the day after its
        last match); its grid uses the pool's goal rates, refitted to reproduce the pool's 1X2.
        ``market`` is an optional (n, 3) array of margin-free market probabilities (NaN rows:
        no odds; the blend then falls back to the engine's forecast, the draw model to its
        weights without odds), ``overround`` the books' margins.  Market prices should be
        pre-match ones."""
        grid = self.dixon_coles.predict(home, away)
        probs = grid.outcomes
        dc_draw = grid.draw
        if self.market_implied is not None and self.pool is not None:
            probs, grid = self._pooled(grid, on)
        n = len(probs)
        if self.blend is not None:
            market = np.full((n, 3), np.nan) if market is None else np.asarray(market, float)
            overround = np.full(n, np.nan) if overround is None else np.asarray(overround, float)
            x = np.column_stack([probs, grid.home_rate, grid.away_rate, market, overround])
            probs = self.blend.predict_array(x)  # columns in FEATURES order
        if self.draw is not None and self.independent_poisson is not None:
            poisson = self.independent_poisson.predict(home, away)
            market_draw = np.full(n, np.nan) if market is None else np.asarray(market, float)[:, 1]
            # Dixon-Coles' own draw; home and away keep the engine forecast's ratio (as in
            # the pipeline's _fit_draw)
            x = np.column_stack([probs[:, 0], dc_draw, probs[:, 2], poisson.draw, market_draw])
            probs = self.draw.predict_proba(x)
        if self.calibrator is not None:
            probs = self.calibrator.predict(probs)
        return probs, grid

    def _pooled(
        self, grid: MatchProbabilities, on: date | None
    ) -> tuple[np.ndarray, MatchProbabilities]:
        """The pool where the market-implied ratings know both teams (a team without a
        priced match in the training data has none); Dixon-Coles alone elsewhere."""
        mi_model = self.market_implied
        assert mi_model is not None and self.pool is not None
        known = mi_model.knows(grid.home_team) & mi_model.knows(grid.away_team)
        probs = grid.outcomes.copy()
        if not known.any():
            return probs, grid
        home, away = grid.home_team[known], grid.away_team[known]
        mi = mi_model.predict(home, away)
        component = np.column_stack([mi.outcomes, mi.home_rate, mi.away_rate])
        if self.kalman is not None:
            component = with_filter(component, self.kalman.predict(home, away, on))
        given = {"dixon_coles": probs[known], "market_implied": component[:, :3]}
        if self.last_shots is not None:
            given["last_shots"] = shots_component(self.last_shots.predict(home, away))
        given["draw_intercept"] = draw_component(len(home))
        probs[known] = self.pool.predict([given[name] for name in self.pool_components])
        lam, mu = grid.home_rate.copy(), grid.away_rate.copy()
        lam[known], mu[known] = pooled_rates(
            [(lam[known], mu[known]), (component[:, 3], component[:, 4])],
            self.pool.weights_[:2],  # the shots component tilts the 1X2 only
        )
        rho = feasible_rho(self.dixon_coles.rho_, lam, mu)  # the pooled rates' own region
        pooled = MatchProbabilities(grid.home_team, grid.away_team, lam, mu, grid.grid, rho)
        # the grid reproduces the pool's 1X2, so its markets (and rates) agree with it
        groups, _ = reproducing_grid(probs, pooled, refit=np.ones(len(probs), dtype=bool))
        return probs, _merged(pooled, groups)

    def forecast(
        self, fixtures: Sequence[Fixture], max_goals: int | None = None, on: date | None = None
    ) -> list[Prediction]:
        """One :class:`Prediction` per fixture, in one vectorised pass, as of the day ``on``
        (see :meth:`predict`).  Raises :class:`~core.errors.UnknownTeamError` for teams the
        model does not know."""
        if not fixtures:
            return []
        n = len(fixtures)
        unknown = [t for f in fixtures for t in (f.home, f.away) if t not in self.teams]
        if unknown:
            raise UnknownTeamError(list(dict.fromkeys(unknown)))
        prices = np.full((n, 3), np.nan)
        for i, f in enumerate(fixtures):
            if f.odds is not None:
                prices[i] = f.odds
        priced = ~np.isnan(prices).any(axis=1)
        market = overround = None
        if priced.any():
            market = np.full((n, 3), np.nan)
            market[priced] = implied_probabilities(prices[priced], self.margin)
            overround = np.full(n, np.nan)
            overround[priced] = overround_of(prices[priced])
        probs, goal = self.predict(
            [f.home for f in fixtures], [f.away for f in fixtures], market, overround, on
        )
        over = np.full(n, np.nan)
        for i, f in enumerate(fixtures):
            if f.over_under is not None:
                over[i] = implied_probabilities(np.array([f.over_under]), self.margin)[0, 0]
        lines = {f.line for f in fixtures}
        if len(lines) > 1:
            raise InvalidInputError("one totals line per batch of fixtures")
        groups, notes = reproducing_grid(probs, goal, over, line=lines.pop())
        rows = _markets(groups, n, max_goals)
        goal_xg = goal.expected_goals
        out = []
        for i, f in enumerate(fixtures):
            final = Outcomes.of(probs[i])
            edge_odds = f.edge_odds or f.odds
            edge_ou = f.edge_over_under or f.over_under
            over_p = rows[i].totals.get(f.line, OverUnder(np.nan, np.nan)).over
            note = notes[i]
            out.append(
                Prediction(
                    fixture=f,
                    model_version=self.version,
                    model_type=self.model_type,
                    outcomes=final,
                    markets=rows[i],
                    goal_model=Outcomes(
                        float(goal.home_win[i]), float(goal.draw[i]), float(goal.away_win[i])
                    ),
                    goal_model_xg=GoalPair(float(goal_xg[0][i]), float(goal_xg[1][i])),
                    used_odds=bool(priced[i]) and self.uses_odds,
                    market=None if market is None or not priced[i] else Outcomes.of(market[i]),
                    market_over=None if np.isnan(over[i]) else float(over[i]),
                    edge_odds=None if edge_odds is None else Outcomes.of(edge_odds),
                    edge=None
                    if edge_odds is None
                    else Outcomes.of(
                        [p * o - 1.0 for p, o in zip(probs[i], edge_odds, strict=True)]
                    ),
                    edge_over_under=None
                    if edge_ou is None
                    else OverUnder(over_p * edge_ou[0] - 1.0, (1 - over_p) * edge_ou[1] - 1.0),
                    notes=() if note is None else (f"the over/under prices were not used: {note}",),
                )
            )
        return out


def predict_proba(
    weights: dict[str, Any],
    home: list[str],
    away: list[str],
    market: np.ndarray | None = None,
    overround: np.ndarray | None = None,
) -> tuple[np.ndarray, Any]:
    """:meth:`StoredModel.predict` of the model stored as ``weights``."""
    return StoredModel(weights).predict(home, away, market, overround)
