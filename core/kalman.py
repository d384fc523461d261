"""A Kalman filter of the market-implied ratings: the goal rates implied by past matches'
prices, tracked as team strengths that follow random walks.

Each team of a group (a country: promoted and relegated clubs connected) has an attack and
a defence that follow a random walk of variance ``q`` a day, and the group a common home
advantage of variance ``qh`` a day (:class:`KalmanSettings`). Every past match whose
prices invert to goal rates (:func:`core.market_model.market_rates_rho`) is an observation
``log lambda = home + attack_i - defence_j`` and ``log mu = attack_j - defence_i``, each
with noise variance ``r``, folded in one at a time. A second, slower filter (random walks
of ``q_slow`` and ``qh_slow`` a day) runs on the same observations; at a season start (the
first day after a break of more than 30 days) the filter's mean becomes the slower one's,
its covariance its own: the summer's state is otherwise mostly the run-in's prices. A new
team (after the first 90 days), or one back after more than :data:`ABSENT_DAYS` days,
starts at the mean of the three weakest teams of its league with variance ``v0``. A match
is forecast from the state before its day (matches of the same day never see each other's
prices) on a grid with the exponentially weighted mean (``rho_xi`` a day) of the earlier
matches' implied rho, one grid per day sized by that day's rates (exact causality).

The engine's settings (:data:`ENGINE`) were chosen among twenty-one on the shared data
(issue 21, ``benchmarks/kalman_ratings.py``, which runs this filter with the others;
docs/quality.md, "Fourth pass"), on the same matches the engine is scored on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np

from core.errors import InvalidInputError, NotFittedError
from core.lazy import pandas as pd
from core.markets import feasible_rho, outcome_probabilities

__all__ = [
    "ABSENT_DAYS",
    "ENGINE",
    "KalmanRatings",
    "KalmanSettings",
    "kalman_forecast",
    "kalman_rates",
    "with_filter",
]

ABSENT_DAYS = 200  # a team back after longer starts again from the newcomers' prior
_SEASON_BREAK = 30  # days without a match that make the next day a season start
_FOUNDING_DAYS = 90  # teams first seen within this many days are no newcomers
_WEAKEST = 3


@dataclass(frozen=True)
class KalmanSettings:
    """The filter's variances and season-start rule; the defaults are the engine's."""

    r: float = 3e-4  # observation noise of an inverted log rate
    q: float = 3e-5  # per day: random walk of each attack and defence
    qh: float = 1e-6  # per day: random walk of the home advantage
    q_slow: float = 1e-7  # the slower filter's, whose mean the filter takes at a season start
    qh_slow: float = 3.3e-9
    v0: float = 0.05  # variance of a new team's attack and defence (and of all at the outset)
    rho_xi: float = 0.04  # per day: decay of the mean implied rho
    reset: float = 1.0  # the share of the slower filter's mean taken at a season start
    reset_cov: float = 0.0  # the share of its covariance taken then
    season_variance: float = 0.0  # added to every attack and defence at a season start
    gap_days: float = math.inf  # at most this many days of a break count in the teams' walks


ENGINE = KalmanSettings()


def kalman_forecast(
    day: Any,
    home: Any,
    away: Any,
    league: Any,
    home_rate: Any,
    away_rate: Any,
    rho: Any,
    settings: KalmanSettings = ENGINE,
) -> np.ndarray:
    """The filter's forecast of every match of one group: an ``(n, 5)`` array of home win,
    draw, away win, home and away goal rate, in the rows' order (arguments as
    :func:`kalman_rates`); one grid per day, sized by that day's rates, so that no
    forecast depends on a later day."""
    rates = kalman_rates(day, home, away, league, home_rate, away_rate, rho, settings)
    lam, mu = np.exp(rates[:, 0]), np.exp(rates[:, 1])
    out = np.full((lam.size, 5), np.nan)
    out[:, 3], out[:, 4] = lam, mu
    _, first = np.unique(np.asarray(day, dtype=np.int64), return_index=True)
    for a, b in zip(first.tolist(), [*first[1:].tolist(), lam.size], strict=True):
        out[a:b, :3] = outcome_probabilities(
            lam[a:b], mu[a:b], feasible_rho(float(rates[a, 2]), lam[a:b], mu[a:b])
        )
    return out


def kalman_rates(
    day: Any,
    home: Any,
    away: Any,
    league: Any,
    home_rate: Any,
    away_rate: Any,
    rho: Any,
    settings: KalmanSettings = ENGINE,
) -> np.ndarray:
    """The filter's state before each match's day: an ``(n, 3)`` array of the log home and
    away goal rates and the mean implied rho, in the rows' order.

    ``day``: integer days, non-decreasing; ``home``/``away``: team codes ``0 .. k - 1``;
    ``league``: any labels (a newcomer starts from its league's weakest teams);
    ``home_rate``/``away_rate``/``rho``: what each match's prices imply (NaN: no prices, not
    an observation).  Each row uses only the rows of earlier days.
    """
    return _run(day, home, away, league, home_rate, away_rate, rho, settings)[0]


@dataclass(frozen=True)
class _Final:
    """The filter after its last match: both states' means, each team's last day and
    league (code order), the mean implied rho and the last day."""

    mean: np.ndarray
    mean_slow: np.ndarray
    last: np.ndarray
    seen: np.ndarray
    team_league: np.ndarray
    rho: float
    day: int


def _run(
    day: Any,
    home: Any,
    away: Any,
    league: Any,
    home_rate: Any,
    away_rate: Any,
    rho: Any,
    settings: KalmanSettings,
) -> tuple[np.ndarray, _Final | None]:
    st = settings
    day = np.asarray(day, dtype=np.int64)
    hi = np.asarray(home, dtype=np.intp)
    ai = np.asarray(away, dtype=np.intp)
    league = np.asarray(league)
    with np.errstate(divide="ignore", invalid="ignore"):
        y_home = np.log(np.asarray(home_rate, dtype=float))
        y_away = np.log(np.asarray(away_rate, dtype=float))
    row_rho = np.asarray(rho, dtype=float)
    out = np.full((day.size, 3), np.nan)
    if day.size == 0:
        return out, None
    if (np.diff(day) < 0).any():
        raise ValueError("day must be non-decreasing")
    n = int(max(hi.max(), ai.max())) + 1
    size = 2 * n + 1  # attacks, defences, home advantage
    # state 0 is the filter, state 1 the slower one whose mean it takes at a season start
    states = []
    for _ in range(2):
        m = np.zeros(size)
        cov = np.eye(size) * st.v0
        m[n : 2 * n] = -np.log(1.3)
        m[2 * n], cov[2 * n, 2 * n] = 0.2, 0.1
        states.append((m, cov))
    walks = ((st.q, st.qh), (st.q_slow, st.qh_slow))
    last = np.full(n, -(10**9), dtype=np.int64)
    seen = np.zeros(n, dtype=bool)
    team_league = np.empty(n, dtype=object)
    rho_num = rho_den = 0.0
    rho_day = prev = int(day[0])
    days, first = np.unique(day, return_index=True)
    bounds = np.append(first, day.size)
    diag = np.arange(2 * n)
    home_obs = np.array([1.0, 1.0, -1.0])
    away_obs = np.array([1.0, -1.0])
    for k, d in enumerate(days.tolist()):
        if d > prev:
            season_start = d - prev > _SEASON_BREAK
            for (_m, cov), (q, qh) in zip(states, walks, strict=True):
                extra = st.season_variance if season_start else 0.0
                cov[diag, diag] += q * min(d - prev, st.gap_days) + extra
                cov[2 * n, 2 * n] += qh * (d - prev)
            if season_start and st.reset > 0:
                (m, cov), (m_slow, cov_slow) = states
                m[:] = (1 - st.reset) * m + st.reset * m_slow
                if st.reset_cov > 0:
                    cov[:] = (1 - st.reset_cov) * cov + st.reset_cov * cov_slow
            prev = d
        rows = np.arange(bounds[k], bounds[k + 1])
        for t in np.unique(np.concatenate([hi[rows], ai[rows]])).tolist():
            if (not seen[t] and d > day[0] + _FOUNDING_DAYS) or (
                seen[t] and d - last[t] > ABSENT_DAYS
            ):
                lg = league[rows][(hi[rows] == t) | (ai[rows] == t)][0]
                pool = np.flatnonzero(seen & (team_league == lg) & (d - last <= ABSENT_DAYS))
                pool = pool[pool != t]
                for m, cov in states:
                    if pool.size:
                        weakest = pool[np.argsort(m[pool] + m[n + pool])[:_WEAKEST]]
                        m[t], m[n + t] = m[weakest].mean(), m[n + weakest].mean()
                    for j in (t, n + t):
                        cov[j, :] = cov[:, j] = 0.0
                        cov[j, j] = st.v0
        m = states[0][0]
        out[rows, 0] = m[2 * n] + m[hi[rows]] - m[n + ai[rows]]
        out[rows, 1] = m[ai[rows]] - m[n + hi[rows]]
        out[rows, 2] = rho_num / rho_den if rho_den > 0 else 0.0
        for i in rows.tolist():
            h, a = hi[i], ai[i]
            seen[[h, a]] = True
            last[[h, a]] = d
            team_league[[h, a]] = league[i]
            if not (np.isfinite(y_home[i]) and np.isfinite(y_away[i])):
                continue
            for idx, sign, y in (
                (np.array([2 * n, h, n + a]), home_obs, y_home[i]),
                (np.array([a, n + h]), away_obs, y_away[i]),
            ):
                for m, cov in states:
                    ph = cov[:, idx] @ sign
                    gain = ph / (sign @ ph[idx] + st.r)
                    m += gain * (y - sign @ m[idx])
                    cov -= np.outer(gain, ph)
            if np.isfinite(row_rho[i]):
                fade = np.exp(-st.rho_xi * (d - rho_day))
                rho_num, rho_den, rho_day = rho_num * fade + row_rho[i], rho_den * fade + 1, d
    rho_now = rho_num / rho_den if rho_den > 0 else 0.0
    final = _Final(states[0][0], states[1][0], last, seen, team_league, rho_now, prev)
    return out, final


def with_filter(ratings: np.ndarray, filtered: np.ndarray) -> np.ndarray:
    """The market-implied component from the ratings' and the filter's ``(n, 5)`` forecasts
    (home win, draw, away win, home and away goal rate): their equal-weight geometric mean,
    the 1X2 renormalised; the ratings alone where either has no forecast."""
    out = np.array(ratings, dtype=float)
    both = np.isfinite(out[:, 0]) & np.isfinite(filtered[:, 0])
    geo = np.sqrt(out[both] * filtered[both])
    geo[:, :3] /= geo[:, :3].sum(axis=1, keepdims=True)
    out[both] = geo
    return out


def _days(dates: Any) -> np.ndarray:
    """Integer days of dates (datetime64, date objects or ISO strings), without pandas: a
    stored model predicts on the CLI's fast path."""
    return np.asarray(dates).astype("datetime64[D]").astype(np.int64)


def _iso(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


@dataclass(frozen=True)
class _Group:
    """One group's filter after its last match (teams in code order)."""

    day: int
    home: float
    home_slow: float
    rho: float
    teams: list[str]
    attack: np.ndarray
    defence: np.ndarray
    attack_slow: np.ndarray
    defence_slow: np.ndarray
    last: np.ndarray
    league: list[str]

    def rates(self, hi: np.ndarray, ai: np.ndarray, day: int, reset: float) -> np.ndarray:
        """Log home and away rates of codes ``hi`` v ``ai`` on ``day``, as the filter
        would forecast them then: the slower filter's mean after a season break, a club
        absent for longer than :data:`ABSENT_DAYS` from its league's weakest three.

        A club that played in the group's last :data:`_SEASON_BREAK` days is never absent:
        far beyond the model's data every club's last match is long ago, yet none of them
        left a league that played on (the walk-forward, which sees those matches, never
        gets there)."""
        att, dfc, home = self.attack, self.defence, self.home
        if day - self.day > _SEASON_BREAK and reset > 0:
            att = (1 - reset) * att + reset * self.attack_slow
            dfc = (1 - reset) * dfc + reset * self.defence_slow
            home = (1 - reset) * home + reset * self.home_slow
        att, dfc = att.copy(), dfc.copy()
        league = np.asarray(self.league, dtype=object)
        present = (day - self.last <= ABSENT_DAYS) | (self.day - self.last <= _SEASON_BREAK)
        for t in np.unique(np.concatenate([hi, ai])).tolist():
            if present[t]:
                continue
            pool = np.flatnonzero((league == league[t]) & present)
            if pool.size:
                weakest = pool[np.argsort(att[pool] + dfc[pool])[:_WEAKEST]]
                att[t], dfc[t] = att[weakest].mean(), dfc[weakest].mean()
        return np.column_stack([home + att[hi] - dfc[ai], att[ai] - dfc[hi]])

    def to_dict(self) -> dict[str, Any]:
        return {
            "last_match": _iso(self.day),
            "home_advantage": self.home,
            "home_advantage_slow": self.home_slow,
            "rho": self.rho,
            "teams": {
                t: {
                    "attack": float(self.attack[i]),
                    "defence": float(self.defence[i]),
                    "attack_slow": float(self.attack_slow[i]),
                    "defence_slow": float(self.defence_slow[i]),
                    "last_match": _iso(int(self.last[i])),
                    "league": self.league[i],
                }
                for i, t in enumerate(self.teams)
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> _Group:
        teams = data["teams"]
        names = list(teams)

        def column(key: str) -> np.ndarray:
            return np.array([float(teams[t][key]) for t in names])

        return cls(
            day=int(_days([data["last_match"]])[0]),
            home=float(data["home_advantage"]),
            home_slow=float(data["home_advantage_slow"]),
            rho=float(data["rho"]),
            teams=names,
            attack=column("attack"),
            defence=column("defence"),
            attack_slow=column("attack_slow"),
            defence_slow=column("defence_slow"),
            last=_days([teams[t]["last_match"] for t in names]),
            league=[str(teams[t]["league"]) for t in names],
        )


class KalmanRatings:
    """The filter (:func:`kalman_rates`) run over a model's matches and kept, to forecast
    later fixtures exactly as the walk-forward would on their day: a stored model's
    market-implied component is :func:`with_filter` of its ratings and this.

    ``fit(frame, home_rate, away_rate, rho)``: ``frame`` has ``date``, ``home_team``,
    ``away_team`` and optional ``country`` (one filter per country, as the walk-forward)
    and ``league``; the rates are what each match's prices imply
    (:func:`core.market_model.market_rates_rho`).  Fitted: ``groups_`` (country -> the
    filter's state after its last match), ``last_match_`` (a date).
    """

    def __init__(self, settings: KalmanSettings = ENGINE) -> None:
        self.settings = settings

    def fit(self, frame: pd.DataFrame, home_rate: Any, away_rate: Any, rho: Any) -> KalmanRatings:
        if len(frame) == 0:
            raise InvalidInputError("no matches to run the Kalman filter on")
        rates = {
            "lam": np.asarray(home_rate, dtype=float),
            "mu": np.asarray(away_rate, dtype=float),
            "rho": np.asarray(rho, dtype=float),
        }
        country = frame["country"].to_numpy() if "country" in frame else np.full(len(frame), "")
        groups: dict[str, _Group] = {}
        for name in pd.unique(country):
            rows = np.flatnonzero(country == name)
            rows = rows[np.argsort(_days(frame["date"].to_numpy()[rows]), kind="stable")]
            g = frame.iloc[rows]
            codes, teams = pd.factorize(
                np.concatenate([g["home_team"].to_numpy(), g["away_team"].to_numpy()])
            )
            league = g["league"].to_numpy() if "league" in g else np.zeros(len(g))
            _, final = _run(
                _days(g["date"]),
                codes[: len(g)],
                codes[len(g) :],
                league,
                rates["lam"][rows],
                rates["mu"][rows],
                rates["rho"][rows],
                self.settings,
            )
            assert final is not None
            n = len(teams)
            keep = np.flatnonzero(final.seen)
            m, ms = final.mean, final.mean_slow
            groups[str(name)] = _Group(
                day=final.day,
                home=float(m[2 * n]),
                home_slow=float(ms[2 * n]),
                rho=float(final.rho),
                teams=[str(teams[i]) for i in keep],
                attack=m[keep],
                defence=m[n + keep],
                attack_slow=ms[keep],
                defence_slow=ms[n + keep],
                last=final.last[keep],
                league=[str(final.team_league[i]) for i in keep],
            )
        self._set(groups)
        return self

    def _set(self, groups: dict[str, _Group]) -> None:
        self.groups_ = groups
        self.last_match_ = date.fromisoformat(_iso(max(g.day for g in groups.values())))
        self._index = {
            team: (name, i)
            for name, g in sorted(groups.items(), key=lambda kv: kv[1].day)
            for i, team in enumerate(g.teams)
        }  # a club in two countries' filters (never, in league data): the later one

    def _check_fitted(self) -> None:
        if not hasattr(self, "groups_"):
            raise NotFittedError("this KalmanRatings is not fitted yet; call fit() first")

    def knows(self, teams: Iterable[Any]) -> np.ndarray:
        """Per team, whether the filter has followed it."""
        self._check_fitted()
        names = np.atleast_1d(np.asarray(list(teams), dtype=object))
        return np.fromiter((str(t) in self._index for t in names), bool, names.size)

    def predict(
        self, home: Iterable[Any], away: Iterable[Any], on: date | None = None
    ) -> np.ndarray:
        """``(n, 5)``: home win, draw, away win, home and away goal rate of each fixture on
        the day ``on`` (default: the day after the last match), NaN where a team is
        unknown or the two are in different groups."""
        self._check_fitted()
        home, away = [str(t) for t in home], [str(t) for t in away]
        if len(home) != len(away):
            raise InvalidInputError("home and away need one team each per fixture")
        day = int(_days([on])[0]) if on is not None else int(_days([self.last_match_])[0]) + 1
        out = np.full((len(home), 5), np.nan)
        where = [(self._index.get(h), self._index.get(a)) for h, a in zip(home, away, strict=True)]
        for name, g in self.groups_.items():
            rows = np.array(
                [i for i, (h, a) in enumerate(where) if h and a and h[0] == a[0] == name],
                dtype=np.intp,
            )
            if rows.size == 0:
                continue
            hi = np.array([where[i][0][1] for i in rows], dtype=np.intp)
            ai = np.array([where[i][1][1] for i in rows], dtype=np.intp)
            logs = g.rates(hi, ai, day, self.settings.reset)
            lam, mu = np.exp(logs[:, 0]), np.exp(logs[:, 1])
            out[rows, :3] = outcome_probabilities(lam, mu, feasible_rho(g.rho, lam, mu))
            out[rows, 3], out[rows, 4] = lam, mu
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the settings (finite ones) and each group's state by team name."""
        self._check_fitted()
        settings = {k: v for k, v in asdict(self.settings).items() if math.isfinite(v)}
        return {
            "settings": settings,
            "groups": {name: g.to_dict() for name, g in self.groups_.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KalmanRatings:
        model = cls(KalmanSettings(**data.get("settings", {})))
        model._set({str(k): _Group.from_dict(v) for k, v in data["groups"].items()})
        return model

    def __repr__(self) -> str:
        return f"KalmanRatings({self.settings!r})"
