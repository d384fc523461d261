"""Maximum-likelihood solvers for the Dixon-Coles model on integer-coded data.

The estimator in :mod:`core.dixon_coles` validates and codes the data; the walk-forward
backtest calls :func:`solve` directly so that hundreds of refits share one coding.

Identifiability: the likelihood is unchanged when a constant is added to every attack and
every defence of a connected group of teams.  Without a prior the kernel adds a *pin*,
``0.5 * c * (sum of the group's attacks)^2`` per group: it makes the Hessian positive
definite along those shifts, its gradient is zero at a centred point, and a Newton step
from a centred point stays centred, so it never moves the optimum.  With an L2 prior
(``l2 > 0``) the prior identifies every parameter and all teams form one group.  Either
way the optimiser works on the plain vector ``[attacks (n), defences (n), home, rho]``
(rho left out when not fitted) with no elimination, and the optimum is centred (attacks
summing to zero per group) at the end.

rho is kept inside the region where every tau factor is positive for *every* pair of
fitted teams (not only the low scores observed), so no prediction between fitted teams has
a negative cell: ``-1 / max rate < rho < min(1, 1 / max(lambda * mu))``, the maxima over
all pairs (:func:`rho_region`).  Newton projects rho into that region; when the likelihood
wants rho beyond it, rho follows the edge (an active bound) and the other parameters are
fitted given it.

Data that do not identify the model (a team that never scores or never concedes, no home
or no away goals at all) and fits that do not converge raise :class:`ConvergenceError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

try:
    from core._kernel import components, factorial_sum, objective, rho_limits, team_totals
except ModuleNotFoundError as exc:  # pragma: no cover - exercised in a fresh clone
    raise ImportError(
        "the compiled Dixon-Coles kernel core._kernel is missing: this looks like an "
        "unbuilt source tree. Build it in place with `pip install -e .` (scripts/run and "
        "scripts/test do), or install the package (`pip install .`) and run from outside "
        "the source folder, where the source `core/` would shadow the installed one."
    ) from exc
from core.errors import ConvergenceError, InvalidInputError

Callback = Callable[[int, float], object]


@dataclass
class Problem:
    """Integer-coded matches plus the prior; ``n_teams`` teams coded 0..n-1."""

    home_idx: np.ndarray
    away_idx: np.ndarray
    home_goals: np.ndarray
    away_goals: np.ndarray
    weights: np.ndarray
    n_teams: int
    use_rho: bool
    l2: float = 0.0
    prior_attack: np.ndarray | None = None
    prior_defence: np.ndarray | None = None
    team_names: np.ndarray | None = None
    _totals: tuple[np.ndarray, tuple[float, float, float]] | None = field(
        default=None, init=False, repr=False
    )

    def factorial_term(self) -> float:
        """sum of w * (log x! + log y!), the parameter-free part of the log-likelihood
        (log Gamma(x + 1) for fractional targets)."""
        return float(factorial_sum(self.home_goals, self.away_goals, self.weights))

    def name(self, team: int) -> str:
        return str(self.team_names[team]) if self.team_names is not None else f"#{team}"

    def team_totals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Weighted matches played, goals scored and goals conceded per team."""
        return tuple(self._summary()[0])

    def sums(self) -> tuple[float, float, float]:
        """Total weight, weighted home goals and weighted away goals."""
        return self._summary()[1]

    def _summary(self) -> tuple[np.ndarray, tuple[float, float, float]]:
        if self._totals is None:
            self._totals = team_totals(
                self.home_idx,
                self.away_idx,
                self.home_goals,
                self.away_goals,
                self.weights,
                self.n_teams,
            )
        return self._totals

    def check_identified(self) -> None:
        """Raise :class:`ConvergenceError` when the maximum likelihood does not exist: a
        team that never scores or never concedes (unless a prior holds it), or no home or
        no away goals in the whole data set (the home advantage runs off to infinity)."""
        _, home_goals, away_goals = self.sums()  # weights >= 0: > 0 iff a match has goals
        if not home_goals > 0:
            raise ConvergenceError(
                "no home team scores in these data: the home advantage is not identified"
            )
        if not away_goals > 0:
            raise ConvergenceError(
                "no away team scores in these data: the home advantage is not identified"
            )
        if self.l2 > 0:
            return
        played, scored, conceded = self.team_totals()
        played = played > 0  # teams without a positive-weight match: see groups()
        if not (played & ((scored == 0) | (conceded == 0))).any():
            return
        for what, total in (("scores", scored), ("concedes", conceded)):
            never = np.flatnonzero((total == 0) & played)
            if never.size:
                names = ", ".join(repr(self.name(t)) for t in never[:3])
                more = f" (and {never.size - 3} more)" if never.size > 3 else ""
                part = "attack" if what == "scores" else "defence"
                if never.size == 1:
                    who, verb, its = f"team {names}", f"never {what}", f"its {part} has"
                else:
                    who, verb = f"teams {names}{more}", f"never {what[:-1]}"
                    its = f"their {part}s have"
                raise ConvergenceError(
                    f"{who} {verb} in these data: {its} no maximum-likelihood estimate "
                    "(add matches, or a prior with l2 > 0)"
                )

    def groups(self) -> np.ndarray:
        """Identifiability group of each team (connected components of who played whom)."""
        if self.l2 > 0:
            return np.zeros(self.n_teams, dtype=np.intp)
        labels = components(self.home_idx, self.away_idx, self.weights, self.n_teams)
        if (labels < 0).any():
            idle = int(np.flatnonzero(labels < 0)[0])
            raise InvalidInputError(f"team {self.name(idle)!r} has no match with a positive weight")
        return labels


@dataclass
class Parameters:
    """A fitted parameter set in natural units (log scale)."""

    attack: np.ndarray
    defence: np.ndarray
    home: float
    rho: float


@dataclass
class Solution:
    params: Parameters
    nll: float  # penalised, without factorial terms
    prior: float  # the prior's part of nll
    n_iter: int
    converged: bool


class Layout:
    """Positions of every parameter in the optimiser's vector (see the module docstring):
    ``[attacks (n), defences (n), home, rho]``; the optimiser works on the first
    ``n_reduced`` (rho left out when it is not fitted)."""

    def __init__(self, group: np.ndarray, use_rho: bool) -> None:
        n = group.size
        self.n, self.n_groups = n, int(group.max()) + 1
        self.group = np.ascontiguousarray(group, dtype=np.intp)
        self.size = 2 * n + 2
        self.attack_pos = np.arange(n, dtype=np.intp)
        self.defence_pos = np.arange(n, 2 * n, dtype=np.intp)
        self.home_pos = 2 * n
        self.rho_pos = 2 * n + 1
        self.n_reduced = 2 * n + 1 + int(use_rho)

    def pack(self, p: Parameters) -> np.ndarray:
        return np.concatenate([p.attack, p.defence, (p.home, p.rho)])

    def unpack(self, x: np.ndarray) -> Parameters:
        n = self.n
        return Parameters(
            x[:n].copy(), x[n : 2 * n].copy(), float(x[self.home_pos]), float(x[self.rho_pos])
        )

    def center(self, p: Parameters) -> Parameters:
        """Shift each group so that its attacks sum to zero (likelihood unchanged)."""
        if self.n_groups == 1:
            shift = p.attack.sum() / self.n
            return Parameters(p.attack - shift, p.defence - shift, p.home, p.rho)
        group = self.group
        shift = np.bincount(group, weights=p.attack, minlength=self.n_groups) / np.bincount(
            group, minlength=self.n_groups
        )
        return Parameters(p.attack - shift[group], p.defence - shift[group], p.home, p.rho)

    def expand_step(self, step: np.ndarray) -> np.ndarray:
        return step if step.size == self.size else np.append(step, 0.0)


@lru_cache(maxsize=64)
def _one_group_layout(n: int, use_rho: bool) -> Layout:
    """Layouts are read-only: the common one-group case is built once per size."""
    return Layout(np.zeros(n, dtype=np.intp), use_rho)


class _Objective:
    """The compiled likelihood plus the Gaussian prior, with reusable buffers."""

    def __init__(self, problem: Problem, layout: Layout) -> None:
        self.problem, self.layout = problem, layout
        # rho's row and column exist only when rho is fitted: the Hessian is then exactly
        # the matrix Newton factorises, with no copy
        self.hess = np.empty((layout.n_reduced, layout.n_reduced))
        # without a prior, the pin fixes each group's shift (module docstring); its scale is
        # a typical team's curvature, which keeps the Hessian well conditioned
        self.pin = 0.0 if problem.l2 > 0 else float(problem.weights.sum()) / problem.n_teams
        # missing prior means are zero (the kernel reads None as zeros)
        self.prior_attack = problem.prior_attack
        self.prior_defence = problem.prior_defence

    def __call__(self, x: np.ndarray, want_grad: bool, want_hess: bool = False):
        pr, lay = self.problem, self.layout
        grad = np.empty(lay.size) if want_grad else None
        hess = self.hess if want_hess else None
        value = objective(
            x,
            lay.attack_pos,
            lay.defence_pos,
            lay.home_pos,
            lay.rho_pos,
            pr.home_idx,
            pr.away_idx,
            pr.home_goals,
            pr.away_goals,
            pr.weights,
            pr.use_rho,
            grad,
            hess,
            pr.l2,
            self.prior_attack,
            self.prior_defence,
            lay.group,
            self.pin,
        )
        return value, grad, hess

    def pin_value(self, x: np.ndarray) -> float:
        if not self.pin > 0:
            return 0.0
        if self.layout.n_groups == 1:
            return 0.5 * self.pin * float(x[: self.layout.n].sum()) ** 2
        sums = np.bincount(self.layout.group, x[: self.layout.n], self.layout.n_groups)
        return 0.5 * self.pin * float(sums @ sums)

    def prior_value(self, x: np.ndarray) -> float:
        """0.5 * l2 * (|a - pa|^2 + |d - mean(d) - pd|^2), the prior's part of the value."""
        if not self.problem.l2 > 0:
            return 0.0
        n = self.problem.n_teams
        ra = x[:n] if self.prior_attack is None else x[:n] - self.prior_attack
        d = x[n : 2 * n]
        rd = d - (d.sum() / n)
        if self.prior_defence is not None:
            rd -= self.prior_defence
        return 0.5 * self.problem.l2 * float(ra @ ra + rd @ rd)


# OpenBLAS runs mid-sized factorisations 1.5-3x slower on two threads than on one
# (measured: n=300 1.2 ms vs 0.44 ms, n=500 5.5 ms vs 1.7 ms); above ~800 threads pay off.
_SINGLE_THREAD_RANGE = (150, 800)


@lru_cache(maxsize=1)
def _blas() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


def _cholesky_solve(h: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Solve h x = -g for symmetric h, damping h towards positive definiteness if needed."""
    lo, hi = _SINGLE_THREAD_RANGE
    if lo <= h.shape[0] < hi:
        with _blas().limit(limits=1):
            return _damped_cholesky_solve(h, g)
    return _damped_cholesky_solve(h, g)


@lru_cache(maxsize=1)
def _lapack() -> tuple[Any, Any]:
    """LAPACK's Cholesky factor and solve, loaded on the first fit (scipy.linalg is slow to
    import and predicting needs none of it)."""
    from scipy.linalg.lapack import dpotrf, dpotrs

    return dpotrf, dpotrs


def _damped_cholesky_solve(h: np.ndarray, g: np.ndarray) -> np.ndarray:
    dpotrf, dpotrs = _lapack()
    damping = scale = 0.0
    for _ in range(40):
        a = h if damping == 0.0 else h + damping * np.eye(h.shape[0])
        # h is symmetric: its transpose is the same matrix, and Fortran-ordered when h is
        # C-ordered, so LAPACK needs no transposing copy
        c, info = dpotrf(a.T, lower=1, clean=0, overwrite_a=0)
        if info == 0:
            x, _ = dpotrs(c, -g, lower=1)
            return x
        if damping == 0.0:
            scale = max(float(np.abs(np.diag(h)).max()), 1e-12)
            damping = scale * 1e-10
        else:
            damping *= 10.0
    raise InvalidInputError("the likelihood has no unique maximum for these data")


def initial_parameters(problem: Problem) -> Parameters:
    n = problem.n_teams
    total, home_goals, away_goals = problem.sums()
    total = max(total, 1e-300)
    home_mean = max(home_goals / total, 0.05)
    away_mean = max(away_goals / total, 0.05)
    attack = np.zeros(n)
    defence = np.full(n, -0.5 * np.log(home_mean * away_mean))
    if problem.l2 == 0:
        # each team's goal ratios (shrunk towards the mean) start Newton about one
        # iteration closer to the maximum than an average team would
        played, scored, conceded = problem.team_totals()
        mean = 0.5 * (home_mean + away_mean)
        scored = (scored + 2.0 * mean) / (played + 2.0)
        conceded = (conceded + 2.0 * mean) / (played + 2.0)
        attack = np.log(scored / mean)
        attack -= attack.sum() / n
        defence = defence - np.log(conceded / mean)
    if problem.l2 > 0 and problem.prior_attack is not None:
        attack = attack + problem.prior_attack
        defence = defence + problem.prior_defence
    return Parameters(attack, defence, 0.5 * float(np.log(home_mean / away_mean)), 0.0)


# a rho at the edge of its region still leaves every tau at least this large
_RHO_MARGIN = 1e-6
# |log rate| beyond this (a rate above e^25) means a parameter ran off to infinity
_DIVERGED = 25.0
_RELEASES = 20
# L-BFGS-B: the slope of the quadratic pull back into rho's region (per unit of rho^2)
_PULL = 1e6


def rho_region(layout: Layout, x: np.ndarray) -> tuple[float, float]:
    """The rho interval that keeps every tau at least ``_RHO_MARGIN`` for every pair of
    teams in ``x`` (a team paired with itself included: a slightly smaller region, one
    compiled pass)."""
    return rho_limits(x, layout.n, 1.0 - _RHO_MARGIN)


def solve(
    problem: Problem,
    init: Parameters | None = None,
    *,
    solver: str = "newton",
    max_iter: int = 100,
    tol: float = 1e-10,
    callback: Callback | None = None,
) -> Solution:
    """Maximise the (penalised) likelihood from ``init`` (default: a neutral start).

    Raises :class:`ConvergenceError` when the data do not identify the model or the fit
    does not converge within ``max_iter`` iterations."""
    problem.check_identified()
    group = problem.groups()
    if group.any():
        layout = Layout(group, problem.use_rho)
    else:
        layout = _one_group_layout(group.size, problem.use_rho)
    start = initial_parameters(problem) if init is None else init
    if init is not None or layout.n_groups > 1:
        start = layout.center(start)
    if not problem.use_rho or not -1.0 < start.rho < 1.0:
        start.rho = 0.0
    fun = _Objective(problem, layout)
    x = layout.pack(start)
    if solver == "newton":
        x, value, n_iter, converged = _newton(fun, layout, x, max_iter, tol, callback)
    elif solver == "lbfgs":
        x, value, n_iter, converged = _lbfgs(fun, layout, x, max_iter, callback)
    else:
        raise InvalidInputError(f"unknown solver {solver!r}; use 'newton' or 'lbfgs'")
    # the optimum up to each group's shift, along which the likelihood is flat: centre it
    # and report the value there (the prior moves by a constant, the pin drops to zero)
    params = layout.unpack(x)
    value -= fun.prior_value(x) + fun.pin_value(x)
    params = layout.center(params)
    prior = fun.prior_value(layout.pack(params))
    value += prior
    _check_solution(problem, params, n_iter, converged)
    return Solution(params, value, prior, n_iter, converged)


def _check_solution(problem: Problem, p: Parameters, n_iter: int, converged: bool) -> None:
    level = p.defence.sum() / p.defence.size
    for name, values in (("attack", p.attack), ("defence", p.defence - level)):
        if np.abs(values).max() < _DIVERGED:
            continue
        worst = int(np.argmax(np.abs(values)))
        if not abs(values[worst]) < _DIVERGED:
            raise ConvergenceError(
                f"the {name} of team {problem.name(worst)!r} runs off to infinity "
                f"({values[worst]:+.3g} on the log scale): these data do not identify it"
            )
    if not abs(p.home) < _DIVERGED:
        raise ConvergenceError(
            f"the home advantage runs off to infinity ({p.home:+.3g} on the log scale): "
            "these data do not identify it"
        )
    if not converged:
        raise ConvergenceError(
            f"the fit did not converge after {n_iter} iterations "
            f"(rho {p.rho:+.4g}, home advantage {p.home:+.4g}); the data may not identify "
            "the model (too few matches per team?)"
        )


def _project_rho(layout: Layout, x: np.ndarray) -> int:
    """Move rho in ``x`` into its region (in place): the edge it was moved to (-1 lower,
    +1 upper) or 0 when it was inside."""
    lo, hi = rho_region(layout, x)
    rho = x[layout.rho_pos]
    if rho < lo:
        x[layout.rho_pos] = lo
        return -1
    if rho > hi:
        x[layout.rho_pos] = hi
        return 1
    return 0


def _pin_rho(layout: Layout, x: np.ndarray, side: int) -> np.ndarray:
    """Put rho on edge ``side`` of its region (in place); returns the gradient of that
    edge with respect to the other parameters (full layout, zero at rho)."""
    n = d0 = layout.n
    attack, defence, home = x[:n], x[n : 2 * n], x[layout.home_pos]
    keep = 1.0 - _RHO_MARGIN
    slope = np.zeros(layout.size)
    if side < 0:  # -keep * exp(-(max attack - min defence + max(home, 0)))
        i, j = int(np.argmax(attack)), int(np.argmin(defence))
        edge = -keep * math.exp(-(attack[i] - defence[j] + max(home, 0.0)))
        slope[layout.attack_pos[i]] -= edge
        slope[d0 + j] += edge
        if home > 0:
            slope[layout.home_pos] -= edge
    else:  # keep * min(1, exp(-(home + 2 * max(attack - defence))))
        strength = attack - defence
        i = int(np.argmax(strength))
        log_product = home + 2.0 * strength[i]
        edge = keep * min(1.0, math.exp(-log_product))
        if log_product > 0:
            slope[layout.attack_pos[i]] -= 2.0 * edge
            slope[d0 + i] += 2.0 * edge
            slope[layout.home_pos] -= edge
    x[layout.rho_pos] = edge
    return slope


def _edge_hessian(
    hess: np.ndarray, grad: np.ndarray, slope: np.ndarray, x: np.ndarray, layout: Layout
) -> np.ndarray:
    """The Hessian of the likelihood with rho on its edge, ``rho = e(y)`` a function of
    the other parameters ``y``: ``H_yy + s h' + h s' + (H_rr + g_r / e) s s'``, with ``s``
    the edge's slope, ``h`` rho's column and ``g_r`` rho's gradient.  Both edges are
    ``+-exp`` of a linear function of two or three parameters, so their curvature is
    ``s s' / e``.  Without the terms in ``s`` Newton converges only linearly along the
    edge (12 iterations instead of 4 on ``multi19k_dc``)."""
    n = layout.n_reduced - 1
    reduced = np.array(hess[:n, :n])  # a copy: the kernel reuses ``hess``
    touched = np.flatnonzero(slope[:n])  # the parameters of the pair setting the edge
    if touched.size == 0:
        return reduced
    s, h = slope[touched], hess[:n, n]
    reduced[touched, :] += s[:, None] * h[None, :]
    reduced[:, touched] += h[:, None] * s[None, :]
    curvature = hess[n, n] + grad[layout.rho_pos] / x[layout.rho_pos]
    reduced[np.ix_(touched, touched)] += curvature * np.outer(s, s)
    return reduced


def _newton(fun, layout, x, max_iter, tol, callback):
    use_rho = fun.problem.use_rho
    if use_rho:
        _project_rho(layout, x)
    value, grad, hess = fun(x, True, True)
    if not np.isfinite(value):  # a warm start whose rho is invalid for these data
        x[layout.rho_pos] = 0.0
        value, grad, hess = fun(x, True, True)
    iteration = 0
    # side != 0 while rho sits on that edge of its region: rho then follows the edge and
    # Newton works on the other parameters with the edge's slope folded into the gradient
    side, releases = 0, 0
    edge_slope = None
    while True:
        if side:
            gr = (grad + grad[layout.rho_pos] * edge_slope)[: layout.n_reduced]
            step = np.zeros(gr.size)
            step[:-1] = _cholesky_solve(_edge_hessian(hess, grad, edge_slope, x, layout), gr[:-1])
            gr[-1] = 0.0
        else:
            gr = grad[: layout.n_reduced]
            step = _cholesky_solve(hess, gr)
        decrement = -float(gr @ step)
        if decrement <= max(tol * max(1.0, abs(value)), 1e-12):
            # on an edge: let rho go when moving it inwards would still gain
            if side and releases < _RELEASES and side * grad[layout.rho_pos] > 0:
                side, releases = 0, releases + 1
                continue
            return x, value, iteration, True
        if iteration >= max_iter:
            return x, value, iteration, False
        iteration += 1
        full_step = layout.expand_step(step)
        t = 1.0
        while True:
            candidate = x + t * full_step
            if side:
                c_slope = _pin_rho(layout, candidate, side)
                clipped = side
            else:
                clipped = _project_rho(layout, candidate) if use_rho else 0
            predicted = -t * decrement if not clipped or side else float(grad @ (candidate - x))
            if clipped and not side and predicted >= 0.0:
                break  # the edge undoes the step: continue on the edge
            # the full Newton step almost always passes: evaluate everything there at once
            full = t == 1.0
            c_value, c_grad, c_hess = fun(candidate, full, full)
            if c_value <= value + 1e-4 * min(predicted, -1e-4 * t * decrement):
                break
            t *= 0.5
            if t < 1e-10:
                break
        if clipped and not side and (predicted >= 0.0 or t < 1e-10):
            side = clipped  # hold rho on the edge it ran into, from the current point
            edge_slope = _pin_rho(layout, x, side)
            value, grad, hess = fun(x, True, True)
            continue
        if t < 1e-10:  # no progress possible at floating-point resolution
            if side:  # on a corner of rho's region, where two team pairs set the edge
                return x, value, iteration, True
            return x, value, iteration, decrement <= 1e-6 * max(1.0, abs(value))
        if c_grad is None:
            c_value, c_grad, c_hess = fun(candidate, True, True)
        if clipped and not side:
            side = clipped
            edge_slope = _pin_rho(layout, candidate.copy(), side)
        elif side:
            edge_slope = c_slope
        x, value, grad, hess = candidate, c_value, c_grad, c_hess
        if callback is not None:
            callback(iteration, value)


def _lbfgs(fun, layout, x, max_iter, callback):
    """scipy's L-BFGS-B on the same compiled gradient: the reference floor."""

    def value_and_grad(z: np.ndarray) -> tuple[float, np.ndarray]:
        x = layout.expand_step(z)
        outside = 0.0
        if fun.problem.use_rho:  # evaluate at rho's region and pull back from outside
            rho = x[layout.rho_pos]
            _project_rho(layout, x)
            outside = rho - x[layout.rho_pos]
        value, grad, _ = fun(x, True)
        if not np.isfinite(value):
            return 1e300, np.zeros_like(z)
        reduced = grad[: layout.n_reduced].copy()
        if outside:
            value += 0.5 * _PULL * outside**2
            reduced[-1] += _PULL * outside
        return value, reduced

    iterations = 0

    def on_iteration(z: np.ndarray) -> None:
        nonlocal iterations
        iterations += 1
        if callback is not None:
            callback(iterations, value_and_grad(z)[0])

    bounds: list[tuple[float | None, float | None]] = [(None, None)] * layout.n_reduced
    if fun.problem.use_rho:
        bounds[-1] = (-0.999, 0.999)
    from scipy.optimize import minimize  # L-BFGS-B only: a fast start

    result = minimize(
        value_and_grad,
        x[: layout.n_reduced],
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        callback=on_iteration,
        options={"maxiter": max_iter * 50, "ftol": 1e-15, "gtol": 1e-9},
    )
    x = layout.expand_step(result.x)
    if fun.problem.use_rho:
        _project_rho(layout, x)
    return x, float(fun(x, False)[0]), int(result.nit), bool(result.success)
