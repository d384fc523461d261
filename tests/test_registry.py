"""At most one active model per type and scope (league set): enforced by the database, kept
under concurrency."""

from __future__ import annotations

import asyncio
import re

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from core.errors import InvalidInputError
from server.runs.registry import (
    ModelNotFoundError,
    UnusableModelError,
    activate_model,
    archive_model,
    check_usable,
    list_models,
)
from server.store.tables import Model, ModelStatus


async def add_models(
    engine, n: int, model_type: str = "poisson", status=ModelStatus.COMPLETED, scope: str = "E0"
):
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(Model.__table__),
            [
                {
                    "version": f"{model_type}-{scope}-{i}",
                    "model_type": model_type,
                    "status": status,
                    "scope": scope,
                    "training_leagues": scope.split(","),
                }
                for i in range(n)
            ],
        )
    return [f"{model_type}-{scope}-{i}" for i in range(n)]


async def active(engine, model_type: str = "poisson", scope: str | None = None) -> list[str]:
    query = sa.select(Model.version).where(
        Model.model_type == model_type, Model.status == ModelStatus.ACTIVE
    )
    if scope is not None:
        query = query.where(Model.scope == scope)
    async with engine.connect() as conn:
        return [r[0] for r in await conn.execute(query.order_by(Model.version))]


async def test_the_database_itself_refuses_a_second_active_model_of_a_scope(engine):
    await add_models(engine, 1, status=ModelStatus.ACTIVE)
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(Model.__table__).values(
                    version="second", model_type="poisson", status=ModelStatus.ACTIVE, scope="E0"
                )
            )
    await add_models(engine, 1, model_type="full", status=ModelStatus.ACTIVE)  # other type: fine
    await add_models(engine, 1, status=ModelStatus.ACTIVE, scope="E1")  # other leagues: fine
    await add_models(engine, 1, status=ModelStatus.ACTIVE, scope="E0,E1")
    assert len(await active(engine)) == 3


async def test_activation_archives_the_previous_model(engine):
    first, second = await add_models(engine, 2)
    await activate_model(engine, first)
    await activate_model(engine, second)
    assert await active(engine) == [second]
    async with engine.connect() as conn:
        status = await conn.execute(sa.select(Model.status).where(Model.version == first))
        assert status.scalar_one() == ModelStatus.ARCHIVED
    await archive_model(engine, second)
    assert await active(engine) == []


async def test_concurrent_promotions_leave_exactly_one_active_model_per_scope(engine):
    scopes = ("E0", "E1", "E0,E1")
    versions = [v for s in scopes for v in await add_models(engine, 6, scope=s)]
    results = await asyncio.gather(
        *(activate_model(engine, v) for v in versions), return_exceptions=True
    )
    assert [r for r in results if r is not None] == []  # serialised, none lost a race
    for s in scopes:
        assert len(await active(engine, scope=s)) == 1
    async with engine.connect() as conn:
        archived = (
            await conn.execute(
                sa.select(sa.func.count()).where(Model.status == ModelStatus.ARCHIVED)
            )
        ).scalar_one()
    assert archived == 15


async def test_activation_replaces_only_the_model_of_the_same_leagues(engine):
    (e0,) = await add_models(engine, 1, scope="E0")
    (e1,) = await add_models(engine, 1, scope="E1")
    (both,) = await add_models(engine, 1, scope="E0,E1")
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(Model.__table__).values(
                version="again", model_type="poisson", status=ModelStatus.COMPLETED, scope="E0"
            )
        )
    e0_again = "again"
    for version in (e0, e1, both):
        await activate_model(engine, version)
    assert await active(engine) == sorted([e0, e1, both])
    await activate_model(engine, e0_again)
    assert await active(engine) == sorted([e0_again, e1, both])
    # listings by league: a scope covers each of its leagues, and only those
    listed = {m["version"] for m in await list_models(engine, league="E1")}
    assert listed == {e1, both}
    assert {m["version"] for m in await list_models(engine, league="E", limit=50)} == set()


async def test_unknown_and_unfinished_models_cannot_be_activated(engine):
    with pytest.raises(ModelNotFoundError, match="nope"):
        await activate_model(engine, "nope")
    (training,) = await add_models(engine, 1, model_type="full", status=ModelStatus.TRAINING)
    with pytest.raises(InvalidInputError, match="is training"):
        await activate_model(engine, training)


# --- only usable models are stored ------------------------------------------------------------


@pytest.fixture
def usable(make_matches):
    """Weights and metrics of a sound fit, in the registry's shape."""
    from core import DixonColes

    weights = {"dixon_coles": DixonColes().fit(make_matches(n_teams=8)).to_dict()}
    metrics = {"rps": 0.2, "log_loss": 1.0, "brier": 0.6, "accuracy": 0.5, "draw_accuracy": None}
    return weights, metrics


def test_a_sound_model_is_usable(usable):
    check_usable(*usable)


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        (lambda w, m: w["dixon_coles"].update(rho=float("nan")), "dixon_coles.rho is nan"),
        (
            lambda w, m: w["dixon_coles"]["parameters"]["attack"].__setitem__(0, float("inf")),
            "attack[0] is inf",
        ),
        (lambda w, m: w["dixon_coles"]["fit"].update(loglik=12.5), "log-likelihood 12.5"),
        (lambda w, m: m.update(rps=2.8e86), "rps is 2.8e+86"),
        (lambda w, m: m.update(log_loss=float("nan")), "log_loss is nan"),
        # the diverged fit of a league where every match ends 1-0 at home
        (lambda w, m: w["dixon_coles"].update(rho=1.2e30), "probability"),
    ],
)
def test_a_diverged_model_is_refused_naming_the_cause(usable, change, cause):
    weights, metrics = usable
    change(weights, metrics)
    with pytest.raises(UnusableModelError, match=re.escape(cause)):
        check_usable(weights, metrics)
