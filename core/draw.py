"""The draw model: a learned combination of three draw probabilities.

For each match three forecasts of a draw are known before kick-off: the independent Poisson
model's, Dixon-Coles' and the margin-free **pre-match** market's (when the match has
pre-match odds).  :class:`DrawModel` pools them linearly,
``d = w_poisson * p_poisson + w_dc * p_dc + w_market * p_market`` with weights on the simplex
(non-negative, summing to one), fitted by draw log loss, which is convex in the weights.  A
match without pre-match odds uses the ``fallback_weights_`` of Poisson and Dixon-Coles alone,
fitted on every training match.  ``d`` may then be clipped to ``[floor, cap]``; each bound
is learned on the first part of the training rows and kept only when it lowers the draw log
loss on the later part by ``min_gain`` (else it stays inactive, ``None``).  Home and away
take the rest, ``1 - d``, in the ratio Dixon-Coles gives them.

With the home/away ratio fixed, the 1X2 log loss is the binary draw log loss plus a term
that does not depend on ``d``: fitting the draw fits the whole forecast.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core import metrics
from core.errors import InvalidInputError, NotFittedError
from core.lazy import pandas as pd
from core.sources import DRAW_SOURCES

__all__ = ["COMPONENTS", "FEATURES", "DrawModel", "draw_report"]

# dc_home and dc_away give the home/away ratio; the other three are the pooled draws
FEATURES = ("dc_home", "dc_draw", "dc_away", "poisson_draw", "market_draw")
COMPONENTS = ("poisson", "dixon_coles", "market")
_EPS = 1e-9


def _draw_log_loss(d: np.ndarray, is_draw: np.ndarray) -> float:
    d = np.clip(d, _EPS, 1.0 - _EPS)
    return float(-np.mean(np.where(is_draw, np.log(d), np.log1p(-d))))


def _simplex_fit(p: np.ndarray, is_draw: np.ndarray) -> np.ndarray:
    """Weights on the simplex minimising the draw log loss of ``p @ w`` (convex: SLSQP
    finds the global minimum)."""
    k = p.shape[1]
    y = is_draw.astype(float)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        d = np.clip(p @ w, _EPS, 1.0 - _EPS)
        value = -np.mean(y * np.log(d) + (1.0 - y) * np.log1p(-d))
        grad = -((y / d - (1.0 - y) / (1.0 - d)) @ p) / y.size
        return float(value), grad

    from scipy.optimize import minimize  # fitting only: a fast start

    result = minimize(
        loss,
        np.full(k, 1.0 / k),
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * k,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(k)}],
        options={"ftol": 1e-12, "maxiter": 200},
    )
    w = np.clip(result.x, 0.0, 1.0)
    return w / w.sum()


class DrawModel:
    """Learned draw probability on top of Dixon-Coles (scikit-learn shape).

    ``X`` is a DataFrame with the :data:`FEATURES` columns or an (n, 5) array in that order;
    ``market_draw`` is NaN where a match has no pre-match odds.  ``y`` holds results
    (0/1/2 or H/D/A).

    Fitted attributes: ``weights_`` (poisson, dixon_coles, market), ``fallback_weights_``
    (poisson, dixon_coles; matches without odds), ``floor_`` and ``cap_`` (``None`` when
    inactive), ``floor_candidate_`` and ``cap_candidate_`` (the learned values, active or
    not), ``holdout_log_loss_`` (draw log loss of each choice on the later training rows),
    ``n_train_``, ``n_priced_``.
    """

    def __init__(
        self,
        holdout_share: float = 0.3,
        min_gain: float = 0.0002,
        min_priced: int = 100,
    ) -> None:
        self.holdout_share = holdout_share
        self.min_gain = min_gain
        self.min_priced = min_priced

    def fit(self, X: Any, y: Any) -> DrawModel:
        """Rows in time order (the floor and cap are validated on the later rows)."""
        x = _array(X)
        outcomes = metrics.encode_outcomes(y)
        if outcomes.size != x.shape[0]:
            raise InvalidInputError(f"{x.shape[0]} rows of features but {outcomes.size} results")
        if np.isnan(x[:, :4]).any():
            raise InvalidInputError("the model probabilities (dc_*, poisson_draw) contain NaN")
        if outcomes.size < 200:
            raise InvalidInputError(
                f"the draw model needs at least 200 matches to train on, got {outcomes.size}"
            )
        is_draw = outcomes == 1
        cut = round(outcomes.size * (1 - self.holdout_share))

        early = _Weights.fit(x[:cut], is_draw[:cut], self.min_priced)
        d_fit = early.pool(x[:cut])
        d_hold = early.pool(x[cut:])
        floor, cap = (
            _best_bound(d_fit, is_draw[:cut], "floor"),
            _best_bound(d_fit, is_draw[:cut], "cap"),
        )
        plain = _draw_log_loss(d_hold, is_draw[cut:])
        with_floor = _draw_log_loss(np.maximum(d_hold, floor), is_draw[cut:])
        with_cap = _draw_log_loss(np.minimum(d_hold, cap), is_draw[cut:])
        self.floor_candidate_, self.cap_candidate_ = floor, cap
        self.floor_ = floor if with_floor < plain - self.min_gain else None
        self.cap_ = cap if with_cap < plain - self.min_gain else None
        self.holdout_log_loss_ = {
            "pool": plain,
            "pool_with_floor": with_floor,
            "pool_with_cap": with_cap,
            "dixon_coles": _draw_log_loss(x[cut:, 1], is_draw[cut:]),
            "poisson": _draw_log_loss(x[cut:, 3], is_draw[cut:]),
        }

        final = _Weights.fit(x, is_draw, self.min_priced)
        self.weights_, self.fallback_weights_ = final.priced, final.fallback
        self.n_train_ = int(outcomes.size)
        self.n_priced_ = final.n_priced
        return self

    def _check(self) -> None:
        if not hasattr(self, "weights_"):
            raise NotFittedError("this DrawModel is not fitted yet: call fit() first")

    def predict_draw(self, X: Any) -> np.ndarray:
        """Draw probability per match, after the floor and cap."""
        self._check()
        x = _array(X)
        d = _Weights(self.weights_, self.fallback_weights_, 0).pool(x)
        lo = 0.0 if self.floor_ is None else self.floor_
        hi = 1.0 if self.cap_ is None else self.cap_
        return np.clip(d, lo, hi)

    def predict_proba(self, X: Any) -> np.ndarray:
        """(n, 3) home/draw/away: the draw of :meth:`predict_draw`, home and away in the
        ratio of the ``dc_home`` and ``dc_away`` columns (the engine's goal forecast in the
        pipeline), summing to one."""
        x = _array(X)
        d = self.predict_draw(x)
        home, away = x[:, 0], x[:, 2]
        rest = (1.0 - d) / (home + away)
        return np.column_stack([home * rest, d, away * rest])

    def predict(self, X: Any) -> np.ndarray:
        """Most likely result per match: 0 home, 1 draw, 2 away."""
        return self.predict_proba(X).argmax(axis=1)

    def message(self) -> str:
        w = ", ".join(f"{c} {v:.3f}" for c, v in zip(COMPONENTS, self.weights_, strict=True))
        f = ", ".join(
            f"{c} {v:.3f}" for c, v in zip(COMPONENTS[:2], self.fallback_weights_, strict=True)
        )

        def bound(name: str, value: float | None, candidate: float, key: str) -> str:
            gain = self.holdout_log_loss_["pool"] - self.holdout_log_loss_[key]
            state = "on" if value is not None else "off"
            return f"{name} {candidate:.3f} {state} (holdout gain {gain:+.5f})"

        return (
            f"draw model: weights {w}; without odds {f}; "
            f"{bound('floor', self.floor_, self.floor_candidate_, 'pool_with_floor')}, "
            f"{bound('cap', self.cap_, self.cap_candidate_, 'pool_with_cap')}; "
            f"{self.n_train_} matches, {self.n_priced_} with pre-match odds"
        )

    def to_dict(self) -> dict[str, Any]:
        self._check()
        return {
            "weights": dict(zip(COMPONENTS, map(float, self.weights_), strict=True)),
            "fallback_weights": dict(
                zip(COMPONENTS[:2], map(float, self.fallback_weights_), strict=True)
            ),
            "floor": self.floor_,
            "cap": self.cap_,
            "floor_candidate": self.floor_candidate_,
            "cap_candidate": self.cap_candidate_,
            "holdout_log_loss": self.holdout_log_loss_,
            "n_train": self.n_train_,
            "n_priced": self.n_priced_,
            "market_sources": list(DRAW_SOURCES),
            "features": list(FEATURES),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DrawModel:
        try:
            model = cls()
            model.weights_ = np.array([float(data["weights"][c]) for c in COMPONENTS])
            model.fallback_weights_ = np.array(
                [float(data["fallback_weights"][c]) for c in COMPONENTS[:2]]
            )
            model.floor_ = None if data.get("floor") is None else float(data["floor"])
            model.cap_ = None if data.get("cap") is None else float(data["cap"])
            model.floor_candidate_ = float(data.get("floor_candidate") or 0.0)
            model.cap_candidate_ = float(data.get("cap_candidate") or 1.0)
            model.holdout_log_loss_ = dict(data.get("holdout_log_loss", {}))
            model.n_train_ = int(data.get("n_train", 0))
            model.n_priced_ = int(data.get("n_priced", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"the stored draw model is incomplete: {exc}") from None
        return model


class _Weights:
    """Pool weights with odds and without."""

    def __init__(self, priced: np.ndarray, fallback: np.ndarray, n_priced: int) -> None:
        self.priced, self.fallback, self.n_priced = priced, fallback, n_priced

    @classmethod
    def fit(cls, x: np.ndarray, is_draw: np.ndarray, min_priced: int) -> _Weights:
        fallback = _simplex_fit(x[:, [3, 1]], is_draw)
        has = ~np.isnan(x[:, 4])
        if has.sum() >= min_priced:
            priced = _simplex_fit(x[has][:, [3, 1, 4]], is_draw[has])
        else:  # too few odds to learn the market's weight: it gets none
            priced = np.append(fallback, 0.0)
        return cls(priced, fallback, int(has.sum()))

    def pool(self, x: np.ndarray) -> np.ndarray:
        d = x[:, [3, 1]] @ self.fallback
        has = ~np.isnan(x[:, 4])
        d[has] = x[has][:, [3, 1, 4]] @ self.priced
        return d


def _best_bound(d: np.ndarray, is_draw: np.ndarray, kind: str) -> float:
    """The floor (or cap) at a quantile of ``d`` with the lowest draw log loss on these rows."""
    qs = (0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)
    candidates = np.quantile(d, qs if kind == "floor" else [1.0 - q for q in qs])
    clip = np.maximum if kind == "floor" else np.minimum
    losses = [_draw_log_loss(clip(d, c), is_draw) for c in candidates]
    return float(candidates[int(np.argmin(losses))])


def _array(X: Any) -> np.ndarray:
    if isinstance(X, pd.DataFrame):
        missing = [c for c in FEATURES if c not in X.columns]
        if missing:
            raise InvalidInputError(f"missing feature column(s): {', '.join(missing)}")
        X = X[list(FEATURES)]
    x = np.asarray(X, dtype=float)
    if x.ndim != 2 or x.shape[1] != len(FEATURES):
        raise InvalidInputError(f"X must have shape (n, {len(FEATURES)}), got {x.shape}")
    return x


def draw_report(d: Any, outcomes: Any, bins: int = 10) -> dict[str, Any]:
    """Draw calibration and accuracy of draw probabilities ``d`` against results: observed
    draw rate, mean predicted draw, draw Brier ``mean((d - draw)^2)``, draw log loss
    (binary), calibration error (bin-size-weighted mean |predicted - observed| over the
    reliability table) and the reliability table itself (equal-count bins of ``d``:
    ``[mean predicted, observed rate, matches]``)."""
    d = np.asarray(d, dtype=float)
    is_draw = metrics.encode_outcomes(outcomes) == 1
    order = np.argsort(d, kind="stable")
    table = []
    for chunk in np.array_split(order, min(bins, max(1, d.size))):
        if chunk.size:
            table.append([float(d[chunk].mean()), float(is_draw[chunk].mean()), int(chunk.size)])
    return {
        "n": int(d.size),
        "observed_rate": float(is_draw.mean()),
        "mean_predicted": float(d.mean()),
        "brier": float(np.mean((d - is_draw) ** 2)),
        "log_loss": _draw_log_loss(d, is_draw),
        "calibration_error": float(sum(abs(p - o) * n for p, o, n in table) / max(d.size, 1)),
        "reliability": table,
    }
