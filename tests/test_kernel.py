"""The compiled likelihood: value, exact gradient and exact Hessian."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import gammaln
from scipy.stats import poisson

from core._kernel import components, factorial_sum, objective, rho_limits, team_totals
from core._solver import Layout, Problem, rho_region, solve
from core.market_model import split_targets


def _data(seed: int = 1, n_teams: int = 6, m: int = 200):
    rng = np.random.default_rng(seed)
    home = rng.integers(0, n_teams, m).astype(np.int32)
    away = ((home + rng.integers(1, n_teams, m)) % n_teams).astype(np.int32)
    hg = rng.poisson(1.4, m).astype(np.int32)
    ag = rng.poisson(1.1, m).astype(np.int32)
    hg[:20], ag[:20] = 0, 0  # make sure every tau case is present
    hg[20:40], ag[20:40] = 0, 1
    hg[40:60], ag[40:60] = 1, 0
    hg[60:80], ag[60:80] = 1, 1
    w = rng.uniform(0.1, 2.0, m)
    return home, away, hg, ag, w


def _reference_nll(x, layout, home, away, hg, ag, w, use_rho):
    """Plain numpy/scipy negative log-likelihood (factorials excluded), independent code."""
    a, d = x[layout.attack_pos], x[layout.defence_pos]
    h, rho = x[layout.home_pos], x[layout.rho_pos] if use_rho else 0.0
    lam = np.exp(h + a[home] - d[away])
    mu = np.exp(a[away] - d[home])
    tau = np.ones_like(lam)
    tau[(hg == 0) & (ag == 0)] = (1 - lam * mu * rho)[(hg == 0) & (ag == 0)]
    tau[(hg == 0) & (ag == 1)] = (1 + lam * rho)[(hg == 0) & (ag == 1)]
    tau[(hg == 1) & (ag == 0)] = (1 + mu * rho)[(hg == 1) & (ag == 0)]
    tau[(hg == 1) & (ag == 1)] = 1 - rho
    return -(w @ (poisson.logpmf(hg, lam) + poisson.logpmf(ag, mu) + np.log(tau)))


def _call(x, layout, data, use_rho, grad=None, hess=None, **extra):
    home, away, hg, ag, w = data
    return objective(
        x,
        layout.attack_pos,
        layout.defence_pos,
        layout.home_pos,
        layout.rho_pos,
        home,
        away,
        hg,
        ag,
        w,
        use_rho,
        grad,
        hess,
        **extra,
    )


@pytest.mark.parametrize("use_rho", [True, False])
def test_value_matches_independent_formula(use_rho):
    data = _data()
    layout = Layout(np.zeros(6, dtype=np.intp), use_rho)
    rng = np.random.default_rng(2)
    x = rng.normal(0, 0.2, layout.size)
    x[layout.rho_pos] = -0.08
    _, _, hg, ag, w = data
    factorials = w @ (gammaln(hg + 1.0) + gammaln(ag + 1.0))  # the kernel leaves these out
    expected = _reference_nll(x, layout, *data, use_rho) - factorials
    assert _call(x, layout, data, use_rho) == pytest.approx(expected, rel=1e-12)


def _assert_derivatives(x, layout, data, use_rho, grad, hess, active, **extra):
    """``grad`` and the ``active`` rows and columns of ``hess`` against central differences
    of the kernel's own value and gradient at ``x``."""
    eps = 1e-6
    for k in active:
        e = np.zeros(layout.size)
        e[k] = eps
        up = _call(x + e, layout, data, use_rho, **extra)
        down = _call(x - e, layout, data, use_rho, **extra)
        assert grad[k] == pytest.approx((up - down) / (2 * eps), rel=1e-6, abs=1e-6), (
            f"gradient {k}"
        )
        gp, gm = np.empty(layout.size), np.empty(layout.size)
        _call(x + e, layout, data, use_rho, gp, **extra)
        _call(x - e, layout, data, use_rho, gm, **extra)
        np.testing.assert_allclose(
            hess[k, active],
            ((gp - gm) / (2 * eps))[active],
            rtol=1e-5,
            atol=1e-5,
            err_msg=f"Hessian row {k}",
        )


@pytest.mark.parametrize("use_rho", [True, False])
def test_gradient_and_hessian_match_finite_differences(use_rho):
    data = _data()
    layout = Layout(np.zeros(6, dtype=np.intp), use_rho)
    rng = np.random.default_rng(3)
    x = rng.normal(0, 0.2, layout.size)
    x[layout.rho_pos] = -0.12 if use_rho else 0.0
    grad = np.empty(layout.size)
    hess = np.empty((layout.size, layout.size))
    _call(x, layout, data, use_rho, grad, hess)
    active = (
        np.arange(layout.size) if use_rho else np.delete(np.arange(layout.size), layout.rho_pos)
    )
    _assert_derivatives(x, layout, data, use_rho, grad, hess, active)
    if not use_rho:
        assert grad[layout.rho_pos] == 0.0
        assert not hess[layout.rho_pos].any()


def test_weights_scale_the_objective_linearly():
    home, away, hg, ag, w = _data()
    layout = Layout(np.zeros(6, dtype=np.intp), True)
    x = np.zeros(layout.size)
    x[layout.rho_pos] = -0.05
    one = _call(x, layout, (home, away, hg, ag, w), True)
    two = _call(x, layout, (home, away, hg, ag, 2 * w), True)
    assert two == pytest.approx(2 * one, rel=1e-13)
    zero_weight = w.copy()
    zero_weight[::2] = 0.0
    keep = slice(1, None, 2)
    half = _call(
        x,
        layout,
        (home[keep].copy(), away[keep].copy(), hg[keep].copy(), ag[keep].copy(), w[keep].copy()),
        True,
    )
    assert _call(x, layout, (home, away, hg, ag, zero_weight), True) == pytest.approx(half)


def test_invalid_rho_gives_infinity():
    data = _data()
    layout = Layout(np.zeros(6, dtype=np.intp), True)
    x = np.zeros(layout.size)
    x[layout.rho_pos] = 1.5  # tau(1, 1) = 1 - rho < 0
    assert _call(x, layout, data, True) == np.inf


def test_components_labels_groups_and_idle_teams():
    home = np.array([0, 2, 4], dtype=np.int32)
    away = np.array([1, 3, 5], dtype=np.int32)
    w = np.array([1.0, 1.0, 0.0])
    labels = components(home, away, w, 7)
    assert labels[0] == labels[1] != labels[2] == labels[3]
    assert (labels[4:] == -1).all()


def _prior_and_pin(n_teams: int = 6):
    rng = np.random.default_rng(5)
    return {
        "l2": 1.7,
        "prior_attack": rng.normal(0, 0.3, n_teams),
        "prior_defence": rng.normal(0, 0.3, n_teams),
        "group": np.array([0, 0, 0, 1, 1, 1], dtype=np.intp),
        "pin": 2.3,
    }


def test_prior_and_pin_values_match_their_formulas():
    data = _data()
    layout = Layout(np.zeros(6, dtype=np.intp), True)
    x = np.random.default_rng(6).normal(0, 0.2, layout.size)
    x[layout.rho_pos] = -0.05
    extra = _prior_and_pin()
    a, d = x[layout.attack_pos], x[layout.defence_pos]
    ra = a - extra["prior_attack"]
    rd = d - d.mean() - extra["prior_defence"]
    sums = np.bincount(extra["group"], a)
    expected = (
        _call(x, layout, data, True)
        + 0.5 * extra["l2"] * (ra @ ra + rd @ rd)
        + 0.5 * extra["pin"] * (sums @ sums)
    )
    assert _call(x, layout, data, True, **extra) == pytest.approx(expected, rel=1e-12)


def test_prior_and_pin_gradient_and_hessian_match_finite_differences():
    data = _data()
    layout = Layout(np.zeros(6, dtype=np.intp), True)
    x = np.random.default_rng(7).normal(0, 0.2, layout.size)
    x[layout.rho_pos] = -0.1
    extra = _prior_and_pin()
    grad, hess = np.empty(layout.size), np.empty((layout.size, layout.size))
    _call(x, layout, data, True, grad, hess, **extra)
    _assert_derivatives(x, layout, data, True, grad, hess, np.arange(layout.size), **extra)


def test_fractional_targets_equal_their_split_into_integer_rows():
    rng = np.random.default_rng(8)
    home, away, _, _, w = _data()
    tx, ty = rng.uniform(0.2, 3.5, home.size), rng.uniform(0.2, 3.0, home.size)
    row, hg, ag, sw = split_targets(tx, ty)
    layout = Layout(np.zeros(6, dtype=np.intp), False)
    x = rng.normal(0, 0.2, layout.size)
    x[layout.rho_pos] = 0.0
    g1, h1 = np.empty(layout.size), np.empty((layout.n_reduced, layout.n_reduced))
    g2, h2 = np.empty(layout.size), np.empty((layout.n_reduced, layout.n_reduced))
    v1 = _call(x, layout, (home, away, tx, ty, w), False, g1, h1)
    v2 = _call(x, layout, (home[row], away[row], hg, ag, w[row] * sw), False, g2, h2)
    assert v1 == pytest.approx(v2, rel=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(h1, h2, rtol=1e-10, atol=1e-10)


def test_fractional_goals_need_rho_off():
    home, away, _, _, w = _data()
    layout = Layout(np.zeros(6, dtype=np.intp), True)
    goals = np.full(home.size, 1.5)
    with pytest.raises(ValueError, match="use_rho"):
        _call(np.zeros(layout.size), layout, (home, away, goals, goals, w), True)


def test_compiled_helpers_match_numpy():
    home, away, hg, ag, w = _data()
    totals, (sw, sx, sy) = team_totals(home, away, hg, ag, w, 6)
    np.testing.assert_allclose(totals[0], np.bincount(home, w, 6) + np.bincount(away, w, 6))
    np.testing.assert_allclose(
        totals[1], np.bincount(home, w * hg, 6) + np.bincount(away, w * ag, 6)
    )
    np.testing.assert_allclose(
        totals[2], np.bincount(home, w * ag, 6) + np.bincount(away, w * hg, 6)
    )
    assert (sw, sx, sy) == pytest.approx((w.sum(), w @ hg, w @ ag))
    assert factorial_sum(hg, ag, w) == pytest.approx(w @ (gammaln(hg + 1.0) + gammaln(ag + 1.0)))
    layout = Layout(np.zeros(6, dtype=np.intp), True)
    x = np.random.default_rng(9).normal(0, 0.4, layout.size)
    a, d, h = x[:6], x[6:12], x[12]
    lam = np.exp(h + a[:, None] - d[None, :])  # every pair, a team with itself included
    mu = np.exp(a[None, :] - d[:, None])
    keep = 1.0 - 1e-6
    lo = -keep / max(lam.max(), mu.max())
    hi = keep * min(1.0, 1.0 / (np.exp(h) * np.exp(a - d).max() ** 2))
    assert rho_limits(x, 6, keep) == pytest.approx((lo, hi), rel=1e-12)
    assert rho_region(layout, x) == pytest.approx((lo, hi), rel=1e-12)


def test_with_a_prior_the_centred_optimum_is_the_constrained_one():
    """No attack is eliminated: the optimum is found unconstrained and centred.  At the
    constrained optimum (attacks summing to zero) the gradient of the penalised likelihood
    is a multiple of the attacks' indicator (Lagrange), zero everywhere else."""
    home, away, hg, ag, w = _data()
    extra = _prior_and_pin()
    problem = Problem(home, away, hg, ag, w, 6, use_rho=True, l2=extra["l2"])
    problem.prior_attack, problem.prior_defence = extra["prior_attack"], extra["prior_defence"]
    p = solve(problem).params
    assert p.attack.sum() == pytest.approx(0.0, abs=1e-12)
    layout = Layout(np.zeros(6, dtype=np.intp), True)
    x = layout.pack(p)
    grad = np.empty(layout.size)
    objective(
        x, layout.attack_pos, layout.defence_pos, layout.home_pos, layout.rho_pos,
        home, away, hg, ag, w, True, grad, None, extra["l2"], extra["prior_attack"],
        extra["prior_defence"],
    )  # fmt: skip
    attack_part = grad[:6]  # Newton stops at a decrement of 1e-10 of the value: ~1e-5 here
    assert abs(attack_part.mean()) > 1e-2  # the prior's pull that the constraint holds off
    np.testing.assert_allclose(attack_part, attack_part.mean(), atol=1e-5)
    np.testing.assert_allclose(grad[6:], 0.0, atol=1e-5)
