"""Score grids and derived markets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import poisson

from core import DixonColes, InvalidInputError, score_grid
from core.markets import (
    TAIL,
    MatchProbabilities,
    grid_size,
    log_factorials,
    outcome_probabilities,
    rho_bounds,
)


@pytest.fixture
def prediction(make_matches):
    model = DixonColes().fit(make_matches(n_teams=10, seasons=3, rho=-0.1, seed=21))
    teams = list(model.teams_)
    return model.predict(teams, teams[1:] + teams[:1])


def test_grid_sums_to_one_and_1x2_equals_grid_sums(prediction):
    grid = prediction.grid
    size = grid_size(prediction.home_rate, prediction.away_rate) + 1
    assert grid.shape == (10, size, size)
    np.testing.assert_allclose(grid.sum(axis=(1, 2)), 1.0, atol=1e-15)
    x, y = np.indices(grid.shape[1:])
    for k in range(len(prediction)):  # equal up to the order of floating-point summation
        assert prediction.home_win[k] == pytest.approx(grid[k][x > y].sum(), rel=1e-14)
        assert prediction.draw[k] == pytest.approx(grid[k][x == y].sum(), rel=1e-14)
        assert prediction.away_win[k] == pytest.approx(grid[k][x < y].sum(), rel=1e-14)
    np.testing.assert_allclose(prediction.outcomes.sum(axis=1), 1.0, atol=1e-15)


def test_grid_without_rho_is_the_product_of_poissons():
    grid = score_grid(np.array([1.7]), np.array([0.9]), rho=0.0, max_goals=15)[0]
    expected = np.outer(poisson.pmf(np.arange(16), 1.7), poisson.pmf(np.arange(16), 0.9))
    np.testing.assert_allclose(grid, expected / expected.sum(), rtol=1e-12)


def test_tau_correction_moves_low_scores():
    plain = score_grid([1.2], [1.0], 0.0)[0]
    dc = score_grid([1.2], [1.0], -0.1)[0]
    assert dc[0, 0] > plain[0, 0] and dc[1, 1] > plain[1, 1]
    assert dc[1, 0] < plain[1, 0] and dc[0, 1] < plain[0, 1]


def test_totals_over_under_and_pushes(prediction):
    total = prediction.total_goals
    over = prediction.totals(2.5)
    np.testing.assert_allclose(over.win, total[:, 3:].sum(axis=1), atol=1e-15)
    assert (over.push == 0).all()
    np.testing.assert_allclose(over.win + over.lose, 1.0, atol=1e-15)
    whole = prediction.totals(3)
    np.testing.assert_allclose(whole.push, total[:, 3], atol=1e-15)
    quarter = prediction.totals(2.75)
    np.testing.assert_allclose(quarter.win, (prediction.over(2.5) + prediction.over(3)) / 2)
    np.testing.assert_allclose(quarter.push, whole.push / 2)
    np.testing.assert_allclose(prediction.under(2.5), 1 - over.win)


def test_asian_handicap_lines(prediction):
    minus_half = prediction.asian_handicap(-0.5)
    np.testing.assert_allclose(minus_half.win, prediction.home_win, atol=1e-15)
    dnb = prediction.asian_handicap(0.0)
    np.testing.assert_allclose(dnb.push, prediction.draw, atol=1e-15)
    np.testing.assert_allclose(dnb.lose, prediction.away_win, atol=1e-15)
    away_plus_half = prediction.asian_handicap(0.5, side="away")
    np.testing.assert_allclose(away_plus_half.win, prediction.draw + prediction.away_win)
    q = prediction.asian_handicap(-0.25)
    np.testing.assert_allclose(q.win, prediction.home_win)
    np.testing.assert_allclose(q.push, prediction.draw / 2)
    np.testing.assert_allclose(q.lose, prediction.away_win + prediction.draw / 2)
    minus_one = prediction.asian_handicap(-1.0)
    one_up = prediction.grid.shape[1]  # column max_goals + 1: home wins by exactly one
    np.testing.assert_allclose(minus_one.push, prediction.goal_difference[:, one_up])
    for line in (-2.25, -1.75, 0.75, 1.5):
        s = prediction.asian_handicap(line)
        np.testing.assert_allclose(s.win + s.push + s.lose, 1.0, atol=1e-14)


def test_bad_lines_and_sides_are_errors(prediction):
    with pytest.raises(InvalidInputError, match=r"multiple of 0\.25"):
        prediction.totals(2.3)
    with pytest.raises(InvalidInputError, match="side"):
        prediction.asian_handicap(-0.5, side="middle")
    with pytest.raises(InvalidInputError, match="max_goals"):
        score_grid([1.0], [1.0], max_goals=0)


def test_btts_and_expected_goals(prediction):
    grid = prediction.grid
    np.testing.assert_allclose(
        prediction.btts, 1 - grid[:, 0, :].sum(1) - grid[:, :, 0].sum(1) + grid[:, 0, 0]
    )
    home_xg, away_xg = prediction.expected_goals
    np.testing.assert_allclose(home_xg, prediction.home_rate, rtol=0.05)
    np.testing.assert_allclose(away_xg, prediction.away_rate, rtol=0.05)
    frame = prediction.to_frame()
    assert list(frame.columns[:5]) == ["home_team", "away_team", "home_win", "draw", "away_win"]
    assert len(frame) == len(prediction)


@pytest.mark.parametrize(("lam", "mu"), [(0.3, 0.2), (1.5, 1.1), (3.2, 0.4), (6.0, 5.0)])
def test_default_grid_leaves_out_less_than_the_tail(lam, mu):
    n = grid_size([lam], [mu])
    left_out = 1.0 - poisson.cdf(n, lam) * poisson.cdf(n, mu)
    assert left_out < TAIL
    assert 1.0 - poisson.cdf(n - 1, lam) * poisson.cdf(n - 1, mu) >= TAIL / 2  # not oversized
    exact = score_grid([lam], [mu], -0.05, max_goals=80)[0]
    grid = score_grid([lam], [mu], -0.05)[0]
    x, y = np.indices(grid.shape)
    xe, ye = np.indices(exact.shape)
    for cut, ref in ((x > y, xe > ye), (x == y, xe == ye), (x < y, xe < ye)):
        assert abs(grid[cut].sum() - exact[ref].sum()) < 1e-10


def test_log_factorials_are_scipys_to_the_last_units():
    from scipy.special import gammaln

    for size in (1, 13, 64, 65, 500, 1000):
        ours, theirs = log_factorials(size), gammaln(np.arange(size) + 1.0)
        assert ours.shape == (size,)
        np.testing.assert_allclose(ours, theirs, rtol=4 * np.finfo(float).eps, atol=0)
    np.testing.assert_array_equal(log_factorials(13), gammaln(np.arange(13) + 1.0))


def test_grid_size_is_the_one_scipys_poisson_quantile_gave():
    """The grid sizes of the former ``searchsorted(pdtri(n, 1 - TAIL / 2), rate)``: equal
    for every rate but those within a part in 1e6 of a size's limit (pdtri's own rounding)."""
    from scipy.special import pdtri

    limits = pdtri(np.arange(401.0), 1.0 - TAIL / 2.0 * (1.0 - 1e-6))
    rng = np.random.default_rng(3)
    rates = np.concatenate(
        [rng.uniform(0.0, 6.0, 2000), np.exp(rng.uniform(-20.0, 5.6, 2000)), [0.0, 1e-300]]
    )
    for rate in rates:
        n = int(np.searchsorted(limits, rate))
        if np.min(np.abs(limits / max(rate, 1e-300) - 1.0)) > 1e-6:
            assert grid_size([rate], [rate / 2]) == max(n, 1), rate
    with pytest.raises(InvalidInputError, match="beyond any football score grid"):
        grid_size([limits[-1] * 1.001], [1.0])
    with pytest.raises(InvalidInputError, match="beyond any football score grid"):
        grid_size([1e6], [1.0])


def test_a_fixed_ten_goal_grid_is_measurably_off_for_high_rates():
    exact = score_grid([4.0], [1.0], max_goals=80)[0]
    ten = score_grid([4.0], [1.0], max_goals=10)[0]
    assert abs(np.tril(ten, -1).sum() - np.tril(exact, -1).sum()) > 1e-4


def test_rho_outside_a_fixtures_region_is_an_error():
    lo, hi = rho_bounds(np.array([4.0]), np.array([2.0]))
    assert lo[0] == pytest.approx(-0.25) and hi[0] == pytest.approx(0.125)
    assert (score_grid([4.0], [2.0], -0.24) >= 0).all()
    with pytest.raises(InvalidInputError, match="negative"):
        score_grid([4.0], [2.0], -0.3)


@pytest.mark.parametrize("max_goals", [None, 6])
def test_outcome_probabilities_equal_the_grid_sums(prediction, max_goals):
    lam, mu = prediction.home_rate, prediction.away_rate
    for rho in (0.0, -0.1, 0.05):
        grid = MatchProbabilities(None, None, lam, mu, score_grid(lam, mu, rho, max_goals))
        fast = outcome_probabilities(lam, mu, rho, max_goals)
        np.testing.assert_allclose(fast, grid.outcomes, rtol=0, atol=1e-15)


@pytest.mark.parametrize("tail", [0.0, -1e-3, 1.0, 1e-300])
def test_a_grid_size_that_cannot_be_met_is_refused(tail):
    with pytest.raises(InvalidInputError):
        grid_size(np.array([1.5]), np.array([1.1]), tail=tail)
