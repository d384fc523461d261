"""Calibrators: they fix a miscalibrated forecast, leave a calibrated one alone, round-trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import metrics
from core.calibration import (
    IsotonicCalibrator,
    LogisticCalibrator,
    calibrator_from_dict,
    fit_calibrator,
    reliability_curves,
)
from core.errors import InvalidInputError


def _truth(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal([0.3, -0.2, 0.0], 0.6, size=(n, 3))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in p])
    return p, y


def _overconfident(p: np.ndarray) -> np.ndarray:
    q = p**2.0
    return q / q.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("cls", [IsotonicCalibrator, LogisticCalibrator])
def test_calibrators_repair_an_overconfident_forecast(cls):
    p, y = _truth(6000)
    bad = _overconfident(p)
    cal = cls().fit(bad[:4000], y[:4000])
    fixed = cal.predict(bad[4000:])
    np.testing.assert_allclose(fixed.sum(axis=1), 1.0)
    assert metrics.log_loss(fixed, y[4000:]) < metrics.log_loss(bad[4000:], y[4000:]) - 0.01


def test_the_logistic_calibrator_is_shrunk_towards_the_identity():
    p, y = _truth(300, seed=1)
    cal = LogisticCalibrator(strength=1e6).fit(p, y)
    np.testing.assert_allclose(cal.predict(p), p, atol=1e-3)


def test_fit_calibrator_picks_by_holdout_and_keeps_identity_when_nothing_helps():
    p, y = _truth(3000, seed=2)
    _, report = fit_calibrator(_overconfident(p), y)
    assert report.chosen in ("isotonic", "logistic")
    assert report.holdout_log_loss[report.chosen] < report.holdout_log_loss["identity"]
    _, report = fit_calibrator(p, y)
    assert report.chosen in ("identity", "logistic")  # already calibrated: little to gain
    assert "calibration: kept" in report.message()


@pytest.mark.parametrize("cls", [IsotonicCalibrator, LogisticCalibrator])
def test_round_trip_through_json(cls):
    p, y = _truth(1000, seed=3)
    cal = cls().fit(_overconfident(p), y)
    again = calibrator_from_dict(json.loads(json.dumps(cal.to_dict())))
    np.testing.assert_allclose(again.predict(p), cal.predict(p), rtol=1e-12)


def test_reliability_curves_shape_and_meaning():
    p, y = _truth(5000, seed=4)
    curves = reliability_curves(p, y, bins=10)
    assert set(curves) == {"home", "draw", "away"}
    for points in curves.values():
        assert len(points) == 10
        predicted, observed = np.array(points).T
        assert (np.diff(predicted) >= 0).all()
        assert np.abs(predicted - observed).max() < 0.1  # the truth is calibrated


def test_errors():
    with pytest.raises(InvalidInputError, match="at least 60"):
        fit_calibrator(np.full((10, 3), 1 / 3), np.zeros(10, dtype=int))
    with pytest.raises(InvalidInputError, match="unknown calibrator"):
        calibrator_from_dict({"kind": "magic"})
