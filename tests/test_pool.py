"""Log-linear pooling: the fit, and weights fitted on earlier matches only."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InvalidInputError
from core.pool import LogLinearPool, draw_component, pool, pool_walk_forward


def _forecasts(n: int = 3000, seed: int = 0):
    """Outcomes drawn from a truth; two noisy forecasts of it."""
    rng = np.random.default_rng(seed)
    logit = rng.normal(0, 0.6, (n, 3))
    truth = np.exp(logit) / np.exp(logit).sum(1, keepdims=True)
    y = np.array([rng.choice(3, p=p) for p in truth])

    def noisy(scale: float) -> np.ndarray:
        z = logit + rng.normal(0, scale, (n, 3))
        return np.exp(z) / np.exp(z).sum(1, keepdims=True)

    return noisy(0.5), noisy(0.2), y


def test_pool_normalises_and_matches_the_definition():
    a = np.array([[0.5, 0.3, 0.2]])
    b = np.array([[0.2, 0.3, 0.5]])
    p = pool([a, b], [0.3, 0.8])
    expected = a**0.3 * b**0.8
    np.testing.assert_allclose(p, expected / expected.sum())


def test_fit_weights_the_better_forecast_more_and_lowers_log_loss():
    a, b, y = _forecasts()
    model = LogLinearPool().fit([a, b], y)
    assert model.weights_[1] > model.weights_[0]
    p = model.predict([a, b])
    loss = -np.log(p[np.arange(y.size), y]).mean()
    for other in (a, b, pool([a, b], [0.5, 0.5])):
        assert loss < -np.log(other[np.arange(y.size), y]).mean()
    again = LogLinearPool.from_dict(model.to_dict())
    np.testing.assert_array_equal(again.weights_, model.weights_)


def test_the_prior_holds_the_weights_near_its_centre_until_the_evidence_outweighs_it():
    """A prior worth m matches: with n matches the weights move about n / (n + m) of the
    way from the prior's centre to the free fit."""
    a, b, y = _forecasts(2000)
    free = LogLinearPool(default=(0.0, 1.0)).fit([a, b], y).weights_
    centre = np.array([0.0, 1.0])
    weak = LogLinearPool(default=(0.0, 1.0), prior_matches=200).fit([a, b], y).weights_
    strong = LogLinearPool(default=(0.0, 1.0), prior_matches=20_000).fit([a, b], y).weights_
    gap = np.abs(free - centre).max()
    assert gap > 0.05
    assert np.abs(weak - free).max() < 0.25 * gap
    assert np.abs(strong - centre).max() < 0.2 * gap
    _, w = pool_walk_forward(
        [a, b], y, np.arange(y.size), np.arange(y.size) // 100 * 100,
        default=(0.0, 1.0), prior_matches=20_000,
    )  # fmt: skip
    assert np.abs(w[-1] - centre).max() < 0.2 * gap


def test_a_prior_per_weight_holds_each_weight_as_hard_as_it_is_told():
    a, b, y = _forecasts(2000)
    free = LogLinearPool(default=(0.0, 1.0)).fit([a, b], y).weights_
    both = LogLinearPool(default=(0.0, 1.0), prior_matches=(20_000, 20_000)).fit([a, b], y)
    one = LogLinearPool(default=(0.0, 1.0), prior_matches=20_000).fit([a, b], y)
    np.testing.assert_allclose(both.weights_, one.weights_, rtol=0, atol=1e-9)
    first = LogLinearPool(default=(0.0, 1.0), prior_matches=(20_000, 0)).fit([a, b], y)
    # the first held near 0, the second free to make up for it
    assert abs(first.weights_[0]) < 0.2 * abs(free[0])
    assert abs(first.weights_[1] - 1.0) > 0.5 * abs(free[1] - 1.0)
    for bad in ((1.0,), (1.0, -1.0), (1.0, np.nan)):
        with pytest.raises(InvalidInputError, match="prior strength"):
            LogLinearPool(default=(0.0, 1.0), prior_matches=bad).fit([a, b], y)
        # ... also where there are too few matches to fit
        with pytest.raises(InvalidInputError, match="prior strength"):
            LogLinearPool(default=(0.0, 1.0), prior_matches=bad).fit([a[:10], b[:10]], y[:10])
        with pytest.raises(InvalidInputError, match="prior strength"):
            pool_walk_forward([a, b], y, np.arange(y.size), np.arange(y.size), prior_matches=bad)


def test_the_draw_intercept_learns_a_draw_level_the_forecast_misses():
    """Forecasts whose draws are shaded (the truth's draw log-odds lowered by 0.2): pooled
    with the draw component, its weight comes out near 0.2 and the mean draw near the
    results'; with a draw level already right, near 0."""
    _, b, y = _forecasts(20_000, seed=3)
    shaded = b * np.exp([0.0, -0.2, 0.0])
    shaded /= shaded.sum(1, keepdims=True)
    d = draw_component(y.size)
    assert d.shape == (y.size, 3)
    tilted = b * np.exp([0.0, 0.7, 0.0])
    np.testing.assert_allclose(pool([b, d], [1.0, 0.7]), tilted / tilted.sum(1, keepdims=True))
    fitted = LogLinearPool(default=(1.0, 0.0)).fit([shaded, d], y)
    assert fitted.weights_[1] == pytest.approx(0.2, abs=0.05)
    observed = (y == 1).mean()
    assert abs(fitted.predict([shaded, d])[:, 1].mean() - observed) < 0.005
    assert abs(shaded[:, 1].mean() - observed) > 0.02
    right = LogLinearPool(default=(1.0, 0.0)).fit([b, d], y)
    assert abs(right.weights_[1]) < 0.05


def test_too_little_history_keeps_the_default_weights():
    a, b, y = _forecasts(100)
    assert list(LogLinearPool(min_matches=300).fit([a, b], y).weights_) == [0.5, 0.5]


def test_walk_forward_weights_use_earlier_matches_only():
    a, b, y = _forecasts(4000, seed=1)
    day = np.repeat(np.arange(400), 10)
    refit = day - day % 7
    probs, weights = pool_walk_forward([a, b], y, day, refit, regrow=1.0)
    # scramble every result from day 200 on: weights of refits up to day 200 are unchanged,
    # later ones change
    scrambled = y.copy()
    late = day >= 200
    scrambled[late] = np.random.default_rng(9).permutation(scrambled[late])
    probs2, weights2 = pool_walk_forward([a, b], scrambled, day, refit, regrow=1.0)
    early = refit <= 200
    np.testing.assert_array_equal(weights2[early], weights[early])
    np.testing.assert_array_equal(probs2[early], probs[early])
    assert not np.allclose(weights2[refit > 210], weights[refit > 210])
    # the first refits lack history and use the default
    assert (weights[refit < 30] == 0.5).all()


def test_walk_forward_skips_missing_forecasts_and_checks_shapes():
    a, b, y = _forecasts(500)
    a[:10] = np.nan
    day = np.arange(500)
    probs, _ = pool_walk_forward([a, b], y, day, day - day % 7)
    assert np.isnan(probs[:10]).all() and np.isfinite(probs[10:]).all()
    with pytest.raises(InvalidInputError, match="same matches"):
        pool([a, b[:5]], [1, 1])
    with pytest.raises(InvalidInputError, match="pool weights"):
        pool([a, b], [1.0])
    with pytest.raises(InvalidInputError, match="one value per match"):
        pool_walk_forward([a, b], y, day[:5], day)
