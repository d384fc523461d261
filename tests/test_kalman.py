"""The Kalman filter of the market-implied ratings (core.kalman)."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from core.errors import NotFittedError
from core.kalman import ABSENT_DAYS, KalmanRatings, kalman_forecast, with_filter


def _round_robin(n_teams: int, n_days: int, every: int = 3) -> tuple[np.ndarray, ...]:
    """Every ``every`` days each team plays once (a shuffled pairing)."""
    rng = np.random.default_rng(0)
    days, home, away = [], [], []
    for d in range(0, n_days, every):
        perm = rng.permutation(n_teams)
        days += [d] * (n_teams // 2)
        home += perm[0::2].tolist()
        away += perm[1::2].tolist()
    return np.array(days), np.array(home), np.array(away)


def test_it_tracks_a_known_random_walk():
    rng = np.random.default_rng(1)
    day, home, away = _round_robin(10, 600)
    n = 10
    # true attack and defence walk with a variance of 3e-5 a day; home advantage 0.25
    steps = rng.normal(0.0, np.sqrt(3e-5), size=(600, 2, n))
    strength = np.cumsum(steps, axis=0) + rng.normal(0.0, 0.2, size=(1, 2, n))
    att, dfn = strength[day, 0], strength[day, 1]
    rows = np.arange(day.size)
    true_h = 0.25 + att[rows, home] - dfn[rows, away]
    true_a = att[rows, away] - dfn[rows, home]
    noise = rng.normal(0.0, np.sqrt(3e-4), size=(2, day.size))
    out = kalman_forecast(
        day, home, away, np.zeros(day.size), np.exp(true_h + noise[0]),
        np.exp(true_a + noise[1]), np.full(day.size, -0.1),
    )  # fmt: skip
    late = day >= 300
    error = np.log(out[late, 3]) - true_h[late]
    assert np.sqrt(np.mean(error**2)) < 0.05  # the teams' spread is 0.28
    assert np.sqrt(np.mean((np.log(out[late, 4]) - true_a[late]) ** 2)) < 0.05
    np.testing.assert_allclose(out[:, :3].sum(axis=1), 1.0)
    # the draw's grid takes the mean implied rho (after the first day)
    assert (out[late, 1] > 0).all()


def test_a_season_start_re_centres_on_the_slower_filter():
    """A home team that was strong for months and weak in the season's last three weeks:
    across the summer break its forecast goes back toward the long-run strength."""
    day, home, away = _round_robin(2, 300, every=1)
    strong = day < 280
    rate = np.where(strong, 2.5, 1.0)
    rate = np.where(home == 0, rate, 1.2)
    out = kalman_forecast(
        np.append(day, 340), np.append(home, 0), np.append(away, 1), np.zeros(day.size + 1),
        np.append(rate, np.nan), np.append(np.full(day.size, 1.2), np.nan),
        np.full(day.size + 1, np.nan),
    )  # fmt: skip
    before = out[np.flatnonzero(home == 0)[-1], 3]  # the last match of the season
    after = out[-1, 3]
    # no observation in between: a random walk alone would leave the mean where it was
    assert before < 1.2 and after > 1.5


def test_each_forecast_uses_only_earlier_days():
    day, home, away = _round_robin(8, 200)
    rng = np.random.default_rng(2)
    lam, mu = rng.uniform(0.8, 2.5, size=(2, day.size))
    rho = np.full(day.size, -0.1)
    out = kalman_forecast(day, home, away, np.zeros(day.size), lam, mu, rho)
    later = day >= 120
    lam2, mu2 = lam.copy(), mu.copy()
    lam2[later], mu2[later] = 6.0, 0.2
    again = kalman_forecast(day, home, away, np.zeros(day.size), lam2, mu2, rho)
    assert np.array_equal(out[day <= 120], again[day <= 120])
    assert not np.array_equal(out[day > 120], again[day > 120])


def test_days_must_not_go_backwards():
    with pytest.raises(ValueError):
        kalman_forecast([2, 1], [0, 1], [1, 0], [0, 0], [1.0, 1.0], [1.0, 1.0], [0.0, 0.0])


def _league_frame(seed: int = 3) -> pd.DataFrame:
    """Two countries, two seasons each with a summer break, and a club of each that misses
    a whole season and comes back: implied rates drawn around fixed strengths."""
    rng = np.random.default_rng(seed)
    rows = []
    for country, league, clubs in (("England", "E0", 8), ("Spain", "SP1", 6)):
        names = [f"{league}-{i}" for i in range(clubs)]
        strength = rng.normal(0.0, 0.3, size=clubs)
        for season, start in enumerate((0, 365, 730)):
            playing = names[:-1] if season == 1 else names  # the last club sits out 2nd season
            for d in range(start, start + 240, 7):
                perm = rng.permutation(len(playing))
                for h, a in zip(perm[0::2], perm[1::2], strict=False):
                    i, j = names.index(playing[h]), names.index(playing[a])
                    gap = strength[i] - strength[j]
                    rows.append(
                        {
                            "date": pd.Timestamp("2020-08-01") + pd.Timedelta(days=d),
                            "home_team": playing[h],
                            "away_team": playing[a],
                            "country": country,
                            "league": league,
                            "lam": float(np.exp(0.3 + gap + rng.normal(0, 0.05))),
                            "mu": float(np.exp(-gap + rng.normal(0, 0.05))),
                            "rho": float(rng.normal(-0.1, 0.02)),
                        }
                    )
    return pd.DataFrame(rows).sort_values("date", kind="stable").reset_index(drop=True)


def _walk_forward(frame: pd.DataFrame) -> np.ndarray:
    """The walk-forward's forecast of every row (one filter per country, as core.forecast)."""
    out = np.full((len(frame), 5), np.nan)
    for _, g in frame.groupby("country"):
        codes, _ = pd.factorize(np.concatenate([g["home_team"], g["away_team"]]))
        day = g["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
        out[g.index] = kalman_forecast(
            day, codes[: len(g)], codes[len(g) :], g["league"].to_numpy(),
            g["lam"].to_numpy(), g["mu"].to_numpy(), g["rho"].to_numpy(),
        )  # fmt: skip
    return out


def _fitted(frame: pd.DataFrame) -> KalmanRatings:
    return KalmanRatings().fit(frame, frame["lam"], frame["mu"], frame["rho"])


# days in a season, and season starts (at 730 a club comes back after a season away)
@pytest.mark.parametrize("day", [49, 365, 407, 730, 800])
def test_a_fitted_filter_forecasts_a_later_day_as_the_walk_forward_does(day):
    frame = _league_frame()
    expected = _walk_forward(frame)
    on = pd.Timestamp("2020-08-01") + pd.Timedelta(days=day)
    before = frame[frame["date"] < on]
    rows = np.flatnonzero(frame["date"] == on)
    assert rows.size
    got = _fitted(before).predict(frame["home_team"][rows], frame["away_team"][rows], on.date())
    np.testing.assert_allclose(got, expected[rows], rtol=1e-12, atol=1e-15)


def test_the_returning_club_starts_from_its_leagues_weakest():
    frame = _league_frame()
    on = pd.Timestamp("2020-08-01") + pd.Timedelta(days=730)
    model = _fitted(frame[frame["date"] < on])
    # E0-7 sat out the second season: back after more than ABSENT_DAYS, it is a newcomer
    back = model.predict(["E0-7"], ["E0-0"], on.date())
    kept = KalmanRatings.from_dict(model.to_dict())
    group = kept.groups_["England"]
    assert (
        on.date().toordinal()
        - date.fromisoformat(group.to_dict()["teams"]["E0-7"]["last_match"]).toordinal()
        > ABSENT_DAYS
    )
    np.testing.assert_array_equal(kept.predict(["E0-7"], ["E0-0"], on.date()), back)


def test_it_round_trips_through_json():
    frame = _league_frame()
    model = _fitted(frame)
    again = KalmanRatings.from_dict(json.loads(json.dumps(model.to_dict())))
    home, away = ["E0-1", "SP1-2", "E0-3"], ["E0-2", "SP1-0", "SP1-1"]
    np.testing.assert_array_equal(again.predict(home, away), model.predict(home, away))
    assert again.last_match_ == model.last_match_ == frame["date"].iloc[-1].date()


def test_unknown_teams_and_other_countries_get_no_forecast():
    model = _fitted(_league_frame())
    out = model.predict(["E0-1", "E0-1", "Nobody"], ["E0-2", "SP1-0", "E0-2"])
    assert np.isfinite(out[0]).all()
    assert np.isnan(out[1:]).all()
    assert model.knows(["E0-1", "Nobody"]).tolist() == [True, False]


def test_it_must_be_fitted_first():
    with pytest.raises(NotFittedError):
        KalmanRatings().predict(["a"], ["b"])


def test_with_filter_is_the_renormalised_geometric_mean_where_both_exist():
    ratings = np.array([[0.5, 0.3, 0.2, 1.5, 1.0], [0.4, 0.3, 0.3, 1.2, 1.1]])
    filtered = np.array([[0.4, 0.3, 0.3, 1.2, 1.1], [np.nan] * 5])
    out = with_filter(ratings, filtered)
    geo = np.sqrt(ratings[0] * filtered[0])
    np.testing.assert_allclose(out[0, :3], geo[:3] / geo[:3].sum())
    np.testing.assert_allclose(out[0, 3:], geo[3:])
    np.testing.assert_array_equal(out[1], ratings[1])


def test_long_after_its_data_a_model_keeps_every_club_that_played_to_the_end():
    """A stored model asked a year later: every club's last match is over ABSENT_DAYS ago,
    but only a club that was already gone when the data ended starts from the weakest."""
    frame = _league_frame()
    england = frame[frame["country"] == "England"]
    last = england["date"].iloc[-1].date()  # the English clubs' last day
    extra = england.iloc[[-1]].assign(
        date=pd.Timestamp(last) + pd.Timedelta(days=10), home_team="E0-0", away_team="E0-1"
    )  # a postponed match, ten days after everyone else's last
    model = _fitted(pd.concat([frame, extra], ignore_index=True))
    home, away = ["E0-2", "E0-4", "E0-6"], ["E0-3", "E0-5", "E0-7"]
    soon = model.predict(home, away, last + pd.Timedelta(days=100))
    late = model.predict(home, away, last + pd.Timedelta(days=205))  # only E0-0, E0-1 recent
    assert len({tuple(row) for row in late.round(12)}) == 3  # three different fixtures
    np.testing.assert_array_equal(late, soon)  # both after the break: the same state
