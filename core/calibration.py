"""Recalibration of 1X2 probabilities.

Two calibrators, both fitted on forecasts the model made out of sample:

- :class:`IsotonicCalibrator`: one monotone map per outcome (one-vs-rest), then the three
  are renormalised.  Flexible; overfits on a few hundred matches.
- :class:`LogisticCalibrator`: multinomial logistic regression on the log-probabilities
  (3 x 3 weights and 3 intercepts) shrunk towards the identity; contains temperature
  scaling.

:func:`fit_calibrator` fits both on the earlier part of the data and keeps the one with
the lower log loss on the later part, then refits the winner on everything.  Isotonic is a
candidate only with at least 1,000 matches to fit, and a calibrator must beat the raw
forecast by 0.0005 in holdout log loss, else the forecast is left as it is (identity):
choosing on a small holdout is itself a way to overfit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core import metrics
from core.errors import InvalidInputError

__all__ = [
    "CalibrationReport",
    "IdentityCalibrator",
    "IsotonicCalibrator",
    "LogisticCalibrator",
    "calibrator_from_dict",
    "fit_calibrator",
    "reliability_curves",
]

OUTCOMES = ("home", "draw", "away")
_EPS = 1e-6


def _normalise(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, None)
    return p / p.sum(axis=1, keepdims=True)


class IsotonicCalibrator:
    """Per-outcome isotonic regression; fitted attributes ``thresholds_`` (x, y per outcome)."""

    kind = "isotonic"

    def fit(self, probs: np.ndarray, outcomes: np.ndarray) -> IsotonicCalibrator:
        y = metrics.encode_outcomes(outcomes)
        self.thresholds_ = []
        for k in range(3):
            from sklearn.isotonic import IsotonicRegression  # fitting only: a fast start

            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            iso.fit(probs[:, k], (y == k).astype(float))
            self.thresholds_.append((iso.X_thresholds_.tolist(), iso.y_thresholds_.tolist()))
        return self

    def predict(self, probs: np.ndarray) -> np.ndarray:
        out = np.column_stack(
            [np.interp(probs[:, k], x, y) for k, (x, y) in enumerate(self.thresholds_)]
        )
        return _normalise(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "thresholds": {o: list(t) for o, t in zip(OUTCOMES, self.thresholds_, strict=True)},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IsotonicCalibrator:
        c = cls()
        c.thresholds_ = [tuple(data["thresholds"][o]) for o in OUTCOMES]
        return c


class LogisticCalibrator:
    """Multinomial logistic regression on log-probabilities, shrunk towards the identity.

    ``p' = softmax(W log p + b)``; the penalty ``strength * (|W - I|^2 + |b|^2)`` pulls it
    towards leaving the forecast unchanged (``W = I, b = 0``), not towards a uniform
    forecast as an ordinary ridge would.  Fitted ``coef_`` (3x3) and ``intercept_`` (3).
    """

    kind = "logistic"

    def __init__(self, strength: float = 20.0) -> None:
        self.strength = strength

    def fit(self, probs: np.ndarray, outcomes: np.ndarray) -> LogisticCalibrator:
        y = metrics.encode_outcomes(outcomes)
        x = np.log(_normalise(np.asarray(probs, dtype=float)))
        onehot = np.eye(3)[y]
        eye = np.eye(3)

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            w, b = theta[:9].reshape(3, 3), theta[9:]
            z = x @ w.T + b
            z -= z.max(axis=1, keepdims=True)
            log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            resid = np.exp(log_p) - onehot  # d(-loglik)/dz
            value = -(onehot * log_p).sum() + self.strength * (((w - eye) ** 2).sum() + b @ b)
            grad_w = resid.T @ x + 2 * self.strength * (w - eye)
            grad_b = resid.sum(axis=0) + 2 * self.strength * b
            return float(value), np.concatenate([grad_w.ravel(), grad_b])

        theta0 = np.concatenate([eye.ravel(), np.zeros(3)])
        from scipy.optimize import minimize  # fitting only: a fast start

        result = minimize(loss, theta0, jac=True, method="L-BFGS-B")
        self.coef_ = result.x[:9].reshape(3, 3)
        self.intercept_ = result.x[9:].copy()
        return self

    def predict(self, probs: np.ndarray) -> np.ndarray:
        z = np.log(_normalise(probs)) @ self.coef_.T + self.intercept_
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "coef": self.coef_.tolist(),
            "intercept": self.intercept_.tolist(),
            "strength": self.strength,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LogisticCalibrator:
        c = cls(float(data.get("strength", 20.0)))
        c.coef_ = np.asarray(data["coef"], dtype=float)
        c.intercept_ = np.asarray(data["intercept"], dtype=float)
        return c


class IdentityCalibrator:
    """Leaves forecasts unchanged: kept when neither calibrator beats the raw forecast."""

    kind = "identity"

    def fit(self, probs: np.ndarray, outcomes: np.ndarray) -> IdentityCalibrator:
        return self

    def predict(self, probs: np.ndarray) -> np.ndarray:
        return _normalise(np.asarray(probs, dtype=float))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IdentityCalibrator:
        return cls()


Calibrator = IsotonicCalibrator | LogisticCalibrator | IdentityCalibrator


def calibrator_from_dict(data: dict[str, Any]) -> Calibrator:
    kind = data.get("kind")
    if kind == "isotonic":
        return IsotonicCalibrator.from_dict(data)
    if kind == "logistic":
        return LogisticCalibrator.from_dict(data)
    if kind == "identity":
        return IdentityCalibrator.from_dict(data)
    raise InvalidInputError(f"unknown calibrator kind {kind!r}")


@dataclass
class CalibrationReport:
    chosen: str
    holdout_log_loss: dict[str, float] = field(default_factory=dict)
    n_fit: int = 0
    n_holdout: int = 0

    def message(self) -> str:
        if not self.holdout_log_loss:
            return f"calibration: {self.chosen}, as chosen on held-out data ({self.n_fit} matches)"
        scores = ", ".join(f"{k} {v:.5f}" for k, v in self.holdout_log_loss.items())
        kept = (
            "identity: neither calibrator beat the raw forecast"
            if self.chosen == "identity"
            else self.chosen
        )
        return (
            f"calibration: kept {kept} (holdout log loss {scores}; "
            f"{self.n_fit} matches to fit, {self.n_holdout} to choose)"
        )


MIN_ISOTONIC = 1000
MIN_GAIN = 0.0005


def fit_calibrator(
    probs: np.ndarray,
    outcomes: np.ndarray,
    holdout_share: float = 0.3,
    kind: str | None = None,
) -> tuple[Calibrator, CalibrationReport]:
    """Fit isotonic and logistic on the first part (time order), keep the lower holdout log
    loss, and refit the winner on all rows.  When the raw forecast beats both on the holdout
    the identity is kept, and the report says so.  ``kind`` (a choice made before, on
    held-out data) skips the choosing: that calibrator is fitted on all rows."""
    p = np.asarray(probs, dtype=float)
    y = metrics.encode_outcomes(outcomes)
    if y.size < 60:
        raise InvalidInputError(f"calibration needs at least 60 matches, got {y.size}")
    if kind is not None:
        kinds: dict[str, type[Calibrator]] = {
            "logistic": LogisticCalibrator,
            "identity": IdentityCalibrator,
            "isotonic": IsotonicCalibrator,
        }
        if kind not in kinds:
            raise InvalidInputError(f"unknown calibrator {kind!r}")
        return kinds[kind]().fit(p, y), CalibrationReport(kind, {}, y.size, 0)
    cut = round(y.size * (1 - holdout_share))
    candidates: dict[str, Calibrator] = {
        "logistic": LogisticCalibrator(),
        "identity": IdentityCalibrator(),
    }
    if cut >= MIN_ISOTONIC:
        candidates["isotonic"] = IsotonicCalibrator()
    scores = {}
    for name, calibrator in candidates.items():
        calibrator.fit(p[:cut], y[:cut])
        scores[name] = metrics.log_loss(calibrator.predict(p[cut:]), y[cut:])
    best = min((k for k in candidates if k != "identity"), key=lambda k: scores[k])
    chosen = best if scores[best] < scores["identity"] - MIN_GAIN else "identity"
    final = candidates[chosen].__class__().fit(p, y)
    return final, CalibrationReport(chosen, scores, cut, y.size - cut)


def reliability_curves(
    probs: np.ndarray, outcomes: np.ndarray, bins: int = 10
) -> dict[str, list[list[float]]]:
    """``{home, draw, away: [[mean predicted, observed frequency], ...]}`` over equal-count
    bins: the points of a reliability (calibration) chart."""
    p = np.asarray(probs, dtype=float)
    y = metrics.encode_outcomes(outcomes)
    out: dict[str, list[list[float]]] = {}
    for k, name in enumerate(OUTCOMES):
        order = np.argsort(p[:, k], kind="stable")
        points = []
        for chunk in np.array_split(order, min(bins, max(1, y.size))):
            if chunk.size:
                points.append([float(p[chunk, k].mean()), float((y[chunk] == k).mean())])
        out[name] = points
    return out
