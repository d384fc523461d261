"""Experiment (issue 21, round 2): market-implied ratings as a Kalman filter instead of
exponentially decayed weights.

Each country's teams have an attack and a defence that follow a random walk (variance
``q`` per day, plus ``s`` at a season start, the first match after a break of more than
30 days), and a common home advantage (variance ``qh`` per day).  Every past match whose
closing (else pre-match) prices invert to goal rates (:func:`core.market_model.market_rates_rho`)
is an observation ``log lambda = home + attack_i - defence_j``, ``log mu = attack_j -
defence_i`` with noise variance ``r``.  A new team, or one back after more than 200 days,
starts at the mean of the three weakest teams of its league with variance ``v0``.  A
match is forecast from the state before its day (matches of the same day never see each
other's prices), on a grid with the exponentially weighted mean (0.04/day) of past matches'
implied rho.

Scored against a saved ``fpe backtest --predictions`` file (matched on date and teams):
the filter alone, the market-implied ratings alone and their geometric mean, minus the
pre-match market (RPS), by season phase.  Not part of the engine; see docs/quality.md.

    FPE_SHARED_DATA=../shared/data .venv/bin/python -m benchmarks.kalman_ratings \
        out.csv r=0.0003 q=3e-5
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from benchmarks._common import load_football_data
from core import metrics
from core.market_model import market_rates_rho
from core.markets import feasible_rho, outcome_probabilities

DEFAULTS = {"q": 3e-5, "r": 3e-4, "s": 0.01, "v0": 0.05, "qh": 1e-6, "rho_xi": 0.04}
ABSENT_DAYS = 200


def _country(g: pd.DataFrame, p: dict[str, float]) -> pd.DataFrame:
    g = g.sort_values("date", kind="stable")
    teams = pd.unique(np.concatenate([g["home_team"].to_numpy(), g["away_team"].to_numpy()]))
    code = {t: i for i, t in enumerate(teams)}
    n = len(teams)
    m = np.zeros(2 * n + 1)
    cov = np.eye(2 * n + 1) * p["v0"]
    m[n : 2 * n] = -np.log(1.3)
    m[2 * n], cov[2 * n, 2 * n] = 0.2, 0.1
    day = g["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    hi = g["home_team"].map(code).to_numpy()
    ai = g["away_team"].map(code).to_numpy()
    league = g["league"].to_numpy()
    y_home, y_away, row_rho = np.log(g["lam"].to_numpy()), np.log(g["mu"].to_numpy()), g["rr"]
    row_rho = row_rho.to_numpy()
    last = np.full(n, -(10**9))
    seen = np.zeros(n, dtype=bool)
    team_league = np.array([""] * n, dtype=object)
    out = np.full((len(g), 3), np.nan)
    rho_num = rho_den = 0.0
    rho_day = prev = day[0]
    days, first = np.unique(day, return_index=True)
    bounds = np.append(first, len(day))
    diag = np.arange(2 * n)
    for k, d in enumerate(days):
        if d > prev:
            cov[diag, diag] += p["q"] * (d - prev) + (p["s"] if d - prev > 30 else 0.0)
            cov[2 * n, 2 * n] += p["qh"] * (d - prev)
            prev = d
        rows = np.arange(bounds[k], bounds[k + 1])
        for t in np.unique(np.concatenate([hi[rows], ai[rows]])):
            if (not seen[t] and d > day[0] + 90) or (seen[t] and d - last[t] > ABSENT_DAYS):
                lg = league[rows][(hi[rows] == t) | (ai[rows] == t)][0]
                pool = np.flatnonzero(seen & (team_league == lg) & (d - last <= ABSENT_DAYS))
                pool = pool[pool != t]
                if pool.size:
                    weakest = pool[np.argsort(m[pool] + m[n + pool])[:3]]
                    m[t], m[n + t] = m[weakest].mean(), m[n + weakest].mean()
                for j in (t, n + t):
                    cov[j, :] = cov[:, j] = 0.0
                    cov[j, j] = p["v0"]
        rho = rho_num / rho_den if rho_den > 0 else 0.0
        out[rows, 0] = m[2 * n] + m[hi[rows]] - m[n + ai[rows]]
        out[rows, 1] = m[ai[rows]] - m[n + hi[rows]]
        out[rows, 2] = rho
        for i in rows:
            seen[[hi[i], ai[i]]] = True
            last[[hi[i], ai[i]]] = d
            team_league[[hi[i], ai[i]]] = league[i]
            if not (np.isfinite(y_home[i]) and np.isfinite(y_away[i])):
                continue
            for idx, sign, y in (
                (np.array([2 * n, hi[i], n + ai[i]]), np.array([1.0, 1.0, -1.0]), y_home[i]),
                (np.array([ai[i], n + hi[i]]), np.array([1.0, -1.0]), y_away[i]),
            ):
                ph = cov[:, idx] @ sign
                gain = ph / (sign @ ph[idx] + p["r"])
                m += gain * (y - sign @ m[idx])
                cov -= np.outer(gain, ph)
            if np.isfinite(row_rho[i]):
                fade = np.exp(-p["rho_xi"] * (d - rho_day))
                rho_num, rho_den, rho_day = rho_num * fade + row_rho[i], rho_den * fade + 1, d
    return pd.DataFrame(out, index=g.index, columns=["k_log_home", "k_log_away", "k_rho"])


def _rps(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    c = np.cumsum(p, axis=1)[:, :2]
    o = np.cumsum(np.eye(3)[y], axis=1)[:, :2]
    return ((c - o) ** 2).sum(axis=1) / 2


def main() -> None:
    predictions = pd.read_csv(sys.argv[1], parse_dates=["date"])
    p = DEFAULTS | {k: float(v) for k, v in (a.split("=") for a in sys.argv[2:])}
    frame = load_football_data()
    lam, mu, rho, _ = market_rates_rho(frame)
    frame = frame.assign(lam=lam, mu=mu, rr=rho)
    kf = pd.concat(_country(g, p) for _, g in frame.groupby("country"))
    frame = frame.join(kf)
    j = predictions.merge(
        frame[["date", "home_team", "away_team", "k_log_home", "k_log_away", "k_rho"]],
        on=["date", "home_team", "away_team"],
    ).dropna(subset=["market_home", "k_log_home"])
    lh, la = np.exp(j["k_log_home"].to_numpy()), np.exp(j["k_log_away"].to_numpy())
    pk = np.vstack([
        outcome_probabilities(lh[i : i + 1], la[i : i + 1],
                              feasible_rho(r, lh[i : i + 1], la[i : i + 1]))
        for i, r in enumerate(j["k_rho"].to_numpy())
    ])  # fmt: skip
    y = metrics.encode_outcomes(j["result"].to_numpy())
    market = _rps(j[["market_home", "market_draw", "market_away"]].to_numpy(), y)
    mi = j[["market_implied_home", "market_implied_draw", "market_implied_away"]].to_numpy()
    geo = np.sqrt(pk * mi)
    geo /= geo.sum(axis=1, keepdims=True)
    start = j.groupby(["league", (j["date"] - pd.Timedelta(days=200)).dt.year])["date"]
    week = ((j["date"] - start.transform("min")).dt.days // 7).to_numpy()
    print(p, f"n={len(j)}")
    for name, q in (("kalman", pk), ("market-implied", mi), ("geometric mean", geo)):
        d = _rps(q, y) - market
        late = (j["date"] >= "2019-07-01").to_numpy()
        phases = "  ".join(
            f"wk {a}-{b - 1} {d[(week >= a) & (week < b)].mean():+.5f}"
            for a, b in ((0, 3), (3, 6), (6, 12), (12, 99))
        )
        print(f"{name:15} {d.mean():+.5f} ({d.std() / np.sqrt(d.size):.5f})  from 2019/20 "
              f"{d[late].mean():+.5f}  to 2018/19 {d[~late].mean():+.5f}  {phases}")  # fmt: skip
    d = _rps(geo, y) - _rps(mi, y)
    print(f"geometric mean - market-implied {d.mean():+.5f} ({d.std() / np.sqrt(d.size):.5f})")


if __name__ == "__main__":
    main()
