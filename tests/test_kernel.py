"""The compiled likelihood: value, exact gradient and exact Hessian."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import gammaln
from scipy.stats import poisson

from core._kernel import components, objective
from core._solver import Layout


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


def _call(x, layout, data, use_rho, grad=None, hess=None):
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
    eps = 1e-6
    for k in active:
        e = np.zeros(layout.size)
        e[k] = eps
        fd = (_call(x + e, layout, data, use_rho) - _call(x - e, layout, data, use_rho)) / (2 * eps)
        assert grad[k] == pytest.approx(fd, rel=1e-6, abs=1e-6), f"gradient {k}"
        gp, gm = np.empty(layout.size), np.empty(layout.size)
        _call(x + e, layout, data, use_rho, gp)
        _call(x - e, layout, data, use_rho, gm)
        np.testing.assert_allclose(
            hess[k, active],
            ((gp - gm) / (2 * eps))[active],
            rtol=1e-5,
            atol=1e-5,
            err_msg=f"Hessian row {k}",
        )
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
