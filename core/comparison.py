"""Two model versions compared on the matches both held out: paired scores overall and per
league, and calibration with the number of forecasts in each bin.

A version's held-out forecasts are columns (as :func:`core.pipeline.train` keeps them):
``date``, ``league``, ``home``, ``away`` (one entry per validation match), ``p`` (its 1X2
forecast, fitted before that match's validation period) and ``y`` (0 home win, 1 draw,
2 away win).  A match is the same match in both when date, home and away agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from core import metrics

__all__ = ["MIN_COMMON", "calibration", "common_matches", "paired", "promotion"]

MIN_COMMON = 30  # fewer common validation matches than this tell nothing
MARGIN_SE = 2.0  # "worse" means worse by more than this many standard errors
OUTCOMES = ("home", "draw", "away")


def _keys(forecasts: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    return list(zip(forecasts["date"], forecasts["home"], forecasts["away"], strict=True))


def common_matches(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Row indices into ``a`` and ``b`` of the matches both held out, in ``a``'s order."""
    where = {key: i for i, key in enumerate(_keys(b))}
    pairs = [(i, where[key]) for i, key in enumerate(_keys(a)) if key in where]
    if not pairs:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    ia, ib = zip(*pairs, strict=True)
    return np.asarray(ia, dtype=int), np.asarray(ib, dtype=int)


def paired(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """``b`` against ``a`` on their common validation matches: each one's scores, the mean
    paired RPS difference ``b - a`` (negative: ``b`` is better) with its standard error,
    overall and per league.  ``n`` is 0 when they share no match."""
    ia, ib = common_matches(a, b)
    same = np.asarray(a["y"], dtype=int)[ia] == np.asarray(b["y"], dtype=int)[ib]
    ia, ib = ia[same], ib[same]  # a result corrected between the two trainings: left out
    out: dict[str, Any] = {"n": int(ia.size), "overall": None, "leagues": {}}
    if ia.size == 0:
        return out
    pa = np.asarray(a["p"], dtype=float)[ia]
    pb = np.asarray(b["p"], dtype=float)[ib]
    y = np.asarray(a["y"], dtype=int)[ia]
    out["overall"] = metrics.contrast(pb, pa, y, ("b", "a"))
    leagues = np.asarray(a["league"], dtype=object)[ia]
    for league in sorted(set(leagues)):
        rows = leagues == league
        out["leagues"][str(league)] = metrics.contrast(pb[rows], pa[rows], y[rows], ("b", "a"))
    return out


def calibration(forecasts: Mapping[str, Any], bins: int = 10) -> dict[str, list[dict[str, Any]]]:
    """Per outcome, equal-count bins of the held-out forecasts: mean predicted probability,
    observed frequency and the number of forecasts in the bin."""
    p = np.asarray(forecasts["p"], dtype=float).reshape(-1, 3)
    y = np.asarray(forecasts["y"], dtype=int)
    out: dict[str, list[dict[str, Any]]] = {}
    for k, name in enumerate(OUTCOMES):
        order = np.argsort(p[:, k], kind="stable")
        out[name] = [
            {
                "predicted": float(p[chunk, k].mean()),
                "observed": float((y[chunk] == k).mean()),
                "count": int(chunk.size),
            }
            for chunk in np.array_split(order, min(bins, max(1, y.size)))
            if chunk.size
        ]
    return out


def promotion(
    active: Mapping[str, Any] | None,
    candidate: Mapping[str, Any],
    active_name: str = "the active model",
    fresher: bool = False,
) -> tuple[bool, str]:
    """Whether ``candidate`` may replace the model whose held-out forecasts are ``active``:
    not worse on their common validation matches by paired RPS, with a margin of
    :data:`MARGIN_SE` standard errors.  Too few common matches to compare (a refresh moves
    the validation window past the active model's) leave it to the data: a ``fresher``
    candidate, fitted on later matches, goes live.  Returns the decision and its reason."""
    if active is None:
        return True, f"{active_name} has no held-out forecasts to compare with"
    result = paired(active, candidate)
    overall = result["overall"]
    if (result["n"] < MIN_COMMON or overall is None) and fresher:
        return True, (
            f"only {result['n']} validation matches in common with {active_name}, too few to "
            f"compare; it is fitted on later matches, so the fresher model goes live"
        )
    if result["n"] < MIN_COMMON or overall is None:
        return False, (
            f"only {result['n']} validation matches in common with {active_name} "
            f"(at least {MIN_COMMON} are needed to compare); activate it by hand"
        )
    diff, se = overall["rps_diff"], overall["rps_diff_se"] or 0.0
    figures = (
        f"RPS {overall['b']['rps']:.5f} against {overall['a']['rps']:.5f} on {result['n']} "
        f"common validation matches (difference {diff:+.5f}, standard error {se:.5f})"
    )
    if diff > MARGIN_SE * se:
        return False, f"worse than {active_name}: {figures}"
    return True, f"not worse than {active_name}: {figures}"
