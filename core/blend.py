"""Blending the goal model with the betting market.

Features per match (all known before kick-off): the engine's out-of-sample 1X2
probabilities and goal rates (the ``dc_*`` columns: since the market-implied ratings, the
pool of Dixon-Coles and those ratings, :mod:`core.forecast`), and the margin-free
pre-match market probabilities with the book's overround.  Two blends are fitted strictly
in time order:

- a LightGBM multiclass model, early-stopped on the last ``valid_share`` of the training
  rows;
- ``blend_alpha``: the weight of the linear pool ``alpha * model + (1 - alpha) * market``,
  fitted by log loss on the same rows LightGBM trains on (the last ``valid_share`` held
  out).

LightGBM is used (``method_``) only when it beats the pool on those last rows by at least
``margin`` in log loss and there are at least ``min_holdout`` of them; otherwise the pool,
which cannot overfit, is used.  A match without market prices gets the model's
probabilities: the blend never needs odds to predict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from core import metrics
from core.errors import InvalidInputError
from core.lazy import pandas as pd

__all__ = ["FEATURES", "Blend"]

FEATURES = (
    "dc_home",
    "dc_draw",
    "dc_away",
    "dc_home_rate",
    "dc_away_rate",
    "mk_home",
    "mk_draw",
    "mk_away",
    "mk_overround",
)
_DC = ["dc_home", "dc_draw", "dc_away"]
_MK = ["mk_home", "mk_draw", "mk_away"]

PARAMS: dict[str, Any] = {
    "objective": "multiclass",
    "num_class": 3,
    "learning_rate": 0.03,
    "num_leaves": 7,
    "min_data_in_leaf": 80,
    "lambda_l2": 5.0,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "verbose": -1,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "seed": 7,
}


def _pool(dc: np.ndarray, mk: np.ndarray, alpha: float) -> np.ndarray:
    return alpha * dc + (1.0 - alpha) * mk


class Blend:
    """Fitted attributes: ``booster_`` (LightGBM), ``alpha_``, ``method_`` ('lightgbm' or
    'pool'), ``holdout_log_loss_`` (LightGBM, the pool, the market and the model alone on
    the held-out rows), ``n_train_`` (matches with prices, held-out rows included)."""

    def __init__(
        self,
        valid_share: float = 0.2,
        max_rounds: int = 800,
        margin: float = 0.001,
        min_holdout: int = 300,
    ) -> None:
        self.valid_share = valid_share
        self.max_rounds = max_rounds
        self.margin = margin
        self.min_holdout = min_holdout
        self._booster: Any = None
        self._booster_text: str | None = None  # a stored blend's model, parsed on first use

    @property
    def booster_(self) -> Any:
        """The LightGBM model (a stored one is parsed on first use: predicting with the
        pool needs no LightGBM, which takes a second to import)."""
        if self._booster is None and self._booster_text is not None:
            import lightgbm as lgb

            self._booster = lgb.Booster(model_str=self._booster_text)
        return self._booster

    @booster_.setter
    def booster_(self, booster: Any) -> None:
        self._booster, self._booster_text = booster, None

    def fit(
        self,
        features: pd.DataFrame,
        outcomes: Any,
        callback: Any = None,
        method: str | None = None,
    ) -> Blend:
        """``features`` in time order with the :data:`FEATURES` columns; rows without market
        prices are left out (the blend is not used for them).  ``method`` ('lightgbm' or
        'pool', a choice made before on held-out data) is kept instead of chosen again."""
        y_all = metrics.encode_outcomes(outcomes)
        priced = features[_MK].notna().all(axis=1).to_numpy()
        x = features.loc[priced, list(FEATURES)].to_numpy(dtype=float)
        y = y_all[priced]
        if y.size < 200:
            raise InvalidInputError(
                f"the blend needs at least 200 matches with odds to train on, got {y.size}"
            )
        cut = round(y.size * (1 - self.valid_share))
        import lightgbm as lgb  # here, not at import: predicting with a pool needs none
        from scipy.optimize import minimize_scalar

        train = lgb.Dataset(x[:cut], y[:cut], feature_name=list(FEATURES), free_raw_data=False)
        valid = lgb.Dataset(x[cut:], y[cut:], reference=train)
        callbacks: list[Callable[..., Any]] = [lgb.early_stopping(50, verbose=False)]
        if callback is not None:
            callbacks.append(callback)
        self.booster_ = lgb.train(
            PARAMS,
            train,
            num_boost_round=self.max_rounds,
            valid_sets=[valid],
            callbacks=callbacks,
        )
        dc, mk = x[:, :3], x[:, 5:8]
        result = minimize_scalar(
            lambda a: metrics.log_loss(_pool(dc[:cut], mk[:cut], a), y[:cut]),
            bounds=(0.0, 1.0),
            method="bounded",
            options={"xatol": 1e-4},
        )
        self.alpha_ = float(result.x)
        self.holdout_log_loss_ = {
            "lightgbm": metrics.log_loss(self._booster_predict(x[cut:]), y[cut:]),
            "pool": metrics.log_loss(_pool(dc[cut:], mk[cut:], self.alpha_), y[cut:]),
            "market": metrics.log_loss(mk[cut:], y[cut:]),
            "model": metrics.log_loss(dc[cut:], y[cut:]),
        }
        better = self.holdout_log_loss_["lightgbm"] < self.holdout_log_loss_["pool"] - self.margin
        self.method_ = "lightgbm" if better and y.size - cut >= self.min_holdout else "pool"
        if method is not None:
            self.method_ = method
        self.n_train_ = int(y.size)
        return self

    def _booster_predict(self, x: np.ndarray) -> np.ndarray:
        p = self.booster_.predict(x, num_iteration=self.booster_.best_iteration or None)
        return np.asarray(p).reshape(-1, 3)

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """(n, 3) probabilities; rows without market prices get the model's."""
        return self.predict_array(features[list(FEATURES)].to_numpy(dtype=float))

    def predict_array(self, x: np.ndarray) -> np.ndarray:
        """:meth:`predict` on an (n, 9) array in :data:`FEATURES` order (no pandas: this is
        the per-request path of the API)."""
        out = x[:, :3].copy()
        priced = ~np.isnan(x[:, 5:8]).any(axis=1)
        if priced.any():
            rows = x[priced]
            if self.method_ == "lightgbm":
                out[priced] = self._booster_predict(rows)
            else:
                out[priced] = _pool(rows[:, :3], rows[:, 5:8], self.alpha_)
        return out

    def message(self) -> str:
        scores = ", ".join(f"{k} {v:.5f}" for k, v in self.holdout_log_loss_.items())
        return (
            f"blend: using {self.method_} (alpha {self.alpha_:.3f}, "
            f"{self.booster_.best_iteration} trees; holdout log loss {scores})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method_,
            "blend_alpha": self.alpha_,
            "features": list(FEATURES),
            "lightgbm": self.booster_.model_to_string(
                num_iteration=self.booster_.best_iteration or None
            ),
            "holdout_log_loss": self.holdout_log_loss_,
            "n_train": self.n_train_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Blend:
        if list(data.get("features", [])) != list(FEATURES):
            raise InvalidInputError("the stored blend was trained on other features")
        blend = cls()
        blend.method_ = data["method"]
        blend.alpha_ = float(data["blend_alpha"])
        blend._booster_text = data["lightgbm"]
        blend.holdout_log_loss_ = dict(data.get("holdout_log_loss", {}))
        blend.n_train_ = int(data.get("n_train", 0))
        return blend
