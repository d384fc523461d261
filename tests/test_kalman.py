"""The Kalman filter of the market-implied ratings (core.kalman)."""

from __future__ import annotations

import numpy as np
import pytest

from core.kalman import kalman_forecast


def _round_robin(n_teams: int, n_days: int, every: int = 3) -> tuple[np.ndarray, ...]:
    """Every ``every`` days each team plays once (a shuffled pairing)."""
    rng = np.random.default_rng(0)
    days, home, away = [], [], []
    for d in range(0, n_days, every):
        perm = rng.permutation(n_teams)
        days += [d] * (n_teams // 2)
        home += perm[0::2].tolist()
        away += perm[1::2].tolist()
    return np.array(days), np.array(home), np.array(away)


def test_it_tracks_a_known_random_walk():
    rng = np.random.default_rng(1)
    day, home, away = _round_robin(10, 600)
    n = 10
    # true attack and defence walk with a variance of 3e-5 a day; home advantage 0.25
    steps = rng.normal(0.0, np.sqrt(3e-5), size=(600, 2, n))
    strength = np.cumsum(steps, axis=0) + rng.normal(0.0, 0.2, size=(1, 2, n))
    att, dfn = strength[day, 0], strength[day, 1]
    rows = np.arange(day.size)
    true_h = 0.25 + att[rows, home] - dfn[rows, away]
    true_a = att[rows, away] - dfn[rows, home]
    noise = rng.normal(0.0, np.sqrt(3e-4), size=(2, day.size))
    out = kalman_forecast(
        day, home, away, np.zeros(day.size), np.exp(true_h + noise[0]),
        np.exp(true_a + noise[1]), np.full(day.size, -0.1),
    )  # fmt: skip
    late = day >= 300
    error = np.log(out[late, 3]) - true_h[late]
    assert np.sqrt(np.mean(error**2)) < 0.05  # the teams' spread is 0.28
    assert np.sqrt(np.mean((np.log(out[late, 4]) - true_a[late]) ** 2)) < 0.05
    np.testing.assert_allclose(out[:, :3].sum(axis=1), 1.0)
    # the draw's grid takes the mean implied rho (after the first day)
    assert (out[late, 1] > 0).all()


def test_a_season_start_re_centres_on_the_slower_filter():
    """A home team that was strong for months and weak in the season's last three weeks:
    across the summer break its forecast goes back toward the long-run strength."""
    day, home, away = _round_robin(2, 300, every=1)
    strong = day < 280
    rate = np.where(strong, 2.5, 1.0)
    rate = np.where(home == 0, rate, 1.2)
    out = kalman_forecast(
        np.append(day, 340), np.append(home, 0), np.append(away, 1), np.zeros(day.size + 1),
        np.append(rate, np.nan), np.append(np.full(day.size, 1.2), np.nan),
        np.full(day.size + 1, np.nan),
    )  # fmt: skip
    before = out[np.flatnonzero(home == 0)[-1], 3]  # the last match of the season
    after = out[-1, 3]
    # no observation in between: a random walk alone would leave the mean where it was
    assert before < 1.2 and after > 1.5


def test_each_forecast_uses_only_earlier_days():
    day, home, away = _round_robin(8, 200)
    rng = np.random.default_rng(2)
    lam, mu = rng.uniform(0.8, 2.5, size=(2, day.size))
    rho = np.full(day.size, -0.1)
    out = kalman_forecast(day, home, away, np.zeros(day.size), lam, mu, rho)
    later = day >= 120
    lam2, mu2 = lam.copy(), mu.copy()
    lam2[later], mu2[later] = 6.0, 0.2
    again = kalman_forecast(day, home, away, np.zeros(day.size), lam2, mu2, rho)
    assert np.array_equal(out[day <= 120], again[day <= 120])
    assert not np.array_equal(out[day > 120], again[day > 120])


def test_days_must_not_go_backwards():
    with pytest.raises(ValueError):
        kalman_forecast([2, 1], [0, 1], [1, 0], [0, 0], [1.0, 1.0], [1.0, 1.0], [0.0, 0.0])
