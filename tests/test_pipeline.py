"""Training pipelines on real data: every type, no leakage, stored models that predict."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core import DixonColes, Poisson, metrics
from core.draw import DrawModel
from core.errors import ConvergenceError, InvalidInputError
from core.odds import implied_probabilities, market_probabilities
from core.pipeline import MODEL_TYPES, TrainingConfig, pre_match_market, train
from core.serving import predict_proba
from core.sources import DRAW_SOURCES
from server.formats.footballdata import read_file


@pytest.fixture(scope="module")
def e0(request) -> pd.DataFrame:
    folder = request.getfixturevalue("football_data_dir")
    frames = [read_file(p).matches for p in sorted(folder.glob("*/E0.csv"))[-6:]]
    frame = pd.concat(frames, ignore_index=True)
    frame["country"] = "England"
    return frame


@pytest.fixture(scope="module")
def trained(e0) -> dict[str, object]:
    return {t: train(e0, TrainingConfig(model_type=t)) for t in MODEL_TYPES}


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_every_type_reports_validation_metrics_against_the_market(trained, model_type):
    result = trained[model_type]
    m = result.metrics
    # the last 20 % of six seasons (2280 matches), from the first match of that day on
    assert m["n"] == result.n_validation == 457
    assert set(m) >= {
        "rps",
        "log_loss",
        "brier",
        "accuracy",
        "draw_accuracy",
        "rmse_goals",
        "market",
        "comparison",
        "validation_start",
    }
    assert 0.17 < m["rps"] < 0.23 and 0.17 < m["market"]["rps"] < 0.23
    assert m["comparison"]["n"] == 457
    assert 0.9 < m["rmse_goals"] < 1.5
    w = result.weights
    assert set(w) >= {
        "team_strengths",
        "calibration_curves",
        "home_advantage",
        "decay_rate",
        "blend_alpha",
        "dixon_coles",
    }
    assert ("blend" in w) == (model_type in ("blending", "full"))
    assert ("calibrator" in w) == (model_type in ("calibration", "full"))
    # the engine's forecast: both goal models and the pool, for every type
    assert w["market_implied"]["model_type"] == "market_implied"
    # ... and, the files having shots on target, the last match's as its third component;
    # the last is the draw intercept
    names = ["dixon_coles", "market_implied", "last_shots", "draw_intercept"]
    assert w["pool"]["components"] == names
    assert len(w["pool"]["weights"]) == 4 and set(w["last_shots"]["teams"]) == set(
        w["dixon_coles"]["parameters"]["teams"]
    )
    # against the pre-match market (one source), with the closing market as the ceiling
    assert m["market_kind"] == "pre" and m["market_source"] == "pinnacle_pre"
    assert m["comparison"]["n"] + m["matches_without_market"] == 457
    assert m["ceiling"]["market_source"] == "pinnacle_close"
    assert set(m["components"]) == {"dixon_coles", "market_implied"}
    assert (w["blend_alpha"] is None) == (model_type in ("poisson", "calibration", "draw"))
    assert ("draw" in w) == ("independent_poisson" in w) == (model_type == "draw")
    json.dumps(w)  # the registry stores it as JSON


def test_the_engines_forecast_beats_dixon_coles_alone(trained):
    m = trained["poisson"].metrics
    assert m["rps"] < m["components"]["dixon_coles"]["rps"]


def test_blends_see_pre_match_prices_only(e0):
    market, overround = pre_match_market(e0, "power")
    doctored = e0.copy()
    closing = [c for c in e0.columns if "_close_" in c]
    doctored[closing] = 1.01  # absurd closing prices must change nothing
    again, again_over = pre_match_market(doctored, "power")
    np.testing.assert_array_equal(market, again)
    np.testing.assert_array_equal(overround, again_over)
    pinnacle = e0[["pinnacle_pre_h", "pinnacle_pre_d", "pinnacle_pre_a"]].to_numpy()
    expected = implied_probabilities(pinnacle, "power")
    np.testing.assert_allclose(market, expected)


def test_blend_beats_the_market_and_stays_near_the_engine(trained):
    """The blend combines the engine's forecast with the pre-match market: on 457 matches
    it beats the market and stays within 0.0005 of the engine (here the engine, with the
    Kalman filter and the last match's shots, is itself ahead of the market: noise on so
    few matches)."""
    blend = trained["blending"].metrics
    engine, market = trained["poisson"].metrics["rps"], blend["market"]["rps"]
    # the engine adds to the market (a blend that returned the price would not pass) ...
    assert blend["rps"] < market
    # ... and the market to the engine, within what 457 matches can tell apart
    assert blend["rps"] - engine < 0.0005


def test_progress_is_reported_and_can_stop_the_run(e0):
    seen = []

    def progress(phase, fraction, message, interim):
        seen.append((phase, fraction))

    train(e0, TrainingConfig(model_type="full"), progress)
    phases = [p for p, _ in seen]
    assert phases[0] == "dixon_coles" and "blending" in phases and "calibration" in phases
    fractions = [f for _, f in seen]
    assert all(0 <= f <= 1 for f in fractions) and fractions[-1] > 0.9

    class Stop(Exception):
        pass

    def stop(phase, fraction, message, interim):
        if fraction > 0.2:
            raise Stop

    with pytest.raises(Stop):
        train(e0, TrainingConfig(model_type="full"), stop)


def test_shuffled_validation_outcomes_make_the_metrics_worse(e0, trained):
    base = trained["poisson"].metrics
    cut = e0["date"] >= pd.Timestamp(base["validation_start"])
    shuffled = e0.copy()
    rng = np.random.default_rng(0)
    idx = shuffled.index[cut]
    perm = rng.permutation(len(idx))
    for col in ("home_goals", "away_goals", "result"):
        shuffled.loc[idx, col] = shuffled.loc[idx, col].to_numpy()[perm]
    worse = train(shuffled, TrainingConfig(model_type="poisson")).metrics
    assert worse["rps"] > base["rps"] + 0.01
    assert worse["log_loss"] > base["log_loss"] + 0.02


def test_the_validation_fit_never_saw_the_validation_matches(e0, trained):
    held_out = trained["poisson"].validation_weights["dixon_coles"]
    start = pd.Timestamp(trained["poisson"].metrics["validation_start"])
    config = TrainingConfig()
    before = DixonColes(xi=config.xi, l2=config.l2).fit(e0[e0.date < start], reference_date=start)
    everything = DixonColes(xi=config.xi, l2=config.l2).fit(e0, reference_date=start)
    np.testing.assert_allclose(held_out["parameters"]["attack"], before.attack_, atol=1e-9)
    assert not np.allclose(
        everything.attack_[np.isin(everything.teams_, before.teams_)],
        before.attack_[np.isin(before.teams_, everything.teams_)],
        atol=1e-3,
    )


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_the_stored_model_is_refitted_on_every_selected_match(e0, trained, model_type):
    result = trained[model_type]
    last = e0["date"].max()
    config = TrainingConfig()
    everything = DixonColes(xi=config.xi, l2=config.l2).fit(
        e0, reference_date=last + pd.Timedelta(days=1)
    )
    stored = result.weights["dixon_coles"]["parameters"]
    assert stored["teams"] == list(everything.teams_)
    np.testing.assert_allclose(stored["attack"], everything.attack_, atol=1e-9)
    # a club promoted for the last season is known to the served model only
    assert set(stored["teams"]) > set(
        result.validation_weights["dixon_coles"]["parameters"]["teams"]
    )
    assert result.n_train == len(e0)
    window = result.window
    assert window["data_from"] == e0["date"].min().date().isoformat()
    assert window["data_to"] == last.date().isoformat()
    assert window["validation_to"] == window["data_to"]
    assert window["validation_from"] == result.metrics["validation_start"]
    assert window["leagues"] == ["E0"] and len(window["seasons"]) == 6
    forecasts = result.validation_forecasts
    assert len(forecasts["y"]) == result.n_validation == result.metrics["n"]
    p = np.array(forecasts["p"])
    assert metrics.rps(p, np.array(forecasts["y"])) == pytest.approx(result.metrics["rps"])
    if model_type == "draw":  # the draw stages are refitted too
        assert result.weights["draw"] != result.validation_weights["draw"]
    if model_type in ("full", "calibration"):
        # the refit keeps the choices validation scored: the same calibrator kind (and
        # blend method), not a new pick on its own last, unvalidated matches
        logs = " ".join(result.logs)
        assert "refit: calibration: " in logs and "as chosen on held-out data" in logs
        kinds = ("identity", "logistic", "isotonic")
        assert (
            result.weights["calibrator"]["kind"] == result.validation_weights["calibrator"]["kind"]
        )
        assert result.weights["calibrator"]["kind"] in kinds
    if model_type == "full":
        assert "refit: blend" in " ".join(result.logs)
        assert result.weights["blend"]["method"] == result.validation_weights["blend"]["method"]


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_stored_weights_predict_new_fixtures(trained, model_type):
    weights = json.loads(json.dumps(trained[model_type].weights))
    teams = weights["dixon_coles"]["parameters"]["teams"][:4]
    probs, grid = predict_proba(weights, teams[:2], teams[2:])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    assert grid.grid.shape[0] == 2 and grid.grid.shape[1] >= 11  # exact: < 1e-10 left out
    market = np.array([[0.5, 0.3, 0.2], [np.nan, np.nan, np.nan]])
    with_odds, _ = predict_proba(weights, teams[:2], teams[2:], market, np.array([0.04, np.nan]))
    np.testing.assert_allclose(with_odds[1], probs[1])  # no odds: the same as without
    if model_type in ("blending", "full") and weights["blend"]["blend_alpha"] < 0.99:
        assert not np.allclose(with_odds[0], probs[0])


def test_selection_errors(e0):
    with pytest.raises(InvalidInputError, match="at least 300"):
        train(e0.iloc[:200], TrainingConfig())
    one_season = e0[e0.date < "2020-07-01"]
    with pytest.raises(InvalidInputError, match="too short"):
        train(one_season.iloc[-380:], TrainingConfig())
    with pytest.raises(InvalidInputError, match="unknown model type"):
        train(e0, TrainingConfig(model_type="neural"))


def _validation_rows(e0: pd.DataFrame, start: str) -> pd.DataFrame:
    frame = e0.sort_values("date", kind="stable").reset_index(drop=True)
    return frame[frame["date"] >= pd.Timestamp(start)]


def test_draw_metrics_sit_next_to_dixon_coles_and_the_pre_match_market(e0, trained):
    m = trained["draw"].metrics
    d = m["draw"]
    assert m["market_prices"] == "pre-match"
    for key in ("model", "model_without_odds", "dixon_coles", "poisson", "model_priced", "market"):
        block = d[key]
        assert set(block) >= {"observed_rate", "mean_predicted", "brier", "log_loss"}
        assert sum(n for _, _, n in block["reliability"]) == block["n"]
        assert len(block["reliability"]) == 10 and 0 <= block["calibration_error"] < 0.2
    assert d["model"]["n"] == d["dixon_coles"]["n"] == m["n"] == 457
    assert d["model"]["observed_rate"] == d["dixon_coles"]["observed_rate"]
    assert "draw_accuracy" in d["model"] and "draw_accuracy" in d["market"]
    assert d["vs_dixon_coles"]["n"] == 457
    assert d["vs_dixon_coles"]["model"]["rps"] == pytest.approx(m["rps"])
    # the market beside it is the pre-match one (not the closing price) on the same matches
    valid = _validation_rows(e0, m["validation_start"])
    market, _ = market_probabilities(valid, "power", DRAW_SOURCES)
    priced = ~np.isnan(market[:, 0])
    y = valid["result"].to_numpy()
    assert m["market"]["n"] == d["n_with_pre_match_odds"] == priced.sum()
    assert m["market"]["rps"] == pytest.approx(metrics.rps(market[priced], y[priced]))
    closing, _ = market_probabilities(valid, "power")
    assert m["market"]["rps"] != pytest.approx(metrics.rps(closing[priced], y[priced]))
    assert d["market"]["mean_predicted"] == pytest.approx(market[priced, 1].mean())


def test_draw_weights_and_components_are_stored(e0, trained):
    result = trained["draw"]
    w = result.weights
    draw = w["draw"]
    assert set(draw["weights"]) == {"poisson", "dixon_coles", "market"}
    assert sum(draw["weights"].values()) == pytest.approx(1.0)
    assert sum(draw["fallback_weights"].values()) == pytest.approx(1.0)
    for bound in ("floor", "cap"):
        assert draw[bound] is None or 0.0 < draw[bound] < 1.0
    assert 0.0 < draw["floor_candidate"] < draw["cap_candidate"] < 1.0
    assert draw["market_sources"] == list(DRAW_SOURCES)
    assert any("draw model: weights" in line for line in result.logs)
    # the held-out independent Poisson component is fitted on the pre-validation matches only
    start = pd.Timestamp(result.metrics["validation_start"])
    config = TrainingConfig()
    before = Poisson(xi=config.xi, l2=config.l2).fit(e0[e0.date < start], reference_date=start)
    stored = result.validation_weights["independent_poisson"]["parameters"]
    np.testing.assert_allclose(stored["attack"], before.attack_, atol=1e-9)
    assert w["independent_poisson"]["rho"] == 0.0


def test_a_stored_draw_model_keeps_the_goal_models_home_away_ratio(trained):
    weights = json.loads(json.dumps(trained["draw"].weights))
    teams = weights["dixon_coles"]["parameters"]["teams"][:6]
    for market in (None, np.array([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6], [0.4, 0.35, 0.25]])):
        probs, grid = predict_proba(weights, teams[:3], teams[3:], market)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
        np.testing.assert_allclose(
            probs[:, 0] / probs[:, 2], grid.home_win / grid.away_win, rtol=1e-9
        )
    draw = DrawModel.from_dict(weights["draw"])
    assert (draw.predict_draw(np.column_stack([grid.outcomes, grid.draw, market[:, 1]])) > 0).all()
    with_odds, _ = predict_proba(weights, teams[:3], teams[3:], market)
    without, _ = predict_proba(weights, teams[:3], teams[3:])
    if draw.weights_[2] > 0.05:
        assert not np.allclose(with_odds[:, 1], without[:, 1])


def test_the_draw_model_learns_from_pre_validation_results_and_pre_match_prices_only(e0, trained):
    base = trained["draw"]
    start = base.metrics["validation_start"]
    changed = e0.copy()
    idx = changed.index[changed["date"] >= pd.Timestamp(start)]
    perm = np.random.default_rng(1).permutation(len(idx))
    for col in ("home_goals", "away_goals", "result"):
        changed.loc[idx, col] = changed.loc[idx, col].to_numpy()[perm]
    for col in [c for c in changed.columns if "_close_" in c]:
        changed[col] = np.nan  # closing prices: never used by the draw model
    phases = []
    again = train(
        changed,
        TrainingConfig(model_type="draw"),
        lambda phase, fraction, message, interim: phases.append(phase),
    )
    assert "draw" in phases and phases[0] == "dixon_coles"
    held_out, base_held_out = again.validation_weights, base.validation_weights
    for key in ("weights", "fallback_weights", "floor", "cap", "floor_candidate", "n_train"):
        assert held_out["draw"][key] == base_held_out["draw"][key]
    assert held_out["independent_poisson"] == base_held_out["independent_poisson"]
    assert again.metrics["draw"]["model"]["log_loss"] != base.metrics["draw"]["model"]["log_loss"]


def test_data_that_do_not_identify_the_model_fail_training_with_the_cause(e0):
    no_away_goals = e0.assign(away_goals=0)
    no_away_goals["result"] = np.where(no_away_goals["home_goals"] > 0, "H", "D")
    with pytest.raises(ConvergenceError, match="no away team scores"):
        train(no_away_goals, TrainingConfig())


def test_stored_poisson_model_pools_and_falls_back_to_dixon_coles(trained):
    weights = json.loads(json.dumps(trained["poisson"].weights))
    teams = weights["dixon_coles"]["parameters"]["teams"][:4]
    pooled, grid = predict_proba(weights, teams[:2], teams[2:])
    dc = DixonColes.from_dict(weights["dixon_coles"]).predict_proba(teams[:2], teams[2:])
    assert not np.allclose(pooled, dc)
    # the grid is the pool's goal rates, consistent with its own markets
    np.testing.assert_allclose(grid.grid.sum(axis=(1, 2)), 1.0)
    # a model stored before the market-implied ratings: Dixon-Coles alone
    legacy = {k: v for k, v in weights.items() if k not in ("market_implied", "pool")}
    np.testing.assert_allclose(predict_proba(legacy, teams[:2], teams[2:])[0], dc)
    # a team the ratings do not know (no priced match): Dixon-Coles alone for its fixture
    mi = weights["market_implied"]["parameters"]
    drop = mi["teams"].index(teams[0])
    for key in ("teams", "attack", "defence"):
        mi[key].pop(drop)
    mixed, _ = predict_proba(weights, teams[:2], teams[2:])
    np.testing.assert_allclose(mixed[0], dc[0])
    np.testing.assert_allclose(mixed[1], pooled[1])


def test_a_selection_without_prices_trains_dixon_coles_alone(e0):
    odds = [c for c in e0.columns if c.endswith(("_h", "_d", "_a", "_over25", "_under25"))]
    bare = e0.copy()
    bare[odds] = np.nan
    result = train(bare, TrainingConfig(model_type="poisson"))
    assert "market_implied" not in result.weights and "pool" not in result.weights
    assert "Dixon-Coles alone" in " ".join(result.logs)
    assert "market" not in result.metrics and 0.17 < result.metrics["rps"] < 0.23


def test_shots_only_in_the_later_seasons_still_train(e0):
    """A database ingested partly before migration 0008: the pre-validation fit has no
    shots, the walk-forward has some; the run trains and stores the component."""
    frame = e0.copy()
    old = frame.index < int(len(frame) * 0.85)  # validation starts at 80 %
    for column in ("home_shots_on_target", "away_shots_on_target"):
        frame[column] = frame[column].astype("Float64").mask(old)
    result = train(frame, TrainingConfig(model_type="poisson"))
    assert result.weights["pool"]["components"][2] == "last_shots"
    assert "last_shots" in result.weights and np.isfinite(result.metrics["rps"])
