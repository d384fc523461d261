"""The Dixon-Coles goal model as a scikit-learn style estimator.

Model (Dixon and Coles, 1997), for a match of home team ``h`` against away team ``a``::

    log(lambda) = home_advantage + attack[h] - defence[a]     (home goals ~ Poisson(lambda))
    log(mu)     =                  attack[a] - defence[h]     (away goals ~ Poisson(mu))

with the low-score correction ``tau(x, y)`` scaled by ``rho``.  **Sign convention: a larger
defence is a better defence** (it lowers the opponent's rate).  The league's scoring level is
carried by the defences: within each connected group of teams the log attacks sum to zero.

**Time decay is per day.**  ``xi`` weights a match ``days`` before the reference date by
``exp(-xi * days)``.  Dixon and Coles' own 0.0065 is per *half-week*: the same decay per day
is 0.0065 / 3.5 = 0.00186.  Passing 0.0065 here means a half-life of 107 days, not 1 year.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from core._solver import Parameters, Problem, initial_parameters, solve
from core.errors import InvalidInputError, NotFittedError, UnknownTeamError
from core.lazy import pandas as pd
from core.markets import MatchProbabilities, feasible_rho, score_grid

__all__ = ["DixonColes", "Poisson", "decay_weights"]

_COLUMNS = ("home_team", "away_team", "home_goals", "away_goals")


def _days(dates: Any) -> np.ndarray:
    """Dates as fractional days since the epoch; a missing or bad date is an error."""
    values = np.asarray(dates)
    if not np.issubdtype(values.dtype, np.datetime64):
        values = pd.to_datetime(pd.Series(values), errors="coerce").to_numpy()
    values = values.astype("datetime64[s]")
    bad = np.flatnonzero(np.isnat(values))
    if bad.size:
        raise InvalidInputError(f"date is missing or not a date at row {int(bad[0])}")
    return values.astype(np.int64) / 86400.0


def decay_weights(dates: Any, xi: float, reference_date: Any = None) -> np.ndarray:
    """``exp(-xi * days before reference_date)``; the reference defaults to the latest date.

    ``xi`` is per **day** (Dixon-Coles' 0.0065 per half-week is 0.00186 per day).
    """
    days = _days(dates)
    return _decay(days, xi, _reference_day(days, reference_date))


def _reference_day(days: np.ndarray, reference_date: Any) -> float:
    return days.max() if reference_date is None else _days([pd.Timestamp(reference_date)])[0]


def _decay(days: np.ndarray, xi: float, reference: float) -> np.ndarray:
    if xi < 0 or not math.isfinite(xi):
        raise InvalidInputError(f"xi (decay per day) must be a finite number >= 0, got {xi}")
    return np.exp(-xi * (reference - days))


def _goals(values: Any, name: str) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu" and values.ndim == 1:
        if values.size and values.min() < 0:
            i = int(np.argmax(values < 0))
            raise InvalidInputError(f"{name} is negative ({values[i]}) at row {i}")
        return values.astype(np.int32)
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be numbers: {exc}") from None
    bad = ~np.isfinite(arr)
    if bad.any():
        raise InvalidInputError(f"{name} is missing (NaN) at row {int(np.flatnonzero(bad)[0])}")
    bad = arr < 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(f"{name} is negative ({arr[i]:g}) at row {i}")
    bad = arr != np.round(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(f"{name} is not a whole number ({arr[i]:g}) at row {i}")
    return arr.astype(np.int32)


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """One column as a numpy array.  ``frame[name]`` builds a Series (tens of microseconds
    in pandas 3, most of a small fit's overhead); the column's own array is read directly
    when the name is unique."""
    at = frame.columns.get_loc(name)
    if isinstance(at, int):  # a unique name
        try:
            values = frame._get_column_array(at)
        except AttributeError:  # a pandas without the accessor
            return frame[name].to_numpy()
        return values if isinstance(values, np.ndarray) else np.asarray(values)
    return frame[name].to_numpy()


def _columns(matches: Any, overrides: Mapping[str, Any]) -> dict[str, Any]:
    cols: dict[str, Any] = {}
    if matches is not None:
        if isinstance(matches, pd.DataFrame):
            wanted = (*_COLUMNS, "date", "weight")
            present = set(matches.columns)
            cols = {c: _column(matches, c) for c in wanted if c in present}
        elif isinstance(matches, Mapping):
            cols = dict(matches)
        else:
            raise InvalidInputError(
                "matches must be a DataFrame or a mapping of column name to values"
            )
    given = {k: v for k, v in overrides.items() if v is not None}
    cols.update(given)
    missing = [c for c in _COLUMNS if c not in cols]
    if missing:
        raise InvalidInputError(f"missing required column(s): {', '.join(missing)}")
    if isinstance(matches, pd.DataFrame) and not given:  # a frame's columns match
        if len(matches) == 0:
            raise InvalidInputError("no matches to fit")
        return cols
    lengths = {
        c: np.shape(np.atleast_1d(v))[0]
        for c, v in cols.items()
        if c in (*_COLUMNS, "date", "weight")
    }
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{c}={n}" for c, n in lengths.items())
        raise InvalidInputError(f"columns have different lengths: {detail}")
    if lengths["home_team"] == 0:
        raise InvalidInputError("no matches to fit")
    return cols


class DixonColes:
    """Dixon-Coles model fitted by exact Newton steps on a compiled likelihood.

    Parameters
    ----------
    rho:
        Fit the low-score dependence ``rho``; ``False`` gives the independent Poisson model.
    xi:
        Time decay **per day** (see the module docstring); used when the data have a
        ``date`` column.
    l2:
        Precision of an optional Gaussian prior on each team's attack and defence (0: plain
        maximum likelihood).  Roughly "worth l2 / 1.4 matches" of data per team.
    solver:
        ``"newton"`` (default; exact Hessian, Cholesky, Armijo line search) or ``"lbfgs"``
        (scipy's L-BFGS-B on the same compiled gradient).
    warm_start:
        Start the next ``fit`` from the current parameters of the teams it knows.

    Fitted attributes: ``teams_``, ``attack_``, ``defence_`` (log scale, aligned with
    ``teams_``), ``home_advantage_`` (log scale), ``rho_``, ``loglik_`` (weighted, including
    the factorial terms, excluding the prior), ``n_iter_``, ``converged_``, ``n_matches_``,
    ``reference_date_``.
    """

    model_type = "dixon_coles"
    loglik_: float | None
    _reference: pd.Timestamp | None = None
    _reference_text: str | None = None  # a stored model's, parsed on first use

    def __init__(
        self,
        rho: bool = True,
        xi: float = 0.0,
        *,
        l2: float = 0.0,
        solver: str = "newton",
        max_iter: int = 100,
        tol: float = 1e-10,
        warm_start: bool = False,
    ) -> None:
        self.rho = rho
        self.xi = xi
        self.l2 = l2
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start

    @property
    def reference_date_(self) -> pd.Timestamp | None:
        """The date the decay counts from; a stored model's is parsed on first use, since
        predicting needs no pandas (a third of ``fpe predict``'s start-up)."""
        if self._reference is None and self._reference_text is not None:
            self._reference = pd.Timestamp(self._reference_text)
        return self._reference

    @reference_date_.setter
    def reference_date_(self, value: pd.Timestamp | None) -> None:
        self._reference, self._reference_text = value, None

    # fitting ---------------------------------------------------------------------------
    def fit(
        self,
        matches: Any = None,
        *,
        home_team: Any = None,
        away_team: Any = None,
        home_goals: Any = None,
        away_goals: Any = None,
        date: Any = None,
        weight: Any = None,
        reference_date: Any = None,
        prior: Mapping[str, tuple[float, float]] | None = None,
        callback: Callable[[int, float], object] | None = None,
    ) -> DixonColes:
        """Fit to ``matches`` (DataFrame or mapping with columns home_team, away_team,
        home_goals, away_goals, optional date and weight) or to the same as keyword arrays.

        ``prior`` maps a team to the mean (attack, defence minus the mean defence) of its
        Gaussian prior, used with ``l2 > 0``; other teams have mean 0 (an average team).
        ``callback(iteration, loss)`` runs after every optimiser iteration; an exception it
        raises stops the fit (used for cancellation).
        """
        if self.l2 < 0 or not math.isfinite(self.l2):
            raise InvalidInputError(f"l2 must be a finite number >= 0, got {self.l2}")
        cols = _columns(
            matches,
            {
                "home_team": home_team,
                "away_team": away_team,
                "home_goals": home_goals,
                "away_goals": away_goals,
                "date": date,
                "weight": weight,
            },
        )
        home = np.asarray(cols["home_team"], dtype=object)
        away = np.asarray(cols["away_team"], dtype=object)
        hg = _goals(cols["home_goals"], "home_goals")
        ag = _goals(cols["away_goals"], "away_goals")

        weights = np.ones(hg.size)
        if "weight" in cols:
            weights = np.asarray(cols["weight"], dtype=float).copy()
            if not np.isfinite(weights).all() or (weights < 0).any():
                raise InvalidInputError("weight must be finite and >= 0")
        if "date" in cols:
            days = _days(cols["date"])
            ref = _reference_day(days, reference_date)
            weights *= _decay(days, self.xi, ref)
            self.reference_date_ = pd.Timestamp(ref * 86400.0, unit="s")
        else:
            self.reference_date_ = None
        if not weights.sum() > 0:
            raise InvalidInputError("all match weights are zero")

        codes, uniques = pd.factorize(np.concatenate([home, away]))
        if (codes < 0).any():
            raise InvalidInputError("home_team and away_team must not be missing")
        order = np.argsort(uniques.astype(str), kind="stable")
        teams = np.asarray(uniques, dtype=object)[order]
        if teams.size < 2:
            raise InvalidInputError(f"at least two teams are needed, got {list(teams)}")
        same = codes[: hg.size] == codes[hg.size :]
        if same.any():
            i = int(np.flatnonzero(same)[0])
            raise InvalidInputError(f"row {i}: {home[i]!r} cannot play itself")
        rank = np.empty(order.size, dtype=np.int32)
        rank[order] = np.arange(order.size, dtype=np.int32)
        coded = rank[codes]
        n = teams.size
        problem = Problem(
            home_idx=np.ascontiguousarray(coded[: hg.size]),
            away_idx=np.ascontiguousarray(coded[hg.size :]),
            home_goals=hg,
            away_goals=ag,
            weights=weights,
            n_teams=n,
            use_rho=bool(self.rho),
            l2=float(self.l2),
            team_names=teams,
        )
        if prior is not None and self.l2 > 0:
            index = {t: i for i, t in enumerate(teams)}
            problem.prior_attack, problem.prior_defence = np.zeros(n), np.zeros(n)
            for team, (att, dfn) in prior.items():
                if team in index:
                    problem.prior_attack[index[team]] = att
                    problem.prior_defence[index[team]] = dfn
        init = self._warm_params(teams, problem) if self.warm_start else None
        solution = solve(
            problem,
            init,
            solver=self.solver,
            max_iter=self.max_iter,
            tol=self.tol,
            callback=callback,
        )
        params = solution.params
        self.teams_ = teams
        self.attack_ = params.attack
        self.defence_ = params.defence
        self.home_advantage_ = params.home
        self.rho_ = params.rho if self.rho else 0.0
        self.loglik_ = -(solution.nll - solution.prior + problem.factorial_term())
        self.n_iter_ = solution.n_iter
        self.converged_ = solution.converged
        self.n_matches_ = int(hg.size)
        self._index = dict(zip(teams.tolist(), range(n), strict=True))
        return self

    def _warm_params(self, teams: np.ndarray, problem: Problem) -> Parameters | None:
        if not hasattr(self, "teams_"):
            return None
        params = initial_parameters(problem)
        for i, team in enumerate(teams):
            j = self._index.get(team)
            if j is not None:
                params.attack[i] = self.attack_[j]
                params.defence[i] = self.defence_[j]
        params.home = self.home_advantage_
        params.rho = self.rho_
        return params

    # prediction ------------------------------------------------------------------------
    def knows(self, teams: Iterable[Any]) -> np.ndarray:
        """Per team, whether the model has parameters for it."""
        self._check_fitted()
        names = np.atleast_1d(np.asarray(teams, dtype=object))
        return np.fromiter((t in self._index for t in names), bool, names.size)

    def _check_fitted(self) -> None:
        if not hasattr(self, "teams_"):
            raise NotFittedError("this DixonColes model is not fitted yet; call fit() first")

    def _lookup(self, teams: Iterable[Any]) -> np.ndarray:
        names = np.atleast_1d(np.asarray(teams, dtype=object))
        idx = np.fromiter((self._index.get(t, -1) for t in names), np.intp, names.size)
        if (idx < 0).any():
            unknown = list(dict.fromkeys(str(t) for t in names[idx < 0]))
            raise UnknownTeamError(unknown)
        return idx

    def rates(self, home_teams: Any, away_teams: Any) -> tuple[np.ndarray, np.ndarray]:
        """Poisson rates (lambda, mu) before the tau correction."""
        self._check_fitted()
        h = self._lookup(home_teams)
        a = self._lookup(away_teams)
        if h.size != a.size:
            raise InvalidInputError(
                f"{h.size} home teams but {a.size} away teams: give one of each per fixture"
            )
        lam = np.exp(self.home_advantage_ + self.attack_[h] - self.defence_[a])
        mu = np.exp(self.attack_[a] - self.defence_[h])
        return lam, mu

    def predict(
        self, home_teams: Any, away_teams: Any, max_goals: int | None = None
    ) -> MatchProbabilities:
        """Score grids and markets for each (home, away) fixture; a single pair of names
        gives a batch of one.  A rho that would make a fixture's cell negative (possible
        only for a model not fitted here) is moved inside that fixture's region."""
        lam, mu = self.rates(home_teams, away_teams)
        # a fit keeps rho valid for every pair; a model from elsewhere may not
        rho = feasible_rho(self.rho_, lam, mu)
        grid = score_grid(lam, mu, rho, max_goals)
        return MatchProbabilities(
            np.atleast_1d(np.asarray(home_teams, dtype=object)),
            np.atleast_1d(np.asarray(away_teams, dtype=object)),
            lam,
            mu,
            grid,
            rho,
        )

    def predict_proba(self, home_teams: Any, away_teams: Any) -> np.ndarray:
        """(n, 3) probabilities of home win, draw, away win."""
        return self.predict(home_teams, away_teams).outcomes

    # serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready model in the registry's shape.

        ``team_strengths`` holds ``{attack, defense}`` on the multiplicative scale
        (``lambda = home_advantage * attack[home] / defense[away]``); ``parameters`` holds
        the exact log-scale values so that :meth:`from_dict` is lossless.
        """
        self._check_fitted()
        teams = [str(t) for t in self.teams_]
        return {
            "model_type": self.model_type,
            "team_strengths": {
                t: {"attack": math.exp(a), "defense": math.exp(d)}
                for t, a, d in zip(teams, self.attack_, self.defence_, strict=True)
            },
            "home_advantage": math.exp(self.home_advantage_),
            "rho": self.rho_,
            "decay_rate": self.xi,
            "parameters": {
                "teams": teams,
                "attack": [float(a) for a in self.attack_],
                "defence": [float(d) for d in self.defence_],
                "home_advantage": self.home_advantage_,
            },
            "fit": {
                "loglik": self.loglik_,
                "n_iter": self.n_iter_,
                "converged": self.converged_,
                "n_matches": self.n_matches_,
                "reference_date": None
                if self.reference_date_ is None
                else self.reference_date_.isoformat(),
                "rho_fitted": bool(self.rho),
                "l2": self.l2,
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DixonColes:
        """Rebuild a fitted model from :meth:`to_dict` output (or a legacy dict that only has
        ``team_strengths``, ``home_advantage`` and ``rho``)."""
        try:
            fit = data.get("fit", {})
            model = cls(
                rho=bool(fit.get("rho_fitted", data.get("rho", 0.0) != 0.0)),
                xi=float(data.get("decay_rate") or 0.0),
                l2=float(fit.get("l2", 0.0)),
            )
            params = data.get("parameters")
            if params is not None:
                teams = np.asarray(params["teams"], dtype=object)
                attack = np.asarray(params["attack"], dtype=float)
                defence = np.asarray(params["defence"], dtype=float)
                home = float(params["home_advantage"])
            else:
                strengths = data["team_strengths"]
                teams = np.asarray(list(strengths), dtype=object)
                attack = np.log([float(s["attack"]) for s in strengths.values()])
                defence = np.log([float(s["defense"]) for s in strengths.values()])
                home = math.log(float(data["home_advantage"]))
            rho = float(data.get("rho") or 0.0)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"not a Dixon-Coles model dict: {exc!r}") from None
        if attack.size != teams.size or defence.size != teams.size or teams.size < 2:
            raise InvalidInputError("model dict has inconsistent team parameters")
        model.teams_ = teams
        model.attack_ = attack
        model.defence_ = defence
        model.home_advantage_ = home
        model.rho_ = rho
        model.loglik_ = fit.get("loglik")
        model.n_iter_ = fit.get("n_iter", 0)
        model.converged_ = fit.get("converged", True)
        model.n_matches_ = fit.get("n_matches", 0)
        ref = fit.get("reference_date")
        model._reference, model._reference_text = None, ref
        model._index = {t: i for i, t in enumerate(teams)}
        return model

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rho={self.rho}, xi={self.xi}, l2={self.l2})"


class Poisson(DixonColes):
    """The independent Poisson model: :class:`DixonColes` with ``rho`` fixed at 0."""

    model_type = "poisson"

    def __init__(self, xi: float = 0.0, **kwargs: Any) -> None:
        super().__init__(rho=False, xi=xi, **kwargs)
