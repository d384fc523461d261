"""The engine's walk-forward forecast: both goal models, the pool, shots on target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInputError
from core.forecast import engine_forecast, pooled_rates, shots_targets
from server.formats.footballdata import read_file


@pytest.fixture(scope="module")
def e0(request) -> pd.DataFrame:
    folder = request.getfixturevalue("football_data_dir")
    frames = [read_file(p).matches for p in sorted(folder.glob("*/E0.csv"))[-3:]]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def forecast(e0) -> pd.DataFrame:
    return engine_forecast(e0)


def test_every_match_after_the_burn_in_has_all_three_forecasts(e0, forecast):
    done = forecast["p_home"].notna()
    assert done.sum() == 760  # two seasons after a one-season burn-in
    for prefix in ("dc_", "mi_", "kf_", "mc_", "p_"):
        cols = [f"{prefix}home", f"{prefix}draw", f"{prefix}away"]
        np.testing.assert_allclose(forecast.loc[done, cols].sum(axis=1), 1.0)
    assert (forecast.loc[done, "w_market_implied"] > 0).all()
    assert forecast.loc[~done, "p_home"].isna().all()


def test_the_market_implied_component_is_the_geometric_mean_of_ratings_and_filter(e0, forecast):
    done = forecast["p_home"].notna()
    f = forecast[done]
    geo = np.sqrt(f[["mi_home", "mi_draw", "mi_away"]].to_numpy()
                  * f[["kf_home", "kf_draw", "kf_away"]].to_numpy())  # fmt: skip
    np.testing.assert_allclose(
        f[["mc_home", "mc_draw", "mc_away"]].to_numpy(), geo / geo.sum(axis=1, keepdims=True)
    )
    np.testing.assert_allclose(
        f["mc_home_rate"], np.sqrt(f["mi_home_rate"] * f["kf_home_rate"]), rtol=1e-12
    )
    plain = engine_forecast(e0, kalman=False)
    np.testing.assert_array_equal(plain["mc_home"], plain["mi_home"])
    np.testing.assert_array_equal(plain["mi_home"], forecast["mi_home"])
    assert plain["kf_home"].isna().all()


def test_scrambling_later_results_leaves_earlier_forecasts_and_weights_alone(e0, forecast):
    cut = pd.Timestamp("2024-01-01")
    late = np.flatnonzero((e0["date"] >= cut).to_numpy())
    scrambled = e0.copy()
    shuffled = np.random.default_rng(4).permutation(late)
    for col in ("home_goals", "away_goals", "result"):
        scrambled.loc[late, col] = e0.loc[shuffled, col].to_numpy()
    again = engine_forecast(scrambled)
    early = forecast["refit_date"] <= cut
    cols = ["p_home", "p_draw", "p_away", "w_dixon_coles", "w_market_implied"]
    pd.testing.assert_frame_equal(again.loc[early, cols], forecast.loc[early, cols])
    later = forecast["refit_date"] > cut + pd.Timedelta(days=30)
    assert not np.allclose(again.loc[later, "p_home"], forecast.loc[later, "p_home"])


def test_the_forecast_never_uses_the_prices_of_its_own_match(e0, forecast):
    last = forecast["refit_date"] == forecast["refit_date"].max()
    doctored = e0.copy()
    odds = [c for c in e0.columns if c.endswith(("_h", "_d", "_a", "_over25", "_under25"))]
    doctored.loc[last[last].index, odds] = np.nan
    again = engine_forecast(doctored)
    cols = ["p_home", "p_draw", "p_away"]
    pd.testing.assert_frame_equal(again.loc[last, cols], forecast.loc[last, cols])


def test_shots_targets_mix_goals_with_past_goals_per_shot():
    frame = pd.DataFrame(
        {
            "date": pd.date_range("2020-01-01", periods=4, freq="D"),
            "league": "E0",
            "home_goals": [2, 1, 0, 3],
            "away_goals": [0, 1, 1, 1],
            "home_shots_on_target": pd.array([5, 4, None, 6], dtype="Int64"),
            "away_shots_on_target": pd.array([3, 4, 2, 2], dtype="Int64"),
        }
    )
    x, y = shots_targets(frame, 0.7)
    assert (x[0], y[0]) == (2.0, 0.0)  # no earlier match: no k yet, goals only
    k = (2 + 0) / (5 + 3)  # goals per shot on target before the second match
    assert x[1] == pytest.approx(0.7 * 1 + 0.3 * k * 4)
    assert (x[2], y[2]) == (0.0, 1.0)  # shots missing: goals
    k = (2 + 0 + 1 + 1) / (5 + 3 + 4 + 4)
    assert y[3] == pytest.approx(0.7 * 1 + 0.3 * k * 2)
    no_shots = frame.drop(columns=["home_shots_on_target", "away_shots_on_target"])
    np.testing.assert_array_equal(shots_targets(no_shots)[0], frame["home_goals"])
    with pytest.raises(InvalidInputError, match="goals_share"):
        shots_targets(frame, 1.5)


def test_shots_option_changes_only_the_results_model(e0, forecast):
    mixed = engine_forecast(e0, shots=0.7)
    done = forecast["p_home"].notna()
    assert not np.allclose(mixed.loc[done, "dc_home"], forecast.loc[done, "dc_home"])
    np.testing.assert_array_equal(mixed.loc[done, "mi_home"], forecast.loc[done, "mi_home"])


def test_pooled_rates_are_the_weighted_geometric_mean():
    lam, mu = pooled_rates([([1.0], [2.0]), ([4.0], [0.5])], [1.0, 1.0])
    assert lam[0] == pytest.approx(2.0) and mu[0] == pytest.approx(1.0)
    lam, _ = pooled_rates([([1.0], [2.0]), ([4.0], [0.5])], [-0.1, 1.0])  # clipped
    assert lam[0] == pytest.approx(4.0)


def test_without_any_prices_the_forecast_is_dixon_coles_alone(e0, forecast):
    odds = [c for c in e0.columns if c.endswith(("_h", "_d", "_a", "_over25", "_under25"))]
    bare = e0.copy()
    bare[odds] = np.nan
    fc = engine_forecast(bare)
    done = fc["p_home"].notna()
    assert done.sum() == 760 and fc["mi_home"].isna().all()
    cols = ["p_home", "p_draw", "p_away"]
    np.testing.assert_array_equal(
        fc.loc[done, cols].to_numpy(), fc.loc[done, ["dc_home", "dc_draw", "dc_away"]].to_numpy()
    )
    assert (fc.loc[done, "w_dixon_coles"] == 1.0).all()


def test_forecasts_up_to_a_week_are_bit_identical_when_that_week_changes(e0, forecast):
    """Exact causality: change one week's results and every one of its prices (to lopsided
    ones, so later goal rates and grids grow) and every forecast issued before that week
    stays the same to the bit."""
    week = pd.Timestamp("2023-11-06")
    rows = e0.index[((e0["date"] >= week) & (e0["date"] < week + pd.Timedelta(days=7))).to_numpy()]
    assert len(rows) >= 5
    doctored = e0.copy()
    doctored.loc[rows, "home_goals"] = 9
    doctored.loc[rows, "away_goals"] = 0
    doctored.loc[rows, "result"] = "H"
    odds = [c for c in e0.columns if c.endswith(("_h", "_d", "_a", "_over25", "_under25"))]
    prices = {"_h": 1.01, "_d": 41.0, "_a": 81.0, "_over25": 1.02, "_under25": 21.0}
    for col in odds:
        doctored.loc[rows, col] = next(v for k, v in prices.items() if col.endswith(k))
    again = engine_forecast(doctored)
    before = (forecast["refit_date"] <= week).to_numpy()
    assert before.sum() > 100
    for col in forecast.columns:
        a, b = forecast.loc[before, col].to_numpy(), again.loc[before, col].to_numpy()
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), col
    after = (forecast["refit_date"] > week).to_numpy()
    assert not np.array_equal(forecast.loc[after, "p_home"], again.loc[after, "p_home"])


def test_a_group_with_only_its_burn_in_is_left_out_not_fatal(request, e0, forecast):
    # a league with one season (nothing after its own burn-in) next to one with three
    folder = request.getfixturevalue("football_data_dir")
    d1 = read_file(folder / "2425" / "D1.csv").matches
    frame = pd.concat([e0.assign(country="England"), d1.assign(country="Germany")],
                      ignore_index=True)  # fmt: skip
    out = engine_forecast(frame, group_by="country")
    germany = (frame["country"] == "Germany").to_numpy()
    assert out.loc[germany, "p_home"].isna().all()
    assert out.loc[germany, "kf_home"].isna().all()
    # the other country's forecasts are those it gets alone
    np.testing.assert_array_equal(out.loc[~germany, "p_home"], forecast["p_home"])
    with pytest.raises(InvalidInputError, match="no match falls on or after"):
        engine_forecast(d1.assign(country="Germany"), group_by="country")


def _shade_draws(frame: pd.DataFrame, factor: float) -> pd.DataFrame:
    """Every book's draw probability times ``factor``, home and away raised to keep its margin."""
    out = frame.copy()
    stems = {c[:-2] for c in frame.columns if c.endswith(("_pre_d", "_close_d"))}
    for stem in stems:
        q = 1.0 / frame[[f"{stem}_h", f"{stem}_d", f"{stem}_a"]].to_numpy(dtype=float)
        draw = q[:, 1] * factor
        scale = (q.sum(axis=1) - draw) / (q[:, 0] + q[:, 2])
        out[f"{stem}_h"], out[f"{stem}_d"] = 1.0 / (q[:, 0] * scale), 1.0 / draw
        out[f"{stem}_a"] = 1.0 / (q[:, 2] * scale)
    return out


def test_the_pool_draw_intercept_learns_what_the_market_misses_of_the_draw(e0, forecast):
    """Prices that shade every draw: the engine follows them, and its draw intercept
    (weights fitted on earlier matches only) gives back part of it."""
    done = forecast["p_home"].notna()
    shaded = _shade_draws(e0, 0.8)
    without = engine_forecast(shaded, draw_prior_matches=None)
    learned = engine_forecast(shaded)
    assert without["w_draw_intercept"].isna().all()
    w = learned.loc[done, "w_draw_intercept"]
    assert w.iloc[0] == 0.0 and w.iloc[-1] > 0.05  # the prior's centre until 300 forecasts
    draws = {name: f.loc[done, "p_draw"].mean() for name, f in (("without", without),
             ("learned", learned), ("as priced", forecast))}  # fmt: skip
    assert draws["without"] < draws["learned"] < draws["as priced"]
    # on the prices as they are there is little to learn
    assert abs(forecast.loc[done, "w_draw_intercept"]).max() < 0.05
