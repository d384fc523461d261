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

Fourth pass: the filter can enter a season from a longer-memory estimate.  With ``qs > 0``
a second, slower filter (random walks of variance ``qs`` a day for the teams, ``qhs`` for
the home advantage) runs on the same observations; at a season start the filter's mean
becomes ``reset`` times the slower one's plus ``1 - reset`` times its own, and with
``recov=1`` its covariance likewise.  ``gap`` caps the days of random walk counted over
a break (the summer).  Besides the equal-weight geometric mean with the market-implied
ratings, two combinations whose weights are not read off the scored matches: one
geometric weight per season phase (weeks 0-2, 3-5, 6-11, 12+) fitted on the earlier
seasons' matches of that phase only ("walk-forward"; "walk-forward 1": one weight for
all phases), and the ratings alone in a season's first 14 days (the engine's slow start
decay), the equal-weight mean after ("start rule").

Scored against a saved ``fpe backtest --predictions`` file (matched on date and teams):
the filter alone, the market-implied ratings alone and the combinations, minus the
pre-match market (RPS), by season phase.  The filter is the engine's (core.kalman), run
with the settings given here; the fourth pass's best is its ``ENGINE``.  See
docs/quality.md.

    FPE_SHARED_DATA=../shared/data .venv/bin/python -m benchmarks.kalman_ratings \
        out.csv r=0.0003 q=3e-5 [qs=1e-7 qhs=3.3e-9 reset=1 recov=0 s=0]
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from benchmarks._common import load_football_data
from core import metrics
from core.kalman import KalmanSettings, kalman_rates
from core.market_model import market_rates_rho
from core.markets import feasible_rho, outcome_probabilities

DEFAULTS = {
    "q": 3e-5,
    "r": 3e-4,
    "s": 0.01,
    "v0": 0.05,
    "qh": 1e-6,
    "rho_xi": 0.04,
    "qs": 0.0,
    "reset": 0.0,
    "gap": 1e9,
    "qhs": -1.0,
    "recov": 1.0,
}


def _country(g: pd.DataFrame, p: dict[str, float]) -> pd.DataFrame:
    """The filter (core.kalman) on one country's matches with the settings ``p``."""
    g = g.sort_values("date", kind="stable")
    codes, _ = pd.factorize(np.concatenate([g["home_team"].to_numpy(), g["away_team"].to_numpy()]))
    slow = p["qs"] > 0  # without a slower filter, nothing is taken at a season start
    settings = KalmanSettings(
        r=p["r"],
        q=p["q"],
        qh=p["qh"],
        q_slow=p["qs"],
        qh_slow=p["qhs"] if p["qhs"] >= 0 else p["qh"],
        v0=p["v0"],
        rho_xi=p["rho_xi"],
        reset=p["reset"] if slow else 0.0,
        reset_cov=p["reset"] if slow and p["recov"] > 0 else 0.0,
        season_variance=p["s"],
        gap_days=p["gap"],
    )
    rates = kalman_rates(
        g["date"].to_numpy().astype("datetime64[D]").astype(np.int64),
        codes[: len(g)],
        codes[len(g) :],
        g["league"].to_numpy(),
        g["lam"].to_numpy(),
        g["mu"].to_numpy(),
        g["rr"].to_numpy(),
        settings,
    )
    return pd.DataFrame(rates, index=g.index, columns=["k_log_home", "k_log_away", "k_rho"])


def _rps(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    c = np.cumsum(p, axis=1)[:, :2]
    o = np.cumsum(np.eye(3)[y], axis=1)[:, :2]
    return ((c - o) ** 2).sum(axis=1) / 2


PHASES = np.array([0, 3, 6, 12])
GRID = np.linspace(-0.5, 1.5, 41)


def _pool(pk: np.ndarray, mi: np.ndarray, w: float) -> np.ndarray:
    q = np.exp(w * np.log(pk) + (1 - w) * np.log(mi))
    return q / q.sum(axis=1, keepdims=True)


def _walk_forward(
    pk: np.ndarray, mi: np.ndarray, y: np.ndarray, season: np.ndarray, phase: np.ndarray
) -> np.ndarray:
    """The geometric pool ``pk^w * mi^(1 - w)`` with one ``w`` per season phase (weeks
    0-2, 3-5, 6-11, 12+), each season's fitted (least RPS on a grid) on the earlier
    seasons' matches of that phase only; 0.5 in the first season."""
    out = np.empty_like(pk)
    for s in np.unique(season):
        ws = []
        for b in np.unique(phase):
            rows = (season == s) & (phase == b)
            past = (season < s) & (phase == b)
            w = 0.5
            if past.any():
                w = GRID[
                    np.argmin([_rps(_pool(pk[past], mi[past], v), y[past]).mean() for v in GRID])
                ]
            ws.append(round(float(w), 2))
            out[rows] = _pool(pk[rows], mi[rows], w)
        print(f"season {s}/{(s + 1) % 100:02d} weights by phase {ws}")
    return out


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
    # the market-implied ratings alone: ``ratings_*`` since the engine's market-implied
    # component includes the filter (core.kalman), ``market_implied_*`` in earlier files
    cols = "ratings" if "ratings_home" in j else "market_implied"
    mi = j[[f"{cols}_home", f"{cols}_draw", f"{cols}_away"]].to_numpy()
    geo = np.sqrt(pk * mi)
    geo /= geo.sum(axis=1, keepdims=True)
    start = j.groupby(["league", (j["date"] - pd.Timedelta(days=200)).dt.year])["date"]
    week = ((j["date"] - start.transform("min")).dt.days // 7).to_numpy()
    # the ratings alone in a season's first 14 days (the engine's slow start decay), the
    # equal-weight geometric mean after
    early = ((j["date"] - start.transform("min")).dt.days < 14).to_numpy()
    ruled = np.where(early[:, None], mi, geo)
    season = (j["date"] - pd.Timedelta(days=200)).dt.year.to_numpy()
    wf = _walk_forward(pk, mi, y, season, np.searchsorted(PHASES, week, side="right") - 1)
    wf1 = _walk_forward(pk, mi, y, season, np.zeros(len(j), dtype=int))
    print(p, f"n={len(j)}")
    for name, q in (
        ("kalman", pk),
        ("market-implied", mi),
        ("geometric mean", geo),
        ("walk-forward", wf),
        ("walk-forward 1", wf1),
        ("start rule", ruled),
    ):
        d = _rps(q, y) - market
        late = (j["date"] >= "2019-07-01").to_numpy()
        phases = "  ".join(
            f"wk {a}-{b - 1} {d[(week >= a) & (week < b)].mean():+.5f}"
            for a, b in ((0, 3), (3, 6), (6, 12), (12, 99))
        )
        print(f"{name:15} {d.mean():+.5f} ({d.std() / np.sqrt(d.size):.5f})  from 2019/20 "
              f"{d[late].mean():+.5f}  to 2018/19 {d[~late].mean():+.5f}  {phases}")  # fmt: skip
    for name, q in (
        ("geometric mean", geo),
        ("walk-forward", wf),
        ("walk-forward 1", wf1),
        ("start rule", ruled),
    ):
        d = _rps(q, y) - _rps(mi, y)
        print(f"{name} - market-implied {d.mean():+.5f} ({d.std() / np.sqrt(d.size):.5f})")


if __name__ == "__main__":
    main()
