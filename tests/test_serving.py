"""core.serving: a stored model's typed forecast, the batch form of one fixture."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInputError, UnknownTeamError
from core.kalman import KalmanRatings, with_filter
from core.last_match import LastMatchShots
from core.last_match import component as shots_component
from core.odds import implied_probabilities
from core.pipeline import TrainingConfig, train
from core.pool import LogLinearPool, draw_component
from core.serving import Fixture, ModelCard, Prediction, StoredModel, cut_grid, reproducing_grid
from server.formats.footballdata import read_file


@pytest.fixture(scope="module")
def weights(request) -> dict:
    folder = request.getfixturevalue("football_data_dir")
    frames = [read_file(p).matches for p in sorted(folder.glob("*/E0.csv"))[-3:]]
    frame = pd.concat(frames, ignore_index=True)
    frame["country"] = "England"
    trained = train(frame, TrainingConfig(model_type="full"))
    return json.loads(json.dumps(trained.weights))  # as stored


@pytest.fixture(scope="module")
def model(weights) -> StoredModel:
    return StoredModel(weights, "full-test", "full")


def _teams(model: StoredModel) -> list[str]:
    return sorted(model.teams)[:6]


def _grid(p: Prediction) -> np.ndarray:
    return np.array(p.markets.score_grid)


def _reproduces(p: Prediction) -> None:
    grid = _grid(p)
    x, y = np.indices(grid.shape)
    assert abs(grid.sum() - 1) < 1e-12
    for cells, value in zip((x > y, x == y, x < y), p.outcomes.as_tuple(), strict=True):
        assert abs(grid[cells].sum() - value) < 1e-9


def test_a_prediction_is_typed_and_frozen(model):
    home, away = _teams(model)[:2]
    (p,) = model.forecast([Fixture(home, away)])
    assert isinstance(p, Prediction) and p.model_version == "full-test"
    assert p.model_type == "full" and p.fixture.home == home
    assert abs(sum(p.outcomes.as_tuple()) - 1) < 1e-12
    assert p.odds is None and p.market is None and p.edge is None and not p.used_odds
    assert set(p.markets.totals) == {0.5, 1.5, 2.5, 3.5, 4.5}
    _reproduces(p)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.model_version = "other"  # type: ignore[misc]


def test_odds_give_the_market_the_edges_and_a_grid_of_the_final_1x2(model):
    home, away = _teams(model)[:2]
    odds, best = (2.0, 3.4, 4.0), (2.1, 3.5, 4.2)
    (p,) = model.forecast([Fixture(home, away, odds, edge_odds=best)])
    assert p.used_odds and p.odds is not None and p.odds.as_tuple() == odds
    fair = implied_probabilities(np.array([odds]), model.margin)[0]
    assert p.market is not None and p.market.as_tuple() == pytest.approx(tuple(fair))
    assert p.edge is not None and p.edge.home == pytest.approx(p.outcomes.home * 2.1 - 1)
    _reproduces(p)  # the blend moved the 1X2: the grid followed


def test_a_batch_is_the_same_call_as_one_fixture(model):
    teams = _teams(model)
    fixtures = [
        Fixture(teams[0], teams[1]),
        Fixture(teams[2], teams[3], (1.9, 3.6, 4.2)),
        Fixture(teams[4], teams[5], (2.5, 3.2, 2.9), (1.9, 1.95)),
    ]
    batch = model.forecast(fixtures)
    for fixture, p in zip(fixtures, batch, strict=True):
        (one,) = model.forecast([fixture])
        assert p.outcomes.as_tuple() == pytest.approx(one.outcomes.as_tuple(), abs=1e-9)
        assert p.goal_model.as_tuple() == pytest.approx(one.goal_model.as_tuple(), abs=1e-9)
        # the grids' sizes follow the batch's largest rates; their markets agree
        xg, xg_one = p.markets.expected_goals, one.markets.expected_goals
        assert (xg.home, xg.away) == pytest.approx((xg_one.home, xg_one.away), abs=1e-9)
        assert p.markets.totals[2.5].over == pytest.approx(one.markets.totals[2.5].over, abs=1e-9)


def test_totals_prices_are_reproduced_or_noted(model):
    home, away = _teams(model)[:2]
    odds = (1.5, 4.5, 6.5)
    totals, extreme = model.forecast(
        [Fixture(home, away, odds, (1.8, 2.05)), Fixture(home, away, odds, (1.01, 30.0))]
    )
    over = implied_probabilities(np.array([[1.8, 2.05]]), model.margin)[0, 0]
    assert totals.markets.totals[2.5].over == pytest.approx(over, abs=1e-9)
    assert totals.market_over == pytest.approx(over) and not totals.notes
    _reproduces(extreme)  # the 1X2 alone: no grid has both
    assert extreme.notes and "over/under prices were not used" in extreme.notes[0]


def test_max_goals_cuts_the_final_grid(model):
    home, away = _teams(model)[:2]
    (p,) = model.forecast([Fixture(home, away, (1.5, 4.5, 6.5))], max_goals=5)
    assert _grid(p).shape == (6, 6) and _grid(p).sum() == pytest.approx(1.0)
    with pytest.raises(InvalidInputError, match="max_goals"):
        model.forecast([Fixture(home, away)], max_goals=0)


def test_unknown_teams_are_named(model):
    home = _teams(model)[0]
    with pytest.raises(UnknownTeamError, match="nobody"):
        model.forecast([Fixture(home, "nobody")])


def test_the_model_card_is_read_from_the_weights(weights, model):
    card = ModelCard.from_weights(weights)
    assert card.teams == model.teams and len(card.teams) >= 20
    assert card.margin == "power" and card.uses_odds and model.uses_odds
    assert card.reference_date and card.blend_alpha is not None
    assert set(card.team_strengths) == card.teams
    without_blend = {k: v for k, v in weights.items() if k not in ("blend", "draw")}
    assert not ModelCard.from_weights(without_blend).uses_odds


def test_the_grid_rule_keeps_a_grid_that_already_agrees(model):
    home, away = _teams(model)[:2]
    _, goal = model.predict([home], [away])
    groups, notes = reproducing_grid(goal.outcomes, goal)
    ((where, grid),) = groups
    assert list(where) == [0] and np.array_equal(grid.grid, goal.grid) and notes == [None]
    shifted = goal.outcomes * np.array([[0.9, 1.2, 1.0]])
    shifted /= shifted.sum(axis=1, keepdims=True)
    ((_, refitted),) = reproducing_grid(shifted, goal)[0]
    np.testing.assert_allclose(refitted.outcomes, shifted, atol=1e-9)
    assert cut_grid(refitted, 3).grid.shape == (1, 4, 4)


def test_the_market_implied_component_includes_the_stored_kalman_filter(weights, model):
    """A model keeps the filter's state after its matches; its market-implied component is
    the ratings' geometric mean with the filter's forecast, as in the walk-forward."""
    home, away = _teams(model)[:3], _teams(model)[3:6]
    kalman = KalmanRatings.from_dict(weights["kalman"])
    # fitted on the same matches as the ratings (referred to the day after the last)
    reference = date.fromisoformat(weights["market_implied"]["fit"]["reference_date"][:10])
    assert kalman.last_match_ + timedelta(days=1) == reference
    mi = model.market_implied.predict(home, away)
    ratings = np.column_stack([mi.outcomes, mi.home_rate, mi.away_rate])
    component = with_filter(ratings, kalman.predict(home, away))
    dc = model.dixon_coles.predict(home, away).outcomes
    # the third component: the last match's shots on target of each team
    shots = LastMatchShots.from_dict(weights["last_shots"]).predict(home, away)
    assert weights["pool"]["components"][2] == "last_shots" and np.any(shots != 0)
    # ... and the fourth the draw intercept
    assert weights["pool"]["components"][3] == "draw_intercept"
    draw = draw_component(len(home))
    expected = model.pool.predict([dc, component[:, :3], shots_component(shots), draw])
    plain = StoredModel({k: v for k, v in weights.items() if k not in ("blend", "calibrator")})
    probs, _ = plain.predict(home, away)
    np.testing.assert_allclose(probs, expected, rtol=0, atol=1e-15)
    # weights stored before the filter and the shots (no "kalman", no "last_shots", a pool
    # of two): the ratings alone, as they always did
    old = {
        k: v for k, v in weights.items() if k not in ("blend", "calibrator", "kalman", "last_shots")
    }
    old["pool"] = {"weights": weights["pool"]["weights"][:2], "n_train": 1}
    before, _ = StoredModel(old).predict(home, away)
    two = LogLinearPool.from_dict(old["pool"])
    np.testing.assert_allclose(before, two.predict([dc, mi.outcomes]), rtol=0, atol=1e-15)
    assert not np.allclose(before, probs)
    # weights stored before the draw intercept (three weights, named or not): as they did
    three = {k: v for k, v in weights.items() if k not in ("blend", "calibrator")}
    for names in ({"components": weights["pool"]["components"][:3]}, {}):
        three["pool"] = {"weights": weights["pool"]["weights"][:3], "n_train": 1} | names
        before, _ = StoredModel(three).predict(home, away)
        pool = LogLinearPool.from_dict(three["pool"])
        exp = pool.predict([dc, component[:, :3], shots_component(shots)])
        np.testing.assert_allclose(before, exp, rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    "components",
    [
        ["dixon_coles", "market_implied", "draw_intercept"],  # one short
        ["dixon_coles", "goals", "last_shots", "draw_intercept"],  # unknown
        ["market_implied", "dixon_coles", "last_shots", "draw_intercept"],  # out of order
        ["dixon_coles", "market_implied", "draw_intercept", "draw_intercept"],  # twice
        ["dixon_coles", "market_implied", ["last_shots"], "draw_intercept"],  # not a name
        "dixon_coles, market_implied, last_shots, draw_intercept",  # not a list
    ],
)
def test_a_pool_whose_components_do_not_match_its_weights_is_refused(weights, components):
    bad = dict(weights, pool=dict(weights["pool"], components=components))
    with pytest.raises(InvalidInputError, match="do not match its weights"):
        StoredModel(bad)


def test_the_day_of_a_forecast_matters_only_across_a_season_break(weights):
    plain = StoredModel({k: v for k, v in weights.items() if k not in ("blend", "calibrator")})
    home, away = sorted(plain.teams)[:2]
    last = KalmanRatings.from_dict(weights["kalman"]).last_match_
    soon = [plain.predict([home], [away], on=last + timedelta(days=d))[0] for d in (1, 20)]
    np.testing.assert_array_equal(soon[0], soon[1])
    summer = plain.predict([home], [away], on=last + timedelta(days=60))[0]
    assert not np.array_equal(summer, soon[0])
    fixture = Fixture(home, away)
    (now,) = plain.forecast([fixture], on=last + timedelta(days=60))
    np.testing.assert_allclose(now.outcomes.as_tuple(), summer[0], rtol=0, atol=1e-15)
