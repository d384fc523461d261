"""The draw model estimator on synthetic data with known answers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.draw import FEATURES, DrawModel, draw_report
from core.errors import InvalidInputError, NotFittedError


def synthetic_draws(
    n: int,
    weights: tuple[float, float, float],
    seed: int = 0,
    floor: float = 0.0,
    cap: float = 1.0,
    no_odds: float = 0.0,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features with independent component draws, results drawn from the true pool
    (clipped to [floor, cap]); a share ``no_odds`` of the rows has no market price (their
    truth is the pool of the other two, renormalised).  Returns X, results, true draw."""
    rng = np.random.default_rng(seed)
    comp = rng.uniform(0.05, 0.5, size=(n, 3))  # poisson, dixon-coles, market
    w = np.asarray(weights)
    d = comp @ w
    missing = rng.random(n) < no_odds
    if missing.any():
        d[missing] = comp[missing, :2] @ (w[:2] / w[:2].sum())
    d = np.clip(d, floor, cap)
    share = rng.uniform(0.3, 0.7, n)  # home share of a non-draw
    home, away = (1 - comp[:, 1]) * share, (1 - comp[:, 1]) * (1 - share)
    market = np.where(missing, np.nan, comp[:, 2])
    x = pd.DataFrame(
        np.column_stack([home, comp[:, 1], away, comp[:, 0], market]), columns=list(FEATURES)
    )
    u = rng.random(n)
    y = np.where(u < d, 1, np.where(rng.random(n) < share, 0, 2))
    return x, y, d


def test_recovers_known_weights():
    x, y, _ = synthetic_draws(100_000, (0.2, 0.3, 0.5), no_odds=0.3)
    model = DrawModel().fit(x, y)
    np.testing.assert_allclose(model.weights_, [0.2, 0.3, 0.5], atol=0.04)
    # matches without odds: their own weights, learned on every row
    np.testing.assert_allclose(model.fallback_weights_, [0.4, 0.6], atol=0.08)
    assert model.weights_.sum() == pytest.approx(1.0) and (model.weights_ >= 0).all()
    assert model.n_train_ == 100_000 and 0.65 < model.n_priced_ / model.n_train_ < 0.75
    # the truth has no floor or cap: neither earns its place on the held-out rows
    assert model.floor_ is None and model.cap_ is None


def test_a_weight_on_a_corner_of_the_simplex():
    x, y, _ = synthetic_draws(60_000, (0.0, 0.0, 1.0), seed=1)
    model = DrawModel().fit(x, y)
    assert model.weights_[2] > 0.95 and model.weights_.min() >= 0.0


def test_floor_and_cap_are_kept_only_when_they_help_on_held_out_rows():
    x, y, _ = synthetic_draws(100_000, (0.0, 0.0, 1.0), seed=2, floor=0.2, cap=0.36)
    model = DrawModel().fit(x, y)
    assert model.floor_ == pytest.approx(0.2, abs=0.03)
    assert model.cap_ == pytest.approx(0.36, abs=0.03)
    hold = model.holdout_log_loss_
    assert hold["pool_with_floor"] < hold["pool"] and hold["pool_with_cap"] < hold["pool"]
    d = model.predict_draw(x)
    assert d.min() >= model.floor_ - 1e-12 and d.max() <= model.cap_ + 1e-12


def test_probabilities_sum_to_one_and_keep_the_home_away_ratio():
    x, y, _ = synthetic_draws(5_000, (0.3, 0.3, 0.4), seed=3, no_odds=0.2)
    model = DrawModel().fit(x, y)
    p = model.predict_proba(x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    assert (p > 0).all()
    np.testing.assert_allclose(p[:, 0] / p[:, 2], x["dc_home"] / x["dc_away"], rtol=1e-12)
    np.testing.assert_allclose(p[:, 1], model.predict_draw(x))
    assert set(np.unique(model.predict(x))) <= {0, 1, 2}
    # a match without odds uses the fallback weights
    row = x.iloc[[0]].copy()
    row["market_draw"] = np.nan
    expected = row[["poisson_draw", "dc_draw"]].to_numpy() @ model.fallback_weights_
    assert model.predict_draw(row)[0] == pytest.approx(
        float(np.clip(expected[0], model.floor_ or 0, model.cap_ or 1))
    )


def test_without_enough_odds_the_market_gets_no_weight():
    x, y, _ = synthetic_draws(2_000, (0.5, 0.5, 0.0), seed=4)
    x["market_draw"] = np.nan
    model = DrawModel().fit(x, y)
    assert model.weights_[2] == 0.0 and model.n_priced_ == 0
    np.testing.assert_allclose(model.weights_[:2], model.fallback_weights_)


def test_round_trip_through_json():
    x, y, _ = synthetic_draws(5_000, (0.2, 0.3, 0.5), seed=5, no_odds=0.1)
    model = DrawModel().fit(x, y)
    data = json.loads(json.dumps(model.to_dict()))
    assert set(data["weights"]) == {"poisson", "dixon_coles", "market"}
    assert set(data) >= {"floor", "cap", "fallback_weights", "holdout_log_loss"}
    again = DrawModel.from_dict(data)
    np.testing.assert_array_equal(again.predict_proba(x), model.predict_proba(x))
    assert "weights poisson" in model.message()


def test_bad_input_is_named():
    x, y, _ = synthetic_draws(1_000, (0.2, 0.3, 0.5))
    with pytest.raises(NotFittedError):
        DrawModel().predict_draw(x)
    with pytest.raises(InvalidInputError, match="at least 200"):
        DrawModel().fit(x.iloc[:100], y[:100])
    with pytest.raises(InvalidInputError, match="rows of features"):
        DrawModel().fit(x, y[:-1])
    with pytest.raises(InvalidInputError, match="market_draw"):
        DrawModel().fit(x.drop(columns="market_draw"), y)
    broken = x.copy()
    broken.loc[3, "dc_draw"] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        DrawModel().fit(broken, y)
    with pytest.raises(InvalidInputError, match="shape"):
        DrawModel().fit(np.zeros((300, 4)), np.zeros(300))
    with pytest.raises(InvalidInputError, match="incomplete"):
        DrawModel.from_dict({"weights": {"poisson": 1.0}})


def test_draw_report():
    d = np.array([0.2, 0.2, 0.3, 0.3])
    r = draw_report(d, ["D", "H", "D", "D"], bins=2)
    assert r["n"] == 4 and r["observed_rate"] == 0.75 and r["mean_predicted"] == 0.25
    assert r["reliability"] == [[0.2, 0.5, 2], [0.3, 1.0, 2]]
    assert r["brier"] == pytest.approx((0.8**2 + 0.2**2 + 2 * 0.7**2) / 4)
    assert r["log_loss"] == pytest.approx(-(np.log(0.2) + np.log(0.8) + 2 * np.log(0.3)) / 4)
    assert r["calibration_error"] == pytest.approx((0.3 * 2 + 0.7 * 2) / 4)
