"""Maximum-likelihood solvers for the Dixon-Coles model on integer-coded data.

The estimator in :mod:`core.dixon_coles` validates and codes the data; the walk-forward
backtest calls :func:`solve` directly so that hundreds of refits share one coding.

Identifiability: the likelihood is unchanged when a constant is added to every attack and
every defence of a connected group of teams.  Within each group one team's attack is
eliminated (``attack[last] = -sum(attack[others])``), so the optimiser works on a reduced
vector with no equality constraint.  With an L2 prior (``l2 > 0``) all teams form one group.

The parameter vector is laid out so that the reduced vector is a prefix of it::

    [free attacks (n - G), defences (n), home, rho, eliminated attacks (G)]

and the reduced Hessian is the leading block plus low-rank corrections.

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
from scipy.linalg.lapack import dpotrf, dpotrs
from scipy.optimize import minimize
from scipy.special import gammaln

try:
    from core._kernel import components, objective
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
    _totals: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(
        default=None, init=False, repr=False
    )

    def factorial_term(self) -> float:
        """sum of w * (log x! + log y!), the parameter-free part of the log-likelihood."""
        top = max(self.home_goals.max(), self.away_goals.max())
        table = gammaln(np.arange(1.0, top + 2.0))  # table[k] = log(k!)
        return float(self.weights @ (table[self.home_goals] + table[self.away_goals]))

    def name(self, team: int) -> str:
        return str(self.team_names[team]) if self.team_names is not None else f"#{team}"

    def team_totals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Weighted matches played, goals scored and goals conceded per team."""
        if self._totals is None:
            n, w = self.n_teams, self.weights
            hi, ai = self.home_idx, self.away_idx
            wh, wa = w * self.home_goals, w * self.away_goals
            self._totals = (
                np.bincount(hi, w, n) + np.bincount(ai, w, n),
                np.bincount(hi, wh, n) + np.bincount(ai, wa, n),
                np.bincount(hi, wa, n) + np.bincount(ai, wh, n),
            )
        return self._totals

    def check_identified(self) -> None:
        """Raise :class:`ConvergenceError` when the maximum likelihood does not exist: a
        team that never scores or never concedes (unless a prior holds it), or no home or
        no away goals in the whole data set (the home advantage runs off to infinity)."""
        w = self.weights  # >= 0: a weighted sum is positive iff a counted match has goals
        if not w @ self.home_goals > 0:
            raise ConvergenceError(
                "no home team scores in these data: the home advantage is not identified"
            )
        if not w @ self.away_goals > 0:
            raise ConvergenceError(
                "no away team scores in these data: the home advantage is not identified"
            )
        if self.l2 > 0:
            return
        played, scored, conceded = self.team_totals()
        played = played > 0  # teams without a positive-weight match: see groups()
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
    """Positions of every parameter in the optimiser's vector (see the module docstring)."""

    def __init__(self, group: np.ndarray, use_rho: bool) -> None:
        n = group.size
        n_groups = int(group.max()) + 1
        last = np.full(n_groups, -1, dtype=np.intp)
        last[group] = np.arange(n)  # the highest-numbered team of each group
        is_last = np.zeros(n, dtype=bool)
        is_last[last] = True
        free = np.flatnonzero(~is_last)
        n_free = free.size
        self.n, self.n_groups, self.n_free = n, n_groups, n_free
        self.size = 2 * n + 2
        self.attack_pos = np.empty(n, dtype=np.intp)
        self.attack_pos[free] = np.arange(n_free)
        self.defence_pos = np.arange(n_free, n_free + n, dtype=np.intp)
        self.home_pos = n_free + n
        self.rho_pos = n_free + n + 1
        self.elim_start = n_free + n + 2
        self.attack_pos[last] = self.elim_start + np.arange(n_groups)
        self.n_reduced = n_free + n + 1 + int(use_rho)
        self.free_group = group[free]  # group of each free attack, in vector order

    def pack(self, p: Parameters) -> np.ndarray:
        x = np.zeros(self.size)
        x[self.attack_pos] = p.attack
        x[self.defence_pos] = p.defence
        x[self.home_pos] = p.home
        x[self.rho_pos] = p.rho
        return x

    def unpack(self, x: np.ndarray) -> Parameters:
        return Parameters(
            x[self.attack_pos].copy(),
            x[self.defence_pos].copy(),
            float(x[self.home_pos]),
            float(x[self.rho_pos]),
        )

    def center(self, p: Parameters) -> Parameters:
        """Shift each group so that its attacks sum to zero (likelihood unchanged)."""
        group = np.empty(self.n, dtype=np.intp)
        group[self.attack_pos < self.n_free] = self.free_group
        group[self.attack_pos >= self.elim_start] = np.arange(self.n_groups)
        shift = np.bincount(group, weights=p.attack, minlength=self.n_groups) / np.bincount(
            group, minlength=self.n_groups
        )
        return Parameters(p.attack - shift[group], p.defence - shift[group], p.home, p.rho)

    def reduce_grad(self, g: np.ndarray) -> np.ndarray:
        gr = g[: self.n_reduced].copy()
        gr[: self.n_free] -= g[self.elim_start :][self.free_group]
        return gr

    def reduce_hess(self, h: np.ndarray) -> np.ndarray:
        """T' H T for the elimination map T, computed block-wise in place."""
        r, f, e = self.n_reduced, self.n_free, self.elim_start
        hr = h[:r, :r]
        hkl = h[:r, e:]
        if self.n_groups == 1:
            col = hkl[:, 0].copy()
            hr[:, :f] -= col[:, None]
            hr[:f, :] -= col[None, :]
            hr[:f, :f] += h[e, e]
        else:
            g = self.free_group
            cross = hkl[:, g]
            hr[:, :f] -= cross
            hr[:f, :] -= cross.T
            hr[:f, :f] += h[e:, e:][np.ix_(g, g)]
        return hr

    def expand_step(self, step: np.ndarray) -> np.ndarray:
        full = np.zeros(self.size)
        full[: self.n_reduced] = step
        full[self.elim_start :] = -np.bincount(
            self.free_group, weights=step[: self.n_free], minlength=self.n_groups
        )
        return full


class _Objective:
    """The compiled likelihood plus the Gaussian prior, with reusable buffers."""

    def __init__(self, problem: Problem, layout: Layout) -> None:
        self.problem, self.layout = problem, layout
        self.hess = np.empty((layout.size, layout.size))
        n = problem.n_teams
        self.prior_attack = (
            problem.prior_attack if problem.prior_attack is not None else np.zeros(n)
        )
        self.prior_defence = (
            problem.prior_defence if problem.prior_defence is not None else np.zeros(n)
        )

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
        )
        if pr.l2 > 0:
            value += self._add_prior(x, grad, hess)
        return value, grad, hess

    def prior_value(self, x: np.ndarray) -> float:
        return self._add_prior(x, None, None) if self.problem.l2 > 0 else 0.0

    def _add_prior(self, x, grad, hess) -> float:
        """0.5 * l2 * (|a - pa|^2 + |d - mean(d) - pd|^2); returns its value."""
        lay, l2, n = self.layout, self.problem.l2, self.problem.n_teams
        d0, d1 = lay.defence_pos[0], lay.defence_pos[-1] + 1  # defences are contiguous
        ra = x[lay.attack_pos] - self.prior_attack
        d = x[d0:d1]
        rd = d - (d.sum() / n) - self.prior_defence
        if grad is not None:
            grad[lay.attack_pos] += l2 * ra
            grad[d0:d1] += l2 * (rd - rd.sum() / n)
        if hess is not None:
            flat = hess.reshape(-1)  # a view: hess is C-contiguous
            step = hess.shape[0] + 1
            flat[lay.attack_pos * step] += l2
            hess[d0:d1, d0:d1] -= l2 / n
            flat[d0 * step : d1 * step : step] += l2
        return 0.5 * l2 * float(ra @ ra + rd @ rd)


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


def _damped_cholesky_solve(h: np.ndarray, g: np.ndarray) -> np.ndarray:
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
    w = problem.weights
    total = max(float(w.sum()), 1e-300)
    home_mean = max(float(w @ problem.home_goals.astype(float)) / total, 0.05)
    away_mean = max(float(w @ problem.away_goals.astype(float)) / total, 0.05)
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
        attack -= attack.mean()
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
    vectorised maximum)."""
    attack = x[layout.attack_pos]
    defence = x[layout.defence_pos[0] : layout.defence_pos[-1] + 1]  # contiguous
    home = x[layout.home_pos]
    log_rate = float(attack.max() - defence.min()) + max(home, 0.0)
    log_product = home + 2.0 * float((attack - defence).max())
    keep = 1.0 - _RHO_MARGIN
    return -keep * math.exp(-log_rate), keep * min(1.0, math.exp(-log_product))


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
    layout = Layout(problem.groups(), problem.use_rho)
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
    params = layout.unpack(x)
    _check_solution(problem, params, n_iter, converged)
    return Solution(params, value, fun.prior_value(x), n_iter, converged)


def _check_solution(problem: Problem, p: Parameters, n_iter: int, converged: bool) -> None:
    for name, values in (("attack", p.attack), ("defence", p.defence - p.defence.mean())):
        if values.min() > -_DIVERGED and values.max() < _DIVERGED:
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
    attack = x[layout.attack_pos]
    d0 = layout.defence_pos[0]
    defence = x[d0 : layout.defence_pos[-1] + 1]
    home = x[layout.home_pos]
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
        hr = layout.reduce_hess(hess)
        if side:
            gr = layout.reduce_grad(grad + grad[layout.rho_pos] * edge_slope)
            step = np.zeros(gr.size)
            step[:-1] = _cholesky_solve(np.ascontiguousarray(hr[:-1, :-1]), gr[:-1])
            gr[-1] = 0.0
        else:
            gr = layout.reduce_grad(grad)
            step = _cholesky_solve(hr, gr)
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
        reduced = layout.reduce_grad(grad)
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
