"""The pieces of serving by scope: which active model serves a fixture, the promotion rule
on paired held-out forecasts, calibration bins, and migration 0003's scope of earlier
versions."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import sqlalchemy as sa

from core import metrics
from core.comparison import MIN_COMMON, calibration, common_matches, paired, promotion
from server.runs.registry import ModelNotFoundError
from server.runs.scope import NoModelForLeagueError, pick
from server.store import migrations


def forecasts(n: int, seed: int = 0, leagues=("E0",), sharp: float = 0.0, start: int = 0):
    """Held-out forecasts of ``n`` matches (dates from day ``start``); ``sharp`` moves the
    forecast towards the real outcome (negative: towards a wrong one)."""
    rng = np.random.default_rng(seed)
    y = np.random.default_rng(99).integers(0, 3, n + start)[start:]
    p = rng.dirichlet([4, 3, 3], n)
    towards = y if sharp >= 0 else (y + 1) % 3
    p = (1 - abs(sharp)) * p + abs(sharp) * np.eye(3)[towards]
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=int(i)) for i in range(start, start + n)]
    return {
        "date": [d.isoformat() for d in days],
        "league": [leagues[i % len(leagues)] for i in range(n)],
        "home": [f"h{i + start}" for i in range(n)],
        "away": [f"a{i + start}" for i in range(n)],
        "p": p.tolist(),
        "y": y.tolist(),
    }


def test_paired_scores_are_on_the_common_matches_only():
    a = forecasts(200, seed=1, leagues=("E0", "E1"))
    b = forecasts(150, seed=2, leagues=("E0", "E1"), start=100)  # 100 matches in common
    ia, ib = common_matches(a, b)
    assert ia.size == 100 and (np.asarray(a["home"])[ia] == np.asarray(b["home"])[ib]).all()
    result = paired(a, b)
    assert result["n"] == 100
    pa, pb = np.asarray(a["p"])[100:], np.asarray(b["p"])[:100]
    y = np.asarray(a["y"])[100:]
    diff = metrics.rps_per_match(pb, y) - metrics.rps_per_match(pa, y)
    overall = result["overall"]
    assert overall["rps_diff"] == pytest.approx(diff.mean())
    assert overall["rps_diff_se"] == pytest.approx(diff.std(ddof=1) / np.sqrt(100))
    assert overall["a"]["rps"] == pytest.approx(metrics.rps(pa, y))
    assert set(result["leagues"]) == {"E0", "E1"}
    assert sum(x["n"] for x in result["leagues"].values()) == 100
    assert paired(a, forecasts(10, start=500))["n"] == 0


def test_promotion_needs_a_margin_of_two_standard_errors():
    active = forecasts(400, seed=1)
    better, _ = promotion(active, forecasts(400, seed=1, sharp=0.2))
    assert better
    same, why = promotion(active, active)
    assert same and "not worse" in why
    worse, why = promotion(active, forecasts(400, seed=1, sharp=-0.3))
    assert not worse and why.startswith("worse than the active model") and "standard error" in why
    # a little worse, within the noise: promoted
    slightly = forecasts(400, seed=1)
    y = np.asarray(active["y"])
    right, wrong = np.eye(3)[y], np.eye(3)[(y + 1) % 3]
    half = (np.arange(400) % 2 == 0)[:, None]
    p = np.asarray(active["p"])
    # half the matches 0.1 nearer their result, half 0.23 nearer a wrong one
    shifted = np.where(half, 0.9 * p + 0.1 * right, 0.77 * p + 0.23 * wrong)
    slightly["p"] = shifted.tolist()
    result = paired(active, slightly)["overall"]
    assert 0 < result["rps_diff"] < 2 * result["rps_diff_se"]
    assert promotion(active, slightly)[0]
    # too few common matches: not comparable, stays a candidate
    few, why = promotion(active, forecasts(MIN_COMMON - 1, seed=3))
    assert not few and f"only {MIN_COMMON - 1} validation matches in common" in why
    assert promotion(None, active)[0]


def test_calibration_bins_count_their_forecasts():
    f = forecasts(95)
    curves = calibration(f, bins=10)
    for k, outcome in enumerate(("home", "draw", "away")):
        bins = curves[outcome]
        assert [b["count"] for b in bins] == [10] * 5 + [9] * 5
        assert sum(b["count"] * b["predicted"] for b in bins) == pytest.approx(
            np.asarray(f["p"])[:, k].sum()
        )
        assert sum(b["count"] * b["observed"] for b in bins) == pytest.approx(
            (np.asarray(f["y"]) == k).sum()
        )


MODELS = [  # best first: latest data_to
    {"version": "e1", "leagues": frozenset({"E1"}), "data_to": dt.date(2025, 5, 3)},
    {"version": "e0", "leagues": frozenset({"E0"}), "data_to": dt.date(2025, 5, 1)},
    {"version": "both", "leagues": frozenset({"E0", "E1"}), "data_to": dt.date(2024, 5, 1)},
]


def test_the_model_covering_the_fixtures_leagues_serves_it():
    assert pick(MODELS, ["E0"]) == "e0"  # latest data among those covering E0
    assert pick(MODELS, ["E1"]) == "e1"
    assert pick(MODELS, ["E0", "E1"]) == "both"  # covering both teams' leagues first
    assert pick(MODELS, []) == "e1"  # teams that never played: the newest
    assert pick([MODELS[1], MODELS[0]], ["E0", "E1"]) == "e0"  # else one covering either
    with pytest.raises(
        NoModelForLeagueError, match="covers SP1; active 'full' models cover E0, E1"
    ):
        pick(MODELS, ["SP1"])
    with pytest.raises(ModelNotFoundError, match="no active 'full' model: train one first"):
        pick([], ["E0"])


async def test_migration_0003_gives_earlier_versions_their_scope(empty_database, monkeypatch):
    engine = empty_database
    real = migrations.load(engine.dialect.name)
    monkeypatch.setattr(migrations, "load", lambda dialect: [m for m in real if m.version < 3])
    await migrations.upgrade(engine)
    pg = engine.dialect.name == "postgresql"
    status, leagues = ("CAST(:s AS model_status)", "CAST(:l AS jsonb)") if pg else (":s", ":l")
    insert = sa.text(
        f"INSERT INTO models (version, model_type, status, training_leagues) "
        f"VALUES (:v, 'full', {status}, {leagues})"
    )
    async with engine.begin() as conn:
        for version, codes, state in (
            ("old-e0", '["E0"]', "archived"),
            ("old-both", '["E1", "E0"]', "active"),
            ("old-none", None, "archived"),
        ):
            await conn.execute(insert, {"v": version, "s": state, "l": codes})
    monkeypatch.setattr(migrations, "load", lambda dialect: real)
    assert [m.version for m in await migrations.upgrade(engine)] == [3]
    async with engine.connect() as conn:
        rows = dict((await conn.execute(sa.text("SELECT version, scope FROM models"))).all())
    assert rows == {"old-e0": "E0", "old-both": "E0,E1", "old-none": ""}


@pytest.fixture(params=["postgresql", "sqlite"])
async def empty_database(request, database_url):
    from server.store.db import create_engine

    engine = create_engine(await database_url(request.param))
    yield engine
    await engine.dispose()
