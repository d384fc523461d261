"""Scores for 1X2 forecasts.

Every function takes ``probs``, an (n, 3) array of probabilities for (home win, draw, away
win), and ``outcomes``, n results coded 0 = home win, 1 = draw, 2 = away win (the letters
'H', 'D', 'A' are accepted too).  Lower is better for RPS, log loss and Brier.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import InvalidInputError

__all__ = [
    "accuracy",
    "brier",
    "contrast",
    "draw_accuracy",
    "encode_outcomes",
    "log_loss",
    "rps",
    "rps_difference",
    "rps_per_match",
    "scores",
    "summary",
]

_LETTERS = {"H": 0, "D": 1, "A": 2}
_EPS = 1e-15


def encode_outcomes(outcomes: Any) -> np.ndarray:
    """Results as integers 0/1/2 from 0/1/2 or 'H'/'D'/'A'."""
    arr = np.atleast_1d(np.asarray(outcomes))
    if arr.dtype.kind in "OUS":
        try:
            return np.fromiter((_LETTERS[str(o)] for o in arr), np.intp, arr.size)
        except KeyError as exc:
            raise InvalidInputError(f"unknown result {exc.args[0]!r}: use H, D or A") from None
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InvalidInputError("outcomes contain NaN")
    codes = arr.astype(np.intp)
    if ((codes < 0) | (codes > 2)).any() or (codes != arr).any():
        raise InvalidInputError("outcomes must be 0 (home), 1 (draw) or 2 (away)")
    return codes


def _check(probs: Any, outcomes: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probs, dtype=float)
    if p.ndim != 2 or p.shape[1] != 3:
        raise InvalidInputError(f"probs must have shape (n, 3), got {p.shape}")
    y = encode_outcomes(outcomes)
    if y.size != p.shape[0]:
        raise InvalidInputError(f"{p.shape[0]} forecasts but {y.size} outcomes")
    if y.size == 0:
        raise InvalidInputError("no forecasts to score")
    if not np.isfinite(p).all():
        raise InvalidInputError("probs contain NaN or infinite values")
    return p, y


def _one_hot(y: np.ndarray) -> np.ndarray:
    out = np.zeros((y.size, 3))
    out[np.arange(y.size), y] = 1.0
    return out


def rps_per_match(probs: Any, outcomes: Any) -> np.ndarray:
    """Ranked probability score of each forecast: for r = 3 ordered outcomes,
    ``RPS = 1/(r-1) * sum_{i<r} (sum_{j<=i} (p_j - o_j))^2``; 0 is perfect, 1 the worst."""
    p, y = _check(probs, outcomes)
    cum = np.cumsum(p - _one_hot(y), axis=1)[:, :2]
    return 0.5 * (cum**2).sum(axis=1)


def rps(probs: Any, outcomes: Any) -> float:
    """Mean ranked probability score (see :func:`rps_per_match`)."""
    return float(rps_per_match(probs, outcomes).mean())


def log_loss(probs: Any, outcomes: Any) -> float:
    """Mean negative natural log of the probability given to the actual result
    (probabilities are clipped at 1e-15)."""
    p, y = _check(probs, outcomes)
    return float(-np.log(np.clip(p[np.arange(y.size), y], _EPS, 1.0)).mean())


def brier(probs: Any, outcomes: Any) -> float:
    """Multiclass Brier score: mean over forecasts of ``sum_j (p_j - o_j)^2``, in [0, 2]."""
    p, y = _check(probs, outcomes)
    return float(((p - _one_hot(y)) ** 2).sum(axis=1).mean())


def accuracy(probs: Any, outcomes: Any) -> float:
    """Share of forecasts whose most likely result happened (ties go to the first of
    home, draw, away)."""
    p, y = _check(probs, outcomes)
    return float((p.argmax(axis=1) == y).mean())


def draw_accuracy(probs: Any, outcomes: Any) -> float | None:
    """Share of the actual draws that the forecast called a draw (draw recall, as the
    legacy registry reported it); ``None`` when there were no draws."""
    p, y = _check(probs, outcomes)
    draws = y == 1
    if not draws.any():
        return None
    return float((p[draws].argmax(axis=1) == 1).mean())


def summary(probs: Any, outcomes: Any) -> dict[str, float | int | None]:
    """All scores at once: n, rps, log_loss, brier, accuracy, draw_accuracy."""
    p, y = _check(probs, outcomes)
    return {
        "n": int(y.size),
        "rps": rps(p, y),
        "log_loss": log_loss(p, y),
        "brier": brier(p, y),
        "accuracy": accuracy(p, y),
        "draw_accuracy": draw_accuracy(p, y),
    }


def scores(probs: Any, outcomes: Any) -> dict[str, float | int | None]:
    """:func:`summary` without ``n``: one forecast's scores beside another's on the same
    matches."""
    out = summary(probs, outcomes)
    out.pop("n")
    return out


def rps_difference(probs: Any, baseline: Any, outcomes: Any) -> tuple[float, float | None]:
    """Mean paired RPS difference ``probs - baseline`` on the same matches (negative:
    ``probs`` is better) and its standard error, the sample standard deviation of the paired
    differences over sqrt(n) (``None`` with fewer than two matches)."""
    diff = rps_per_match(probs, outcomes) - rps_per_match(baseline, outcomes)
    se = float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else None
    return float(diff.mean()), se


def contrast(probs: Any, baseline: Any, outcomes: Any, names: tuple[str, str]) -> dict[str, Any]:
    """Two forecasts of the same matches side by side: ``n``, each one's :func:`scores`
    under its name in ``names``, and :func:`rps_difference` as ``rps_diff`` (``probs -
    baseline``) and ``rps_diff_se``."""
    diff, se = rps_difference(probs, baseline, outcomes)
    return {
        "n": int(np.size(outcomes)),
        names[0]: scores(probs, outcomes),
        names[1]: scores(baseline, outcomes),
        "rps_diff": diff,
        "rps_diff_se": se,
    }
