"""A goal model fitted to what the market said about past matches, not to their results.

Each past match's margin-free prices (1X2, plus over/under 2.5 where present) are inverted
to the pair of goal rates ``(lambda, mu)`` whose Dixon-Coles score grid reproduces them
(:func:`implied_rates`).  :class:`MarketImplied` then fits the usual attack, defence and home
advantage to those rates by Poisson pseudo-likelihood, with the same time decay and prior
as :class:`~core.dixon_coles.DixonColes`: a match contributes
``w * (lambda_hat * log(lambda) - lambda + mu_hat * log(mu) - mu)``.

With ``rho`` fixed the likelihood is Poisson, which needs no integer goals: the compiled
kernel takes the fractional targets as they are (the walk-forward, one row a match).  The
estimator reuses :class:`~core.dixon_coles.DixonColes`'s validated integer path instead:
the likelihood is separable in home and away goals and linear in the weights, so a target
``x = k + f`` is exactly a row with ``k`` goals at weight ``1 - f`` plus a row with
``k + 1`` at weight ``f`` (:func:`split_targets`, three rows a match, home and away split
together); ``tests/test_kernel.py`` checks that both give the same value, gradient and
Hessian.

Prices of *past* matches only: the rates used to fit come from matches already played
(closing prices where the file has them, else pre-match).  The match being forecast is
predicted from the fitted ratings; its own prices are never used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from core.dixon_coles import DixonColes
from core.errors import InvalidInputError
from core.lazy import pandas as pd
from core.markets import log_factorials, rho_bounds
from core.odds import implied_probabilities
from core.sources import MARKET_FIT_SOURCES

__all__ = [
    "MarketImplied",
    "implied_rates",
    "implied_rates_rho",
    "market_rates",
    "market_rates_rho",
    "split_targets",
]

# Prices used to fit the market model (past matches only): the market baseline's order,
# closing first, then pre-match, without the best price across bookmakers (a maximum over
# many books, not one book's price).
_RATE_BOUNDS = (math.log(0.05), math.log(8.0))


def _outcome_probs(
    u: np.ndarray, v: np.ndarray, rho: float, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(home win), P(away win), P(over 2.5) of the Dixon-Coles grid (n, 3) and their
    derivatives in ``u = log lambda`` and ``v = log mu`` (each (n, 3)), in O(n * size)."""
    lam, mu = np.exp(u), np.exp(v)
    k = np.arange(size)
    log_fact = log_factorials(size)
    f = np.exp(k * u[:, None] - lam[:, None] - log_fact)
    g = np.exp(k * v[:, None] - mu[:, None] - log_fact)
    df = f * (k - lam[:, None])  # d f_k / d u
    dg = g * (k - mu[:, None])
    fc, gc = np.cumsum(f, axis=1), np.cumsum(g, axis=1)
    dfc, dgc = np.cumsum(df, axis=1), np.cumsum(dg, axis=1)
    lr, mr = lam * rho, mu * rho
    f0, f1, f2, g0, g1, g2 = f[:, 0], f[:, 1], f[:, 2], g[:, 0], g[:, 1], g[:, 2]
    df0, df1, df2, dg0, dg1, dg2 = df[:, 0], df[:, 1], df[:, 2], dg[:, 0], dg[:, 1], dg[:, 2]
    p_home = (f[:, 1:] * gc[:, :-1]).sum(axis=1) + f1 * g0 * mr
    p_away = (g[:, 1:] * fc[:, :-1]).sum(axis=1) + f0 * g1 * lr
    t00 = 1.0 - lam * mu * rho
    under = f0 * g0 * t00 + f1 * g0 * (1 + mr) + f0 * g1 * (1 + lr) + f1 * g1 * (1 - rho)
    under += f2 * g0 + f0 * g2
    home_u = (df[:, 1:] * gc[:, :-1]).sum(axis=1) + df1 * g0 * mr
    home_v = (f[:, 1:] * dgc[:, :-1]).sum(axis=1) + f1 * (dg0 + g0) * mr
    away_u = (g[:, 1:] * dfc[:, :-1]).sum(axis=1) + (df0 + f0) * g1 * lr
    away_v = (dg[:, 1:] * fc[:, :-1]).sum(axis=1) + f0 * dg1 * lr
    under_u = (
        df0 * g0 * t00 - f0 * g0 * lam * mu * rho + df1 * g0 * (1 + mr)
        + (df0 * (1 + lr) + f0 * lr) * g1 + df1 * g1 * (1 - rho) + df2 * g0 + df0 * g2
    )  # fmt: skip
    under_v = (
        f0 * dg0 * t00 - f0 * g0 * lam * mu * rho + f1 * (dg0 * (1 + mr) + g0 * mr)
        + f0 * dg1 * (1 + lr) + f1 * dg1 * (1 - rho) + f2 * dg0 + f0 * dg2
    )  # fmt: skip
    probs = np.column_stack([p_home, p_away, 1.0 - under])
    return (
        probs,
        np.column_stack([home_u, away_u, -under_u]),
        np.column_stack([home_v, away_v, -under_v]),
    )


def implied_rates(
    probs: Any,
    over: Any = None,
    *,
    rho: float = 0.0,
    max_goals: int = 25,
    tol: float = 1e-10,
    max_iter: int = 60,
) -> tuple[np.ndarray, np.ndarray]:
    """Goal rates ``(lambda, mu)`` per match whose score grid gives ``probs`` (n, 3 margin-free
    1X2) and, where ``over`` (n,) is not NaN, the probability of over 2.5 goals.

    1X2 alone: home and away win are matched exactly (two equations, two unknowns).  With
    over/under: the three probabilities are matched in least squares.  Vectorised
    Gauss-Newton on ``(log lambda, log mu)``; rows with invalid input give NaN.
    """
    p = np.atleast_2d(np.asarray(probs, dtype=float))
    if p.shape[1] != 3:
        raise InvalidInputError(f"probs must have shape (n, 3), got {p.shape}")
    n = p.shape[0]
    o = np.full(n, np.nan) if over is None else np.atleast_1d(np.asarray(over, dtype=float))
    if o.shape != (n,):
        raise InvalidInputError(f"over must have shape ({n},), got {o.shape}")
    if not -1.0 < rho < 1.0:
        raise InvalidInputError(f"rho must be between -1 and 1, got {rho}")
    valid = np.isfinite(p).all(axis=1) & (p > 0).all(axis=1) & (p < 1).all(axis=1)
    has_ou = valid & np.isfinite(o) & (o > 0) & (o < 1)
    lam = np.full(n, np.nan)
    mu = np.full(n, np.nan)
    rows = np.flatnonzero(valid)
    if rows.size == 0:
        return lam, mu
    target = np.column_stack([p[rows, 0], p[rows, 2], np.where(has_ou[rows], o[rows], 0.0)])
    mask = np.column_stack([np.ones(rows.size), np.ones(rows.size), has_ou[rows]])
    # start: supremacy from the win probabilities, 2.6 goals a match
    u = np.full(rows.size, math.log(1.3)) + 0.9 * (target[:, 0] - target[:, 1])
    v = np.full(rows.size, math.log(1.3)) - 0.9 * (target[:, 0] - target[:, 1])
    size = max_goals + 1
    todo = np.arange(rows.size)
    for _ in range(max_iter):
        uu, vv = u[todo], v[todo]
        probs, ju, jv = _outcome_probs(uu, vv, rho, size)
        m = mask[todo]
        r = (probs - target[todo]) * m
        ju, jv = ju * m, jv * m
        # Gauss-Newton: solve (J'J) d = -J'r, 2x2 in closed form
        a, b, c = (ju * ju).sum(1), (ju * jv).sum(1), (jv * jv).sum(1)
        gu, gv = (ju * r).sum(1), (jv * r).sum(1)
        det = a * c - b * b
        du = -(c * gu - b * gv) / det
        dv = -(a * gv - b * gu) / det
        step = np.maximum(np.abs(du), np.abs(dv))
        scale = np.minimum(1.0, 0.5 / np.maximum(step, 1e-300))
        u[todo] = np.clip(uu + scale * du, *_RATE_BOUNDS)
        v[todo] = np.clip(vv + scale * dv, *_RATE_BOUNDS)
        todo = todo[step > tol]
        if todo.size == 0:
            break
    lam[rows], mu[rows] = np.exp(u), np.exp(v)
    return lam, mu


def _rho_derivatives(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(n, 3) derivatives of P(home win), P(away win) and P(over 2.5) in rho (linear in rho:
    only the four low-score cells move)."""
    lam, mu = np.exp(u), np.exp(v)
    e = np.exp(-lam - mu)
    p00, p10, p01, p11 = e, e * lam, e * mu, e * lam * mu
    d_home = p10 * mu
    d_away = p01 * lam
    d_under = -p00 * lam * mu + p10 * mu + p01 * lam - p11
    return np.column_stack([d_home, d_away, -d_under])


def implied_rates_rho(
    probs: Any,
    over: Any,
    *,
    max_goals: int = 25,
    tol: float = 1e-10,
    max_iter: int = 60,
    rho_limit: float = 0.4,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Goal rates and a per-match Dixon-Coles ``rho``: where ``over`` is present, the three
    unknowns ``(lambda, mu, rho)`` reproduce home win, away win and over 2.5 exactly, so
    the grid prices the draw as the market does (a grid without rho that matches the totals
    under-prices it).  Without over/under (or where no ``rho`` within ``rho_limit`` and the
    grid's bounds fits) the rates are :func:`implied_rates`' with rho 0 and rho is NaN."""
    lam, mu = implied_rates(probs, over, max_goals=max_goals, tol=tol, max_iter=max_iter)
    n = lam.size
    rho = np.full(n, np.nan)
    o = np.full(n, np.nan) if over is None else np.atleast_1d(np.asarray(over, dtype=float))
    p = np.atleast_2d(np.asarray(probs, dtype=float))
    rows = np.flatnonzero(np.isfinite(lam) & np.isfinite(o) & (o > 0) & (o < 1))
    if rows.size == 0:
        return lam, mu, rho
    target = np.column_stack([p[rows, 0], p[rows, 2], o[rows]])
    # start from the 1X2-exact rates at rho 0
    u, v = (np.log(x) for x in implied_rates(p[rows], None, max_goals=max_goals))
    r = np.zeros(rows.size)
    size = max_goals + 1
    todo = np.arange(rows.size)
    ok = np.zeros(rows.size, dtype=bool)
    for _ in range(max_iter):
        uu, vv, rr = u[todo], v[todo], r[todo]
        got, ju, jv = _outcome_probs(uu, vv, 0.0, size)
        jr = _rho_derivatives(uu, vv)
        # the rho terms are linear in rho: add them (and their u, v derivatives) by hand
        got = got + rr[:, None] * jr
        h = 1e-6
        jr_u = (_rho_derivatives(uu + h, vv) - jr) / h
        jr_v = (_rho_derivatives(uu, vv + h) - jr) / h
        jac = np.stack([ju + rr[:, None] * jr_u, jv + rr[:, None] * jr_v, jr], axis=2)
        res = got - target[todo]
        try:
            step = np.linalg.solve(jac, -res[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            break
        big = np.abs(step).max(axis=1)
        scale = np.minimum(1.0, 0.5 / np.maximum(big, 1e-300))[:, None]
        u[todo] = np.clip(uu + scale[:, 0] * step[:, 0], *_RATE_BOUNDS)
        v[todo] = np.clip(vv + scale[:, 0] * step[:, 1], *_RATE_BOUNDS)
        r[todo] = np.clip(rr + scale[:, 0] * step[:, 2], -rho_limit, rho_limit)
        done = big <= tol
        ok[todo[done]] = True
        todo = todo[~done]
        if todo.size == 0:
            break
    lr, mr = np.exp(u), np.exp(v)
    lo, hi = rho_bounds(lr, mr)
    ok &= np.isfinite(r) & (r > lo) & (r < hi) & (np.abs(r) < rho_limit)
    lam[rows[ok]], mu[rows[ok]], rho[rows[ok]] = lr[ok], mr[ok], r[ok]
    return lam, mu, rho


def _source_probs(frame: pd.DataFrame, columns: list[str], method: str) -> np.ndarray:
    if not all(c in frame.columns for c in columns):
        return np.full((len(frame), len(columns)), np.nan)
    return implied_probabilities(np.asarray(frame[columns], dtype=float), method)


def _first_prices(
    frame: pd.DataFrame, method: str, sources: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per match, the margin-free 1X2 of the first source in ``sources`` with a complete
    one, the over 2.5 probability of that same source, else of the first source in
    ``sources`` that has one (NaN where none has), and the 1X2's source ('' and NaN when
    none had prices).

    The fallback matters where the sharpest 1X2 comes without totals: football-data's files
    to 2018/19 carry Pinnacle's closing 1X2 but over/under 2.5 only as BetBrain's pre-match
    average.  The totals pin the goal level and rho; they move little between the two
    collections (issue 21: the engine went from +0.00121 to +0.00116 behind Pinnacle's
    pre-match price, 2016/17-2018/19 from +0.00118 to +0.00106)."""
    n = len(frame)
    probs = np.full((n, 3), np.nan)
    over = np.full(n, np.nan)
    used = np.full(n, "", dtype=object)
    for source in sources:
        todo = np.isnan(probs[:, 0])
        if not todo.any():
            break
        p = _source_probs(frame, [f"{source}_{o}" for o in "hda"], method)
        ok = todo & ~np.isnan(p[:, 0])
        probs[ok] = p[ok]
        used[ok] = source
        ou = _source_probs(frame, [f"{source}_over25", f"{source}_under25"], method)
        over[ok] = ou[ok, 0]
    for source in sources:  # totals from another source where the 1X2's has none
        todo = np.isnan(over) & ~np.isnan(probs[:, 0])
        if not todo.any():
            break
        ou = _source_probs(frame, [f"{source}_over25", f"{source}_under25"], method)
        over[todo] = ou[todo, 0]
    return probs, over, used


def market_rates(
    frame: pd.DataFrame,
    *,
    method: str = "power",
    sources: tuple[str, ...] = MARKET_FIT_SOURCES,
    rho: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Implied ``(lambda, mu)`` of every match from the first source in ``sources`` with a
    complete 1X2, plus over/under 2.5 from the same source where present (else from the
    first source that has it); and the 1X2's source per match ('' and NaN rates when none
    had prices)."""
    probs, over, used = _first_prices(frame, method, sources)
    lam, mu = implied_rates(probs, over, rho=rho)
    return lam, mu, used


def market_rates_rho(
    frame: pd.DataFrame, *, method: str = "power", sources: tuple[str, ...] = MARKET_FIT_SOURCES
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`market_rates` with a per-match rho (:func:`implied_rates_rho`): rates, rho
    (NaN where the source has no over/under 2.5) and the source used."""
    probs, over, used = _first_prices(frame, method, sources)
    lam, mu, rho = implied_rates_rho(probs, over)
    return lam, mu, rho, used


def split_targets(
    x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Integer rows equivalent to fractional targets ``(x, y)`` under an independent Poisson
    likelihood: ``(row, home_goals, away_goals, weight)`` with three rows per target pair.

    With ``f = frac(x) <= g = frac(y)`` the rows are ``(floor x, floor y)`` at ``1 - g``,
    ``(floor x, ceil y)`` at ``g - f`` and ``(ceil x, ceil y)`` at ``f`` (and mirrored):
    each side's goals then average to its target with total weight one.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise InvalidInputError("targets must be two 1-D arrays of the same length")
    if not (np.isfinite(x).all() and np.isfinite(y).all()) or (x < 0).any() or (y < 0).any():
        raise InvalidInputError("targets must be finite and >= 0")
    kx, ky = np.floor(x), np.floor(y)
    f, g = x - kx, y - ky
    lo, hi = np.minimum(f, g), np.maximum(f, g)
    x_first = f >= g  # the home side moves up first
    # row 1: both down, weight 1 - hi; row 2: the side with the larger fraction up,
    # weight hi - lo; row 3: both up, weight lo
    hg = np.stack([kx, kx + x_first, kx + 1])
    ag = np.stack([ky, ky + ~x_first, ky + 1])
    w = np.stack([1.0 - hi, hi - lo, lo])
    row = np.broadcast_to(np.arange(x.size), (3, x.size))
    return (
        row.T.ravel(),
        hg.T.ravel().astype(np.int32),
        ag.T.ravel().astype(np.int32),
        w.T.ravel(),
    )


class MarketImplied(DixonColes):
    """Team ratings fitted to the goal rates implied by past matches' prices.

    Same parameters, fitted attributes, ``predict`` and model JSON as
    :class:`~core.dixon_coles.DixonColes`.  ``rho`` is not fitted: ``dependence`` is the fixed
    low-score dependence used both to invert the prices and to predict (0: Poisson).
    Extra fitted attribute: ``n_priced_`` (matches with usable prices).
    """

    model_type = "market_implied"

    def __init__(
        self,
        xi: float = 0.0,
        *,
        l2: float = 0.0,
        dependence: float = 0.0,
        margin: str = "power",
        solver: str = "newton",
        max_iter: int = 100,
        tol: float = 1e-10,
        warm_start: bool = False,
    ) -> None:
        super().__init__(
            rho=False, xi=xi, l2=l2, solver=solver, max_iter=max_iter, tol=tol,
            warm_start=warm_start,
        )  # fmt: skip
        self.dependence = dependence
        self.margin = margin

    def fit(  # type: ignore[override]
        self,
        matches: pd.DataFrame | None = None,
        *,
        home_team: Any = None,
        away_team: Any = None,
        home_rate: Any = None,
        away_rate: Any = None,
        date: Any = None,
        weight: Any = None,
        reference_date: Any = None,
        prior: Mapping[str, tuple[float, float]] | None = None,
        callback: Callable[[int, float], object] | None = None,
    ) -> MarketImplied:
        """Fit to ``matches`` (home_team, away_team, optional date and weight, and either
        ``home_rate``/``away_rate`` or the parser's canonical odds columns) or to the same as
        keyword arrays.  Matches without usable prices are left out."""
        rho = float(self.dependence)
        if not -1.0 < rho < 1.0:
            raise InvalidInputError(f"dependence must be between -1 and 1, got {rho}")
        cols: dict[str, Any] = {}
        if matches is not None:
            if not isinstance(matches, pd.DataFrame):
                raise InvalidInputError("matches must be a DataFrame")
            for c in ("home_team", "away_team", "date", "weight", "home_rate", "away_rate"):
                if c in matches.columns:
                    cols[c] = matches[c].to_numpy()
        given = {
            "home_team": home_team,
            "away_team": away_team,
            "home_rate": home_rate,
            "away_rate": away_rate,
            "date": date,
            "weight": weight,
        }
        cols.update({k: v for k, v in given.items() if v is not None})
        for c in ("home_team", "away_team"):
            if c not in cols:
                raise InvalidInputError(f"missing required column: {c}")
        if "home_rate" not in cols or "away_rate" not in cols:
            if matches is None:
                raise InvalidInputError("give home_rate and away_rate, or a frame with odds")
            lam, mu, _ = market_rates(matches, method=self.margin, rho=rho)
        else:
            lam = np.asarray(cols["home_rate"], dtype=float)
            mu = np.asarray(cols["away_rate"], dtype=float)
        n = len(cols["home_team"])
        if lam.shape != (n,) or mu.shape != (n,):
            raise InvalidInputError("home_rate and away_rate need one value per match")
        priced = np.isfinite(lam) & np.isfinite(mu) & (lam > 0) & (mu > 0)
        if not priced.any():
            raise InvalidInputError("no match has usable prices to fit the market model to")
        keep = np.flatnonzero(priced)
        row, hg, ag, w = split_targets(lam[keep], mu[keep])
        src = keep[row]
        weights = w if "weight" not in cols else w * np.asarray(cols["weight"], float)[src]
        super().fit(
            home_team=np.asarray(cols["home_team"], dtype=object)[src],
            away_team=np.asarray(cols["away_team"], dtype=object)[src],
            home_goals=hg,
            away_goals=ag,
            date=None if "date" not in cols else np.asarray(cols["date"])[src],
            weight=weights,
            reference_date=reference_date,
            prior=prior,
            callback=callback,
        )
        self.rho_ = rho
        self.n_matches_ = int(n)
        self.n_priced_ = int(keep.size)
        self.loglik_ = None  # a pseudo-likelihood: not comparable with a results model's
        return self

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["fit"]["rho_fitted"] = False
        data["fit"]["n_priced"] = getattr(self, "n_priced_", self.n_matches_)
        data["fit"]["margin"] = self.margin
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MarketImplied:
        base = DixonColes.from_dict(data)
        model = cls(xi=base.xi, l2=base.l2, dependence=base.rho_)
        model.__dict__.update(
            {k: v for k, v in base.__dict__.items() if k.endswith("_") or k == "_index"}
        )
        fit = data.get("fit", {})
        model.margin = str(fit.get("margin", "power"))
        model.n_priced_ = int(fit.get("n_priced", model.n_matches_ or 0))
        return model

    def __repr__(self) -> str:
        return f"MarketImplied(xi={self.xi}, l2={self.l2}, dependence={self.dependence})"
