"""Log-linear pooling of probability forecasts, with weights fitted walk-forward.

The pool of forecasts ``p_1 .. p_K`` of the same match is
``p(o) proportional to prod_k p_k(o) ** w_k``; the weights are free (they need not sum to
one: a sum above one sharpens the pooled forecast).  They are fitted by maximum likelihood
(log loss, convex in ``w``) with Newton's method.

:func:`pool_walk_forward` fits the weights for each refit date on the matches played
strictly before it, so no forecast uses weights that saw its own result or any later one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from core import metrics
from core.errors import InvalidInputError

__all__ = ["DEFAULT_WEIGHTS", "LogLinearPool", "draw_component", "pool", "pool_walk_forward"]

# Used until ``min_matches`` earlier forecasts exist.
DEFAULT_WEIGHTS = (0.5, 0.5)
WEIGHT_BOUNDS = (-3.0, 5.0)
_EPS = 1e-12


def draw_component(n: int) -> np.ndarray:
    """(n, 3) a forecast that is the same for every match, (1, e, 1) / (2 + e): pooled with
    weight ``w`` it adds ``w`` to every pooled forecast's log-odds of the draw, an intercept
    that lets the pool learn a draw level its other components miss."""
    e = np.exp(1.0)
    return np.tile(np.array([1.0, e, 1.0]) / (2.0 + e), (n, 1))


Prior = float | Sequence[float]
"""A prior's strength in matches: one for all weights, or one per weight."""


def _logs(forecasts: list[np.ndarray] | tuple[np.ndarray, ...]) -> np.ndarray:
    """(K, 3, n) log probabilities: one contiguous vector per forecast and outcome, so that
    every step below is a plain vector operation (no BLAS, no reductions over tiny axes)."""
    arrays = [np.asarray(f, dtype=float) for f in forecasts]
    if not arrays or any(a.ndim != 2 or a.shape[1] != 3 for a in arrays):
        raise InvalidInputError("each forecast must be an (n, 3) array")
    if len({a.shape[0] for a in arrays}) > 1:
        raise InvalidInputError("the forecasts must cover the same matches")
    return np.ascontiguousarray(np.log(np.clip(np.stack([a.T for a in arrays]), _EPS, 1.0)))


def _pool_logs(logs: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(3, n) pooled probabilities of (K, 3, n) log probabilities."""
    s = w[0] * logs[0]
    for k in range(1, w.size):
        s += w[k] * logs[k]
    s -= np.maximum(np.maximum(s[0], s[1]), s[2])
    np.exp(s, out=s)
    s /= s[0] + s[1] + s[2]
    return s


def pool(forecasts: list[np.ndarray] | tuple[np.ndarray, ...], weights: Any) -> np.ndarray:
    """The log-linear pool of ``forecasts`` (each (n, 3)) with ``weights`` (K,)."""
    logs = _logs(forecasts)
    w = np.asarray(weights, dtype=float)
    if w.shape != (logs.shape[0],) or not np.isfinite(w).all():
        raise InvalidInputError(f"need {logs.shape[0]} finite pool weights, got {weights!r}")
    return _pool_logs(logs, w).T.copy()


def _loss(logs: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean log loss at ``w`` and the pooled probabilities it came from."""
    p = _pool_logs(logs, w)
    return float(-np.log(np.maximum(p[y, np.arange(y.size)], 1e-300)).mean()), p


def _hessian(logs: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, n) expected log probabilities under ``p`` and the mean log loss's (K, K) Hessian."""
    k, _, n = logs.shape
    mean = (p[None] * logs).sum(axis=1)  # (K, n): E_p[log p_k]
    d = logs - mean[:, None, :]  # (K, 3, n)
    pd_ = p[None] * d
    hess = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            hess[i, j] = hess[j, i] = float((pd_[i] * d[j]).sum()) / n
    return mean, hess


def _strength(matches: Prior, k: int) -> np.ndarray:
    """(k,) a prior's strength per weight."""
    m = np.asarray(matches, dtype=float)
    m = np.full(k, float(m)) if m.ndim == 0 else m
    if m.shape != (k,) or not np.isfinite(m).all() or (m < 0).any():
        raise InvalidInputError(f"need one prior strength >= 0 or {k}, got {matches!r}")
    return m


def _fit(
    logs: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    max_iter: int = 50,
    tol: float = 1e-7,
    prior: tuple[np.ndarray, Prior] | None = None,
) -> np.ndarray:
    """Damped Newton on the mean log loss (convex in ``w``) from the start ``w``; weights
    stay within :data:`WEIGHT_BOUNDS` (uninformative forecasts cannot run away).

    ``prior = (mean, matches)``: a Gaussian prior on the weights centred on ``mean`` and
    worth ``matches`` matches: the log loss's own curvature at ``mean`` times ``matches``,
    so the weights leave it only as far as the evidence of ``n`` matches outweighs that.
    ``matches`` may hold one strength per weight (the curvature scaled by
    ``sqrt(m_i * m_j)``)."""
    k, _, n = logs.shape
    cols = np.arange(n)
    ly = np.array([(logs[j, y, cols]).sum() for j in range(k)]) / n
    w = np.clip(np.asarray(w, dtype=float), *WEIGHT_BOUNDS)
    w0, strength = (
        (np.zeros(k), np.zeros(k))
        if prior is None
        else (np.asarray(prior[0], dtype=float), _strength(prior[1], k))
    )
    if strength.any():
        scale = np.sqrt(np.outer(strength, strength)) / n
        penalty = _hessian(logs, _pool_logs(logs, w0))[1] * scale
    else:
        w0, penalty = np.zeros(k), np.zeros((k, k))

    def objective(at: np.ndarray) -> tuple[float, np.ndarray]:
        loss, p = _loss(logs, y, at)
        return loss + 0.5 * float((at - w0) @ penalty @ (at - w0)), p

    loss, p = objective(w)
    for _ in range(max_iter):
        mean, hess = _hessian(logs, p)
        grad = mean.sum(axis=1) / n - ly + penalty @ (w - w0)
        step = np.linalg.solve(hess + penalty + 1e-9 * np.eye(k), grad)
        t = 1.0
        while True:
            candidate = np.clip(w - t * step, *WEIGHT_BOUNDS)
            c_loss, c_p = objective(candidate)
            if c_loss <= loss or t < 1e-6:
                break
            t *= 0.5
        moved = np.abs(candidate - w).max()
        w, loss, p = candidate, c_loss, c_p
        if moved < tol:
            break
    return w


class LogLinearPool:
    """Fitted attributes: ``weights_`` (one per forecast), ``n_train_``."""

    def __init__(
        self,
        min_matches: int = 300,
        default: tuple[float, ...] = DEFAULT_WEIGHTS,
        prior_matches: Prior = 0.0,
    ):
        self.min_matches = min_matches
        self.default = default
        # a Gaussian prior toward ``default`` (see _fit): one strength, or one per weight
        self.prior_matches = prior_matches

    def fit(self, forecasts: list[np.ndarray], outcomes: Any) -> LogLinearPool:
        logs = _logs(forecasts)
        y = metrics.encode_outcomes(outcomes)
        ok = np.isfinite(logs).all(axis=(0, 1))
        k = logs.shape[0]
        start = np.asarray(self.default, dtype=float)
        if start.size != k:
            start = np.full(k, 1.0 / k)
        _strength(self.prior_matches, k)  # checked whether or not there is enough to fit
        fit = ok.sum() >= self.min_matches
        prior = (start, self.prior_matches)
        self.weights_ = _fit(logs[:, :, ok], y[ok], start, prior=prior) if fit else start
        self.n_train_ = int(ok.sum())
        return self

    def predict(self, forecasts: list[np.ndarray]) -> np.ndarray:
        return pool(forecasts, self.weights_)

    def to_dict(self) -> dict[str, Any]:
        return {"weights": [float(w) for w in self.weights_], "n_train": self.n_train_}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LogLinearPool:
        try:
            weights = np.asarray(data["weights"], dtype=float)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"not a pool dict: {exc!r}") from None
        model = cls()
        model.weights_ = weights
        model.n_train_ = int(data.get("n_train", 0))
        return model


def pool_walk_forward(
    forecasts: list[np.ndarray],
    outcomes: Any,
    match_day: Any,
    refit_day: Any,
    *,
    min_matches: int = 300,
    default: tuple[float, ...] = DEFAULT_WEIGHTS,
    regrow: float = 1.05,
    prior_matches: Prior = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled forecasts and the weights used for each match.

    For every distinct ``refit_day`` the weights are fitted on the matches with
    ``match_day`` strictly before it (those results are known then) and used for the
    matches of that refit; to save time they are refitted only once the history has grown
    by the factor ``regrow`` since the last fit (1: every refit).  ``prior_matches``: a
    Gaussian prior toward ``default`` worth that many matches (0: none), one for all weights
    or one per weight.  Days are anything
    orderable (datetime64 or numbers).  Returns ``(probs (n, 3), weights (n, K))``; rows
    with a missing forecast give NaN.
    """
    logs = _logs(forecasts)
    y = metrics.encode_outcomes(outcomes)
    k, _, n = logs.shape
    match_day = np.asarray(match_day)
    refit_day = np.asarray(refit_day)
    if match_day.shape != (n,) or refit_day.shape != (n,):
        raise InvalidInputError("match_day and refit_day need one value per match")
    ok = np.isfinite(logs).all(axis=(0, 1))
    if refit_day.dtype.kind == "M":
        ok &= ~np.isnat(refit_day)
    _strength(prior_matches, k)  # checked before any fit
    by_day = np.argsort(match_day, kind="stable")
    sorted_days = match_day[by_day]
    weights = np.full((n, k), np.nan)
    w = np.asarray(default, dtype=float) if len(default) == k else np.full(k, 1.0 / k)
    start = w.copy()
    fitted_on = 0
    # the matches of each refit, as runs of one sort (not a scan of every match per refit)
    rows = np.flatnonzero(ok)
    rows = rows[np.argsort(refit_day[rows], kind="stable")]
    days, first = np.unique(refit_day[rows], return_index=True)
    n_past = np.searchsorted(sorted_days, days, side="left")
    runs = np.split(rows, first[1:]) if rows.size else []
    for t_rows, n_before in zip(runs, n_past, strict=True):
        past = by_day[:n_before]
        past = past[ok[past]]
        if past.size < min_matches:
            w = start
        elif past.size >= fitted_on * regrow:
            past = np.sort(past)
            w = _fit(logs[:, :, past], y[past], w, prior=(start, prior_matches))
            fitted_on = past.size
        weights[t_rows] = w
    out = np.full((n, 3), np.nan)
    s = (logs[:, :, ok] * weights[ok].T[:, None, :]).sum(axis=0)
    e = np.exp(s - s.max(axis=0))
    out[ok] = (e / e.sum(axis=0)).T
    return out, weights
