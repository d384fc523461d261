"""A model version in detail, and two versions compared: the service behind
``fpe models show`` / ``fpe models compare``, GraphQL ``model(version)`` details and
``compareModels``, and the page's version view.

Everything here comes from what each version stored: its windows, hyperparameters, metrics,
its run's logs and its held-out forecasts of the validation matches
(:mod:`core.comparison` scores those).
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core import metrics
from core.comparison import calibration, common_matches, paired
from server.runs.registry import get_model
from server.store.tables import TrainingRun

__all__ = ["compare_models", "model_detail"]

_RUNS = TrainingRun.__table__
WINDOW = (
    "scope",
    "training_leagues",
    "training_seasons",
    "training_matches",
    "data_from",
    "data_to",
    "validation_from",
    "validation_to",
    "validation_matches",
)


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    config = row.get("config") or {}
    return {
        "version": row["version"],
        "model_type": row["model_type"],
        "status": row["status"],
        "created_at": row["created_at"],
        **{key: row.get(key) for key in WINDOW},
        "hyperparameters": config.get("hyperparameters") or {},
        "metrics": {
            key: row.get(key)
            for key in ("rps", "log_loss", "brier_score", "overall_accuracy", "draw_accuracy")
        },
    }


def _per_league(forecasts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    p = np.asarray(forecasts["p"], dtype=float).reshape(-1, 3)
    y = np.asarray(forecasts["y"], dtype=int)
    leagues = np.asarray(forecasts["league"], dtype=object)
    out = {}
    for league in sorted(set(leagues)):
        rows = leagues == league
        out[str(league)] = {k: v for k, v in metrics.summary(p[rows], y[rows]).items()}
    return out


def _detail(row: dict[str, Any], logs: list[str]) -> dict[str, Any]:
    forecasts = row.get("validation_forecasts")
    out = _summary(row)
    out["metrics_detail"] = row.get("metrics") or {}
    out["logs"] = logs
    if forecasts:
        out["per_league"] = _per_league(forecasts)
        out["calibration"] = calibration(forecasts)
    else:  # trained before held-out forecasts were kept
        out["per_league"] = {}
        out["calibration"] = None
    return out


async def _logs(engine: AsyncEngine, model_id: int) -> list[str]:
    async with engine.connect() as conn:
        logs = (
            await conn.execute(
                sa.select(_RUNS.c.logs)
                .where(_RUNS.c.model_id == model_id)
                .order_by(_RUNS.c.id.desc())
                .limit(1)
            )
        ).scalar()
    return [str(line) for line in logs or []]


async def model_detail(engine: AsyncEngine, version: str) -> dict[str, Any]:
    """``version``: its windows, hyperparameters, metrics overall and per league, its
    calibration (equal-count bins with their counts) and its run's logs."""
    row = await get_model(engine, version, with_weights=False, with_forecasts=True)
    logs = await _logs(engine, row["id"])
    return await asyncio.to_thread(_detail, row, logs)


def _compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    fa, fb = a.get("validation_forecasts"), b.get("validation_forecasts")
    ha = (a.get("config") or {}).get("hyperparameters") or {}
    hb = (b.get("config") or {}).get("hyperparameters") or {}
    out: dict[str, Any] = {
        "a": _summary(a),
        "b": _summary(b),
        "hyperparameters": {
            key: {"a": ha.get(key), "b": hb.get(key), "same": ha.get(key) == hb.get(key)}
            for key in sorted(set(ha) | set(hb))
        },
        "windows": {
            key: {"a": a.get(key), "b": b.get(key), "same": a.get(key) == b.get(key)}
            for key in WINDOW
        },
    }
    if not fa or not fb:
        missing = [r["version"] for r, f in ((a, fa), (b, fb)) if not f]
        out["paired"] = {"n": 0, "overall": None, "leagues": {}}
        out["calibration"] = None
        out["note"] = (
            f"{', '.join(missing)} kept no held-out forecasts (trained before they were "
            "stored): no paired comparison"
        )
        return out
    out["paired"] = paired(fa, fb)
    ia, ib = common_matches(fa, fb)
    out["calibration"] = {
        "a": calibration(_rows(fa, ia)),
        "b": calibration(_rows(fb, ib)),
    }
    out["note"] = (
        f"paired on the {out['paired']['n']} validation matches both held out; rps_diff is "
        "b - a (negative: b is better)"
    )
    return out


def _rows(forecasts: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
    return {key: [forecasts[key][i] for i in rows] for key in ("p", "y")}


async def compare_models(engine: AsyncEngine, a: str, b: str) -> dict[str, Any]:
    """Version ``b`` against version ``a``: paired scores on their common validation matches,
    overall and per league; calibration on those matches with bin counts; hyperparameters and
    data windows side by side."""
    row_a = await get_model(engine, a, with_weights=False, with_forecasts=True)
    row_b = await get_model(engine, b, with_weights=False, with_forecasts=True)
    return await asyncio.to_thread(_compare, row_a, row_b)
