"""The model registry: reading model versions, and its state changes (which version of a
type and scope is active; only usable models are stored).

A version's *scope* is the set of leagues it was fitted on (``"E0"``, ``"E0,E1"``).  At most
one model per ``(model_type, scope)`` is active: training E1 leaves the E0 model active,
training E0 again replaces it.  The database enforces it with a partial unique index; this
module keeps it true under concurrency by serialising promotions of the same type and scope
(a PostgreSQL advisory lock per pair; SQLite transactions already serialise).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from itertools import permutations
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.errors import FPEError, InvalidInputError
from core.markets import rho_bounds
from core.serving import StoredModel
from server.runs.modelerrors import ModelNotFoundError
from server.store import cache
from server.store.db import begin_write
from server.store.tables import Model, ModelStatus

__all__ = [
    "ConflictError",
    "UnusableModelError",
    "activate_model",
    "archive_model",
    "check_usable",
    "covers",
    "get_model",
    "get_model_by_id",
    "list_models",
    "lock_model_scope",
    "parse_status",
    "scope_of",
]

_MODELS = Model.__table__
_ACTIVATABLE = {ModelStatus.ACTIVE, ModelStatus.ARCHIVED, ModelStatus.COMPLETED}
# large columns that lists and single reads leave out unless asked
_HEAVY = ("model_weights", "validation_forecasts")


class ConflictError(FPEError):
    """The change lost a race with another one; retrying is safe."""

    code = "CONFLICT"
    http_status = 409


class UnusableModelError(FPEError):
    """A trained model whose parameters, metrics or probabilities are not finite and valid
    (a diverged fit); it is never stored as usable.  The message names the cause."""


# metric -> its valid range (inclusive); None values (no draw in the period) are allowed
_METRIC_RANGES = {
    "rps": (0.0, 1.0),
    "log_loss": (0.0, math.inf),
    "brier": (0.0, 2.0),
    "accuracy": (0.0, 1.0),
    "draw_accuracy": (0.0, 1.0),
    "rmse_goals": (0.0, math.inf),
}
_OPTIONAL_METRICS = {"draw_accuracy", "rmse_goals"}  # None: no draw in the period, no rates
_PROBE_TEAMS = 30  # the probabilities are checked on every pair of up to this many teams


def _numbers(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _numbers(item, f"{path}[{i}]")
    elif isinstance(value, float | np.floating):
        yield path, value


def check_usable(weights: dict[str, Any], metrics: dict[str, Any]) -> None:
    """Raise :class:`UnusableModelError` unless the goal model's parameters are finite, its
    log-likelihood is one (not positive), the metrics are finite and in range, and the model
    predicts probabilities (finite, in [0, 1], summing to 1) for its own teams.  CPU work:
    call it off the event loop."""
    dc = weights.get("dixon_coles", {})
    legacy = {k: weights.get(k) for k in ("team_strengths", "home_advantage", "rho")}
    for path, value in [*_numbers(dc, "dixon_coles"), *_numbers(legacy, "weights")]:
        if not math.isfinite(value):
            raise UnusableModelError(f"the fit diverged: parameter {path} is {value}")
    loglik = dc.get("fit", {}).get("loglik")
    if loglik is not None and loglik > 0:
        raise UnusableModelError(
            f"the fit diverged: its log-likelihood {loglik:.6g} is positive, so some "
            f"probabilities are negative (rho = {dc.get('rho')!r})"
        )
    for name, (low, high) in _METRIC_RANGES.items():
        value = metrics.get(name)
        if value is None and name in _OPTIONAL_METRICS:
            continue
        if value is None or not math.isfinite(value) or not low <= value <= high:
            raise UnusableModelError(
                f"the validation metric {name} is {value!r}, outside [{low}, {high}]: "
                "the fit diverged"
            )
    teams = list(dc.get("parameters", {}).get("teams", []))[:_PROBE_TEAMS]
    if len(teams) < 2:
        raise UnusableModelError("the model knows fewer than two teams")
    _check_rho(dc)
    home, away = zip(*permutations(teams, 2), strict=True)
    try:
        probs, grid = StoredModel(weights).predict(list(home), list(away))
    except (ArithmeticError, ValueError, FPEError) as exc:
        raise UnusableModelError(f"the model cannot predict: {exc}") from exc
    for what, p in (("1X2 probability", probs), ("score probability", grid.grid)):
        bad = ~np.isfinite(p) | (p < -1e-9) | (p > 1 + 1e-9)
        if bad.any():
            raise UnusableModelError(
                f"the model predicts a {what} of {p[bad].flat[0]:.6g} "
                f"(e.g. {home[int(np.argwhere(bad)[0][0])]} v {away[int(np.argwhere(bad)[0][0])]})"
            )
    sums = probs.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-6):
        worst = int(np.argmax(np.abs(sums - 1.0)))
        raise UnusableModelError(
            f"the model's 1X2 probabilities sum to {sums[worst]:.6g}, not 1 "
            f"({home[worst]} v {away[worst]})"
        )


def _check_rho(dc: dict[str, Any]) -> None:
    """The stored rho keeps every tau factor positive for every pair of the model's teams
    (predictions move an invalid rho inside each fixture's region, which would hide a
    diverged fit)."""
    rho, params = dc.get("rho"), dc.get("parameters", {})
    if not rho or not params.get("attack"):
        return
    attack = np.asarray(params["attack"], dtype=float)
    defence = np.asarray(params["defence"], dtype=float)
    lam = np.exp(params.get("home_advantage", 0.0) + attack[:, None] - defence[None, :])
    mu = np.exp(attack[None, :] - defence[:, None])
    off = ~np.eye(len(attack), dtype=bool)
    low, high = rho_bounds(lam[off], mu[off])
    if not (low.max() < rho < high.min()):
        raise UnusableModelError(
            f"the fit diverged: rho = {rho:.6g} gives a negative score probability "
            f"(every tau factor stays positive only for {low.max():.4g} < rho < "
            f"{high.min():.4g})"
        )


def scope_of(leagues: Any) -> str:
    """The scope of a set of league codes: sorted and comma-separated."""
    return ",".join(sorted({str(code) for code in leagues or ()}))


async def lock_model_scope(conn: AsyncConnection, model_type: str, scope: str) -> None:
    """Serialise changes to the active model of one type and scope until the transaction
    ends."""
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"fpe-model-scope:{model_type}:{scope}".encode())
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def covers(league: str) -> sa.ColumnElement[bool]:
    """Models whose scope includes ``league``."""
    scope = _MODELS.c.scope
    return sa.or_(
        scope == league,
        scope.startswith(f"{league},", autoescape=True),
        scope.endswith(f",{league}", autoescape=True),
        scope.contains(f",{league},", autoescape=True),
    )


async def _find(conn: AsyncConnection, version: str) -> sa.Row:
    row = (
        await conn.execute(
            sa.select(_MODELS.c.id, _MODELS.c.model_type, _MODELS.c.scope, _MODELS.c.status).where(
                _MODELS.c.version == version
            )
        )
    ).first()
    if row is None:
        raise ModelNotFoundError(f"no model has version {version!r}")
    return row


async def activate_model(engine: AsyncEngine, version: str) -> None:
    """Make ``version`` the active model of its type and scope and archive the one it
    replaces, in one transaction.  Only a completed (a candidate), archived or already active
    model can be activated."""
    model_type = "?"
    try:
        async with begin_write(engine) as conn:
            model = await _find(conn, version)
            model_type = model.model_type
            await lock_model_scope(conn, model.model_type, model.scope)
            status = (
                await conn.execute(sa.select(_MODELS.c.status).where(_MODELS.c.id == model.id))
            ).scalar_one()
            if status not in _ACTIVATABLE:
                raise InvalidInputError(
                    f"model {version!r} is {status.value}; only a completed or archived model "
                    "can be activated"
                )
            await conn.execute(
                sa.update(_MODELS)
                .where(
                    _MODELS.c.model_type == model.model_type,
                    _MODELS.c.scope == model.scope,
                    _MODELS.c.status == ModelStatus.ACTIVE,
                    _MODELS.c.id != model.id,
                )
                .values(status=ModelStatus.ARCHIVED)
            )
            await conn.execute(
                sa.update(_MODELS).where(_MODELS.c.id == model.id).values(status=ModelStatus.ACTIVE)
            )
        cache.invalidate(engine)
    except IntegrityError as exc:
        cache.invalidate(engine)
        raise ConflictError(
            f"another {model_type!r} model of the same leagues was promoted at the same time; "
            "try again"
        ) from exc


async def archive_model(engine: AsyncEngine, version: str) -> None:
    """Archive ``version`` (an active model leaves its type and scope with no active
    model)."""
    async with begin_write(engine) as conn:
        model = await _find(conn, version)
        await lock_model_scope(conn, model.model_type, model.scope)
        await conn.execute(
            sa.update(_MODELS).where(_MODELS.c.id == model.id).values(status=ModelStatus.ARCHIVED)
        )
    cache.invalidate(engine)


def _model_dict(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["status"] = ModelStatus(data["status"]).value
    return data


def parse_status(value: str) -> ModelStatus:
    """A status name as the enum; an unknown one is an :class:`InvalidInputError`."""
    try:
        return ModelStatus(value)
    except ValueError:
        raise InvalidInputError(
            f"unknown status {value!r}; use one of {', '.join(s.value for s in ModelStatus)}"
        ) from None


async def list_models(
    engine: AsyncEngine,
    status: str | None = None,
    model_type: str | None = None,
    limit: int = 50,
    offset: int = 0,
    with_weights: bool = False,
    league: str | None = None,
) -> list[dict[str, Any]]:
    """Versions, newest first; ``league``: only those whose scope includes it."""
    if not 1 <= limit <= 500 or offset < 0:
        raise InvalidInputError("limit must be 1..500 and offset >= 0")
    columns = [
        c for c in _MODELS.c if c.name not in _HEAVY or (with_weights and c.name == "model_weights")
    ]
    query = (
        sa.select(*columns)
        .order_by(_MODELS.c.created_at.desc(), _MODELS.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if status is not None:
        query = query.where(_MODELS.c.status == parse_status(status))
    if model_type is not None:
        query = query.where(_MODELS.c.model_type == model_type)
    if league is not None:
        query = query.where(covers(league.strip().upper()))
    async with engine.connect() as conn:
        return [_model_dict(r) for r in await conn.execute(query)]


async def get_model_by_id(engine: AsyncEngine, model_id: int) -> dict[str, Any]:
    """A model by its numeric id (the legacy REST shim's ids), without its weights."""
    columns = [c for c in _MODELS.c if c.name not in _HEAVY]
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(*columns).where(_MODELS.c.id == model_id))).first()
    if row is None:
        raise ModelNotFoundError(f"no model has id {model_id}")
    return _model_dict(row)


async def get_model(
    engine: AsyncEngine,
    version: str | None = None,
    model_type: str = "full",
    with_weights: bool = True,
    with_forecasts: bool = False,
) -> dict[str, Any]:
    """A named version, or the newest active model of ``model_type`` (latest data, then
    latest created: one per scope is active)."""
    columns = [
        c
        for c in _MODELS.c
        if (with_weights or c.name != "model_weights")
        and (with_forecasts or c.name != "validation_forecasts")
    ]
    query = sa.select(*columns)
    if version is not None:
        query = query.where(_MODELS.c.version == version)
    else:
        query = query.where(
            _MODELS.c.model_type == model_type, _MODELS.c.status == ModelStatus.ACTIVE
        ).order_by(
            _MODELS.c.data_to.desc().nulls_last(),
            _MODELS.c.created_at.desc(),
            _MODELS.c.id.desc(),
        )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        if version is not None:
            raise ModelNotFoundError(f"no model has version {version!r}")
        raise ModelNotFoundError(f"there is no active {model_type!r} model: train one first")
    return _model_dict(row)
