"""The DixonColes estimator: maximum likelihood, recovery, inputs, serialisation."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.stats import poisson

from core import (
    ConvergenceError,
    DixonColes,
    InvalidInputError,
    NotFittedError,
    Poisson,
    UnknownTeamError,
)
from core.dixon_coles import decay_weights
from server.formats.footballdata import parse_bytes
from tests.conftest import SYNTHETIC


def _reference_loglik(frame: pd.DataFrame, use_rho: bool, weights: np.ndarray) -> float:
    """Independent maximum likelihood: plain numpy likelihood, BFGS, numerical gradient."""
    teams = sorted(set(frame.home_team) | set(frame.away_team))
    index = {t: i for i, t in enumerate(teams)}
    h = frame.home_team.map(index).to_numpy()
    a = frame.away_team.map(index).to_numpy()
    x, y = frame.home_goals.to_numpy(), frame.away_goals.to_numpy()
    n = len(teams)

    def nll(theta: np.ndarray) -> float:
        att = np.append(theta[: n - 1], -theta[: n - 1].sum())
        dfn = theta[n - 1 : 2 * n - 1]
        home = theta[2 * n - 1]
        rho = theta[2 * n] if use_rho else 0.0
        lam = np.exp(home + att[h] - dfn[a])
        mu = np.exp(att[a] - dfn[h])
        tau = np.select(
            [(x == 0) & (y == 0), (x == 0) & (y == 1), (x == 1) & (y == 0), (x == 1) & (y == 1)],
            [1 - lam * mu * rho, 1 + lam * rho, 1 + mu * rho, np.full_like(lam, 1 - rho)],
            1.0,
        )
        if (tau <= 0).any():
            return 1e10
        return -(weights @ (poisson.logpmf(x, lam) + poisson.logpmf(y, mu) + np.log(tau)))

    theta0 = np.zeros(2 * n + int(use_rho))
    result = minimize(nll, theta0, method="BFGS", options={"gtol": 1e-9, "maxiter": 10_000})
    result = minimize(nll, result.x, method="BFGS", options={"gtol": 1e-10})  # polish
    return -result.fun


@pytest.mark.parametrize("rho", [True, False])
@pytest.mark.parametrize("xi", [0.0, 0.005])
def test_agrees_with_independent_maximum_likelihood(synthetic, rho, xi):
    frame = synthetic("season1_dc")
    model = DixonColes(rho=rho, xi=xi).fit(frame)
    weights = decay_weights(frame["date"], xi)
    reference = _reference_loglik(frame, rho, weights)
    assert model.converged_
    assert model.loglik_ >= reference - 1e-7  # never worse than the reference
    assert model.loglik_ == pytest.approx(reference, abs=1e-5)


def test_newton_and_lbfgs_reach_the_same_maximum(synthetic):
    frame = synthetic("season1_dc")
    newton = DixonColes(xi=0.00186).fit(frame)
    lbfgs = DixonColes(xi=0.00186, solver="lbfgs").fit(frame)
    assert newton.loglik_ == pytest.approx(lbfgs.loglik_, abs=1e-5)
    assert newton.loglik_ >= lbfgs.loglik_ - 1e-9
    assert newton.n_iter_ < lbfgs.n_iter_
    np.testing.assert_allclose(newton.attack_, lbfgs.attack_, atol=1e-3)


def test_rho_on_its_edge_converges_in_few_iterations_to_the_same_maximum(synthetic):
    """On multi19k_dc with decay the likelihood wants rho below its region: rho follows the
    edge, and Newton with the edge's curvature converges quadratically (it took 12
    iterations without it) to the maximum: no restart from elsewhere finds more."""
    frame = synthetic("multi19k_dc")
    model = DixonColes(xi=0.00186).fit(frame)
    lam, mu = model.rates(*_all_pairs(model))
    assert model.rho_ == pytest.approx(-1.0 / max(lam.max(), mu.max()), rel=1e-5)  # on the edge
    assert model.n_iter_ <= 6
    lbfgs = DixonColes(xi=0.00186, solver="lbfgs").fit(frame)
    assert model.loglik_ >= lbfgs.loglik_ - 1e-9 * abs(lbfgs.loglik_)
    again = DixonColes(xi=0.00186, warm_start=True).fit(frame)
    rng = np.random.default_rng(5)  # restart from a point near the maximum, rho inside
    again.attack_ = again.attack_ + rng.normal(0, 0.05, again.attack_.size)
    again.defence_ = again.defence_ + rng.normal(0, 0.05, again.defence_.size)
    again.home_advantage_, again.rho_ = again.home_advantage_ - 0.02, 0.0
    again.fit(frame)
    assert again.loglik_ == pytest.approx(model.loglik_, rel=1e-9)
    assert again.rho_ == pytest.approx(model.rho_, rel=1e-6)


def test_recovers_generating_parameters(synthetic):
    frame = synthetic("multi19k_dc")
    truth = pd.read_csv(SYNTHETIC / "multi19k_dc_truth.csv")
    truth = truth.set_index("team").loc[sorted(set(frame.home_team) | set(frame.away_team))]
    model = DixonColes().fit(frame)
    assert list(model.teams_) == list(truth.index)
    att = model.attack_ - model.attack_.mean()
    true_att = truth.attack.to_numpy() - truth.attack.mean()
    dfn = model.defence_ - model.defence_.mean()
    true_dfn = truth.defence.to_numpy() - truth.defence.mean()
    assert np.sqrt(np.mean((att - true_att) ** 2)) < 0.06
    assert np.sqrt(np.mean((dfn - true_dfn) ** 2)) < 0.06
    assert np.corrcoef(att, true_att)[0, 1] > 0.97
    assert model.home_advantage_ == pytest.approx(0.25, abs=0.035)  # standard error ~0.01
    assert model.rho_ == pytest.approx(-0.1, abs=0.03)
    # the scoring level: 0.15 + attack - defence on average
    level = model.attack_.mean() - model.defence_.mean()
    assert level == pytest.approx(0.15 + truth.attack.mean() - truth.defence.mean(), abs=0.03)


def test_recovers_home_advantage_on_108k_matches(synthetic):
    model = DixonColes(xi=0.0018).fit(synthetic("big100k"))
    assert model.converged_
    assert model.home_advantage_ == pytest.approx(0.25, abs=0.01)
    assert len(model.teams_) == 500


def test_recovers_factory_league(make_matches):
    frame = make_matches(n_teams=8, seasons=40, rho=-0.12, seed=4)
    model = DixonColes().fit(frame)
    truth = frame.attrs
    np.testing.assert_allclose(model.attack_, truth["attack"], atol=0.1)
    np.testing.assert_allclose(
        model.defence_ - model.defence_.mean(),
        np.subtract(truth["defence"], np.mean(truth["defence"])),
        atol=0.1,
    )
    assert model.rho_ == pytest.approx(-0.12, abs=0.06)


def test_log_attacks_sum_to_zero_within_each_connected_group(make_matches):
    one = make_matches(n_teams=6, seed=1)
    two = make_matches(n_teams=6, seed=2)
    two[["home_team", "away_team"]] = "B" + two[["home_team", "away_team"]]
    model = DixonColes().fit(pd.concat([one, two], ignore_index=True))
    group_b = np.char.startswith(model.teams_.astype(str), "B")
    assert abs(model.attack_[group_b].sum()) < 1e-9
    assert abs(model.attack_[~group_b].sum()) < 1e-9
    assert model.converged_


def test_poisson_is_dixon_coles_without_rho(make_matches):
    frame = make_matches(seed=3)
    assert Poisson().fit(frame).rho_ == 0.0
    assert Poisson().fit(frame).loglik_ == pytest.approx(DixonColes(rho=False).fit(frame).loglik_)


def test_plain_arrays_and_mappings_are_accepted(make_matches):
    frame = make_matches(seed=5)
    by_frame = DixonColes().fit(frame)
    by_arrays = DixonColes().fit(
        home_team=frame.home_team.tolist(),
        away_team=frame.away_team.tolist(),
        home_goals=frame.home_goals.to_numpy(),
        away_goals=frame.away_goals.tolist(),
    )
    by_mapping = DixonColes().fit({c: frame[c].to_numpy() for c in frame.columns if c != "date"})
    assert by_frame.loglik_ == pytest.approx(by_arrays.loglik_) == by_mapping.loglik_


def test_time_decay_is_per_day():
    dates = pd.to_datetime(["2024-01-01", "2024-12-31"])
    w = decay_weights(dates, 0.00186)
    assert w[1] == 1.0
    assert w[0] == pytest.approx(np.exp(-0.00186 * 365))
    w_ref = decay_weights(dates, 0.01, reference_date="2025-01-10")
    assert w_ref[1] == pytest.approx(np.exp(-0.1))


def test_decay_weights_change_the_fit_and_weight_column_multiplies(make_matches):
    frame = make_matches(seed=6)
    plain = DixonColes().fit(frame.drop(columns="date"))
    decayed = DixonColes(xi=0.01).fit(frame)
    assert not np.allclose(plain.attack_, decayed.attack_)
    assert decayed.reference_date_ == frame.date.max()
    doubled = DixonColes().fit(frame.drop(columns="date").assign(weight=2.0))
    np.testing.assert_allclose(doubled.attack_, plain.attack_, atol=1e-8)
    assert doubled.loglik_ == pytest.approx(2 * plain.loglik_)


def test_warm_start_needs_fewer_iterations(make_matches):
    frame = make_matches(n_teams=10, seasons=3, seed=7)
    model = DixonColes(xi=0.002, warm_start=True).fit(frame.iloc[:-10])
    cold = DixonColes(xi=0.002).fit(frame)
    model.fit(frame)
    assert model.n_iter_ < cold.n_iter_
    assert model.loglik_ == pytest.approx(cold.loglik_, abs=1e-7)


def test_callback_sees_every_iteration_and_can_stop_the_fit(make_matches):
    frame = make_matches(seed=8)
    seen = []
    DixonColes().fit(frame, callback=lambda i, loss: seen.append((i, loss)))
    assert [i for i, _ in seen] == list(range(1, len(seen) + 1))
    assert all(b <= a for (_, a), (_, b) in itertools.pairwise(seen))

    class Stop(Exception):
        pass

    def stop(i, loss):
        raise Stop

    with pytest.raises(Stop):
        DixonColes().fit(frame, callback=stop)


def _all_pairs(model):
    home, away = np.meshgrid(model.teams_, model.teams_)
    keep = home != away
    return home[keep], away[keep]


def _extreme(make_matches, seed, share):
    """A high-scoring league where a share of the results is replaced by 0-0 and 1-1 draws:
    the likelihood then pushes rho far below what the highest-scoring pairs allow."""
    frame = make_matches(n_teams=12, seasons=2, home=0.6, spread=0.8, seed=seed)
    rng = np.random.default_rng(seed)
    pick = rng.random(len(frame)) < share
    goals = rng.integers(0, 2, pick.sum())
    frame.loc[pick, "home_goals"] = goals
    frame.loc[pick, "away_goals"] = goals
    return frame


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize(("seed", "share"), [(9, 0.0), (9, 0.4), (13, 0.6), (14, 0.3)])
def test_no_grid_cell_is_negative_for_any_pair_of_fitted_teams(make_matches, solver, seed, share):
    frame = _extreme(make_matches, seed, share)
    try:
        model = DixonColes(solver=solver).fit(frame)
    except ConvergenceError:
        assert solver == "lbfgs"  # the reference solver may give up; Newton must not
        return
    home, away = _all_pairs(model)
    grid = model.predict(home, away).grid
    assert grid.min() >= 0.0
    lam, mu = model.rates(home, away)
    taus = np.stack([1 - lam * mu * model.rho_, 1 + lam * model.rho_, 1 + mu * model.rho_])
    assert taus.min() > 0 and model.rho_ < 1


def test_rho_held_at_the_edge_of_its_region_on_extreme_data(make_matches):
    frame = _extreme(make_matches, 13, 0.6)
    model = DixonColes().fit(frame)
    lam, mu = model.rates(*_all_pairs(model))
    edge = -1.0 / max(lam.max(), mu.max())
    # the likelihood wants rho below the region: it ends on the edge, not beyond
    assert model.rho_ == pytest.approx(edge, rel=1e-3)
    assert model.rho_ > edge


DEGENERATE = [
    # (rows as home, away, home goals, away goals; message)
    ([("A", "B", 1, 0), ("B", "C", 2, 1), ("C", "A", 0, 1)], "team 'A' never concedes"),
    ([("A", "B", 0, 1), ("B", "C", 2, 1), ("C", "A", 1, 0)], "team 'A' never scores"),
    ([("A", "B", 1, 0), ("B", "C", 1, 0), ("C", "A", 1, 0), ("B", "A", 1, 0)], "no away team"),
    ([("A", "B", 0, 1), ("B", "C", 0, 2), ("C", "A", 0, 1)], "no home team scores"),
]


@pytest.mark.parametrize(("rows", "message"), DEGENERATE)
def test_data_that_do_not_identify_the_model_raise_a_clear_error(rows, message):
    frame = pd.DataFrame(rows, columns=["home_team", "away_team", "home_goals", "away_goals"])
    with pytest.raises(ConvergenceError, match=message):
        DixonColes().fit(frame)


def test_every_match_ending_1_0_is_an_error_not_a_huge_rho(make_matches):
    frame = make_matches(seed=15)
    frame["home_goals"], frame["away_goals"] = 1, 0
    with pytest.raises(ConvergenceError, match="home advantage is not identified"):
        DixonColes().fit(frame)


def test_a_prior_identifies_a_team_that_never_scores(make_matches):
    frame = make_matches(seed=16)
    frame.loc[frame.home_team == "T00", "home_goals"] = 0
    frame.loc[frame.away_team == "T00", "away_goals"] = 0
    with pytest.raises(ConvergenceError, match="team 'T00' never scores"):
        DixonColes().fit(frame)
    model = DixonColes(l2=2.0).fit(frame)
    assert np.isfinite(model.attack_).all() and model.converged_


def test_too_few_iterations_is_an_error_naming_them(make_matches):
    with pytest.raises(ConvergenceError, match="did not converge after 1 iterations"):
        DixonColes(max_iter=1).fit(make_matches(seed=17))


def test_a_short_real_season_start_is_refused_with_the_team_named(football_data_dir):
    path = football_data_dir / "2425" / "E0.csv"
    frame = parse_bytes(path.read_bytes(), path.name).matches.iloc[:17]
    with pytest.raises(ConvergenceError, match="never score"):
        DixonColes(xi=0.00186).fit(frame)


BAD_INPUTS = [
    (
        dict(home_team=["A", "B"], away_team=["B"], home_goals=[1, 2], away_goals=[0, 1]),
        "different lengths",
    ),
    (dict(home_team=["A"], away_team=["B"], home_goals=[np.nan], away_goals=[0]), "NaN"),
    (dict(home_team=["A"], away_team=["B"], home_goals=[-1], away_goals=[0]), "negative"),
    (dict(home_team=["A"], away_team=["B"], home_goals=[1.5], away_goals=[0]), "whole number"),
    (
        dict(home_team=["A", "B"], away_team=["B", "B"], home_goals=[1, 1], away_goals=[0, 0]),
        "row 1: 'B' cannot play itself",
    ),
    (dict(home_team=[], away_team=[], home_goals=[], away_goals=[]), "no matches"),
    (
        dict(
            home_team=["A", "B"],
            away_team=["B", "A"],
            home_goals=[1, 0],
            away_goals=[0, 2],
            weight=[0.0, 0.0],
        ),
        "weights are zero",
    ),
    (dict(home_team=["A"], away_team=["B"], home_goals=["two"], away_goals=[0]), "numbers"),
    (dict(home_team=["A"], away_team=["B"], home_goals=[1]), "away_goals"),
]


@pytest.mark.parametrize(("data", "message"), BAD_INPUTS)
def test_bad_input_raises_a_clear_error(data, message):
    with pytest.raises(InvalidInputError, match=message):
        DixonColes().fit(data)


def test_fewer_than_two_teams_is_an_error():
    with pytest.raises(InvalidInputError, match="at least two teams"):
        DixonColes().fit(
            dict(home_team=["A", "A"], away_team=["A", "A"], home_goals=[1, 2], away_goals=[0, 0])
        )


def test_unknown_team_at_predict_is_named(make_matches):
    model = DixonColes().fit(make_matches(seed=10))
    with pytest.raises(UnknownTeamError, match="Atlantis") as info:
        model.predict(["T00", "Atlantis"], ["T01", "T02"])
    assert info.value.teams == ["Atlantis"]
    assert isinstance(info.value, KeyError)


def test_predict_before_fit_and_mismatched_fixtures():
    with pytest.raises(NotFittedError, match="not fitted"):
        DixonColes().predict(["A"], ["B"])


def test_round_trip_through_json_is_lossless(make_matches):
    model = DixonColes(xi=0.002).fit(make_matches(seed=11))
    data = json.loads(json.dumps(model.to_dict()))
    assert set(data["team_strengths"]["T00"]) == {"attack", "defense"}
    assert data["home_advantage"] == pytest.approx(np.exp(model.home_advantage_))
    assert data["decay_rate"] == 0.002
    again = DixonColes.from_dict(data)
    np.testing.assert_array_equal(again.attack_, model.attack_)
    np.testing.assert_array_equal(again.defence_, model.defence_)
    assert again.rho_ == model.rho_ and again.home_advantage_ == model.home_advantage_
    np.testing.assert_array_equal(
        again.predict(["T00"], ["T03"]).grid, model.predict(["T00"], ["T03"]).grid
    )
    assert json.loads(json.dumps(again.to_dict())) == data


def test_legacy_dict_without_exact_parameters_still_loads(make_matches):
    model = DixonColes().fit(make_matches(seed=12))
    data = model.to_dict()
    del data["parameters"], data["fit"]
    legacy = DixonColes.from_dict(data)
    np.testing.assert_allclose(
        legacy.predict_proba(["T01"], ["T02"]),
        model.predict_proba(["T01"], ["T02"]),
        rtol=1e-12,
    )
    with pytest.raises(InvalidInputError, match="not a Dixon-Coles model"):
        DixonColes.from_dict({"team_strengths": {"A": {"attack": "x"}}})


def test_a_stored_rho_too_extreme_for_a_fixture_is_kept_inside_its_region(make_matches):
    model = DixonColes().fit(make_matches(seed=18))
    data = model.to_dict()
    data["rho"] = -0.9  # as a model from elsewhere might say: invalid for most fixtures
    stored = DixonColes.from_dict(data)
    home, away = _all_pairs(stored)
    p = stored.predict(home, away)
    assert p.grid.min() >= 0.0
    np.testing.assert_allclose(p.grid.sum(axis=(1, 2)), 1.0)
