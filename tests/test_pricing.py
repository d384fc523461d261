"""Score grids refitted to a given 1X2 (and over/under), and fair markets from odds alone."""

from __future__ import annotations

import numpy as np
import pytest

from core import InvalidInputError, fit_grid, price, score_grid
from core.odds import implied_probabilities
from core.pricing import TOLERANCE


def _outcomes(grid: np.ndarray) -> np.ndarray:
    x, y = np.indices(grid.shape[1:])
    return np.stack([grid[:, x > y].sum(1), grid[:, x == y].sum(1), grid[:, x < y].sum(1)], 1)


@pytest.fixture
def targets() -> np.ndarray:
    """1X2 rows from heavy home favourites to heavy away favourites and draw-heavy games."""
    rng = np.random.default_rng(5)
    p = rng.dirichlet([3.0, 2.0, 2.5], size=200)
    keep = (p[:, [0, 2]] > 0.04).all(axis=1) & (p[:, 1] > 0.15) & (p[:, 1] < 0.45)
    return p[keep][:60]


def test_grid_reproduces_the_1x2_to_1e_9(targets):
    result = fit_grid(targets, rho=-0.08)
    assert np.abs(_outcomes(result.grid) - targets).max() <= TOLERANCE
    assert np.abs(result.outcomes - targets).max() <= TOLERANCE
    assert (result.grid >= 0).all()
    np.testing.assert_allclose(result.grid.sum(axis=(1, 2)), 1.0, atol=1e-14)
    # every derived market comes from the same grid
    home_xg, _ = result.expected_goals
    k = np.arange(result.grid.shape[1])
    np.testing.assert_allclose(home_xg, result.grid.sum(axis=2) @ k)
    np.testing.assert_allclose(result.asian_handicap(-0.5).win, targets[:, 0], atol=TOLERANCE)
    np.testing.assert_allclose(result.asian_handicap(0.0).push, targets[:, 1], atol=TOLERANCE)


def test_grid_reproduces_1x2_and_over_under_with_rho_refitted(targets):
    rng = np.random.default_rng(6)
    over = np.clip(0.75 - targets[:, 1] + rng.normal(0, 0.03, len(targets)), 0.3, 0.7)
    result = fit_grid(targets, over=over)
    assert np.abs(result.outcomes - targets).max() <= TOLERANCE
    assert np.abs(result.over(2.5) - over).max() <= TOLERANCE
    lam, mu = result.home_rate, result.away_rate
    rho = np.asarray(result.rho)
    assert ((1 - lam * mu * rho > 0) & (1 + lam * rho > 0) & (1 + mu * rho > 0)).all()
    assert (result.grid >= 0).all()


@pytest.mark.parametrize(("lam", "mu", "rho"), [(1.6, 1.1, -0.1), (0.7, 2.4, 0.05), (3.1, 0.4, 0)])
def test_inverting_a_grid_recovers_its_rates_and_rho(lam, mu, rho):
    grid = score_grid([lam], [mu], rho)
    outcomes = _outcomes(grid)
    x, y = np.indices(grid.shape[1:])
    over = grid[0][x + y > 2.5].sum()
    with_rho = fit_grid(outcomes, over=[over])
    np.testing.assert_allclose([with_rho.home_rate[0], with_rho.away_rate[0]], [lam, mu], rtol=1e-6)
    assert float(np.asarray(with_rho.rho)[0]) == pytest.approx(rho, abs=1e-6)
    fixed = fit_grid(outcomes, rho=rho)
    np.testing.assert_allclose([fixed.home_rate[0], fixed.away_rate[0]], [lam, mu], rtol=1e-6)


def test_starting_rates_do_not_change_the_answer(targets):
    a = fit_grid(targets[:5], rho=-0.05)
    b = fit_grid(targets[:5], rho=-0.05, home_rate=np.full(5, 3.0), away_rate=np.full(5, 0.3))
    np.testing.assert_allclose(a.home_rate, b.home_rate, rtol=1e-7)
    np.testing.assert_allclose(a.away_rate, b.away_rate, rtol=1e-7)


def test_price_from_odds_alone():
    result = price([2.1, 3.5, 3.6], [1.9, 1.95])
    fair = implied_probabilities([[2.1, 3.5, 3.6]], "power")
    assert np.abs(result.outcomes - fair).max() <= TOLERANCE
    over = implied_probabilities([[1.9, 1.95]], "power")[0, 0]
    assert abs(result.over(2.5)[0] - over) <= TOLERANCE
    home_xg, away_xg = result.expected_goals
    assert home_xg[0] > away_xg[0] and 2.0 < home_xg[0] + away_xg[0] < 3.5
    no_totals = price([[2.1, 3.5, 3.6], [5.0, 4.0, 1.7]], margin="shin")
    assert (
        np.abs(
            no_totals.outcomes - implied_probabilities([[2.1, 3.5, 3.6], [5.0, 4.0, 1.7]], "shin")
        ).max()
        <= TOLERANCE
    )
    assert np.asarray(no_totals.rho).tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: price([2.1, 3.5]), "three decimal prices"),
        (lambda: price([2.1, 0.9, 3.6]), "above 1.0"),
        (lambda: price([2.1, 3.5, 3.6], [1.9]), "two decimal prices"),
        (lambda: fit_grid([[0.5, 0.2, 0.2]]), "sum to 1"),
        (lambda: fit_grid([[0.5, 0.5, 0.0]]), "above 0"),
        (lambda: fit_grid([[0.4, 0.3, 0.3]], over=[0.5], line=2.0), "half-goal"),
        # a 45 % draw with 95 % over 2.5 goals: no Dixon-Coles grid has both
        (lambda: fit_grid([[0.3, 0.45, 0.25]], over=[0.95]), "no Dixon-Coles score grid"),
    ],
)
def test_impossible_or_bad_prices_raise_clear_errors(call, message):
    with pytest.raises(InvalidInputError, match=message):
        call()
