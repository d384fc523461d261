"""The market blend: it learns to trust the better forecaster and never needs odds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core import metrics
from core.blend import FEATURES, Blend
from core.errors import InvalidInputError


def _noisy(p: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    z = np.log(p) + rng.normal(0, noise, p.shape)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _data(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal([0.35, -0.25, 0.0], 0.7, size=(n, 3))
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in truth])
    model = _noisy(truth, rng, 0.45)  # the goal model is the noisier forecaster
    market = _noisy(truth, rng, 0.15)
    frame = pd.DataFrame(
        {
            "dc_home": model[:, 0],
            "dc_draw": model[:, 1],
            "dc_away": model[:, 2],
            "dc_home_rate": rng.uniform(0.8, 2.2, n),
            "dc_away_rate": rng.uniform(0.6, 1.8, n),
            "mk_home": market[:, 0],
            "mk_draw": market[:, 1],
            "mk_away": market[:, 2],
            "mk_overround": rng.uniform(0.02, 0.06, n),
        }
    )
    return frame, y


def test_blend_beats_the_goal_model_and_leans_on_the_better_forecaster():
    frame, y = _data()
    blend = Blend().fit(frame.iloc[:3000], y[:3000])
    test = frame.iloc[3000:]
    blended = blend.predict(test)
    model = test[["dc_home", "dc_draw", "dc_away"]].to_numpy()
    assert metrics.log_loss(blended, y[3000:]) < metrics.log_loss(model, y[3000:])
    assert blend.alpha_ < 0.5  # the market is the better forecaster here
    assert blend.method_ in ("lightgbm", "pool")
    assert "blend: using" in blend.message()


def test_rows_without_odds_fall_back_to_the_goal_model():
    frame, y = _data()
    blend = Blend().fit(frame, y)
    test = frame.iloc[:5].copy()
    test.loc[test.index[:2], ["mk_home", "mk_draw", "mk_away", "mk_overround"]] = np.nan
    out = blend.predict(test)
    np.testing.assert_allclose(out[:2], test[["dc_home", "dc_draw", "dc_away"]].to_numpy()[:2])
    assert not np.allclose(out[2:], test[["dc_home", "dc_draw", "dc_away"]].to_numpy()[2:])


def test_training_ignores_rows_without_odds_and_needs_enough_of_them():
    frame, y = _data(n=600)
    frame.loc[frame.index[:450], ["mk_home", "mk_draw", "mk_away"]] = np.nan
    with pytest.raises(InvalidInputError, match="at least 200 matches with odds"):
        Blend().fit(frame, y)


def test_round_trip_through_json():
    frame, y = _data(n=1500, seed=3)
    blend = Blend().fit(frame, y)
    again = Blend.from_dict(json.loads(json.dumps(blend.to_dict())))
    np.testing.assert_allclose(again.predict(frame), blend.predict(frame), rtol=1e-10)
    bad = blend.to_dict() | {"features": list(FEATURES)[:-1]}
    with pytest.raises(InvalidInputError, match="other features"):
        Blend.from_dict(bad)
