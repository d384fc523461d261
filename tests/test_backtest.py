"""Walk-forward evaluation: out-of-sample by construction, new teams, real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.backtest import walk_forward
from core.errors import InvalidInputError


@pytest.fixture
def league(make_matches):
    return make_matches(n_teams=8, seasons=3, seed=31)


def test_every_prediction_comes_from_a_fit_on_earlier_matches_only(league):
    result = walk_forward(league, refit_days=14, burn_in_days=60)
    dates = league.loc[result.index, "date"]
    assert (result["refit_date"] <= dates).all()
    assert (dates < result["refit_date"] + pd.Timedelta(days=14)).all()
    for refit, n_train in result.groupby("refit_date")["n_train"].first().items():
        assert n_train == (league["date"] < refit).sum()
    np.testing.assert_allclose(result[["p_home", "p_draw", "p_away"]].sum(axis=1), 1.0)


def test_changing_a_result_only_changes_later_predictions(league):
    base = walk_forward(league, refit_days=7, burn_in_days=60)
    changed = league.copy()
    row = base.index[len(base) // 2]
    changed.loc[row, ["home_goals", "away_goals"]] = [7, 0]
    after = walk_forward(changed, refit_days=7, burn_in_days=60)
    cutoff = base.loc[row, "refit_date"]
    earlier = base["refit_date"] <= cutoff
    pd.testing.assert_frame_equal(base[earlier], after[earlier])
    assert not np.allclose(base.loc[~earlier, "p_home"], after.loc[~earlier, "p_home"])


def test_a_team_never_seen_before_gets_the_promoted_prior(league):
    strength = np.add(league.attrs["attack"], league.attrs["defence"])
    best = league.attrs["teams"][int(np.argmax(strength))]
    late = league[league.date >= league.date.iloc[100]].copy()
    # the strongest team gets a new name: with no history it must start from the prior
    late["home_team"] = late["home_team"].replace(best, "Newcomer")
    late["away_team"] = late["away_team"].replace(best, "Newcomer")
    frame = pd.concat([league.iloc[:100], late])
    result = walk_forward(frame, burn_in_days=60)
    first = frame.index[(frame.home_team == "Newcomer") | (frame.away_team == "Newcomer")][0]
    assert first in result.index
    row = result.loc[first]
    assert np.isfinite(row[["p_home", "p_draw", "p_away"]].astype(float)).all()
    # predicted as weak: below-average strength means a low win chance for it
    newcomer_home = frame.loc[first, "home_team"] == "Newcomer"
    win = row["p_home"] if newcomer_home else row["p_away"]
    lose = row["p_away"] if newcomer_home else row["p_home"]
    assert win < lose


def test_a_team_back_after_longer_than_the_window_starts_as_a_newcomer(league):
    """With a training window, a team away for longer than it has nothing left to fit: it
    starts from the promoted prior (weak), not as an average team."""
    strength = np.add(league.attrs["attack"], league.attrs["defence"])
    best = league.attrs["teams"][int(np.argmax(strength))]
    plays = (league.home_team == best) | (league.away_team == best)
    season = np.arange(len(league)) // 56
    frame = league[~(plays & (season == 1))]
    result = walk_forward(frame, burn_in_days=60, window_days=40)
    back = frame.index[plays[frame.index] & (season[frame.index] == 2)][0]
    # the same club under a name never seen before: the promoted prior by definition
    renamed = frame.copy()
    later = season[frame.index] == 2
    for side in ("home_team", "away_team"):
        renamed.loc[later, side] = renamed.loc[later, side].replace(best, "Fresh")
    fresh = walk_forward(renamed, burn_in_days=60, window_days=40)
    cols = ["p_home", "p_draw", "p_away"]
    np.testing.assert_allclose(result.loc[back, cols], fresh.loc[back, cols], atol=1e-6)


def test_season_carry_weighs_earlier_seasons_less_once_a_season_has_begun(league):
    """A break of more than 30 days starts a season; the earlier seasons' weight only
    changes forecasts made after the new season's first block."""
    frame = league.copy()
    second = np.arange(len(frame)) >= 56
    frame.loc[second, "date"] += pd.Timedelta(days=60)
    plain = walk_forward(frame, burn_in_days=30, xi=0.0)
    carry = walk_forward(frame, burn_in_days=30, xi=0.0, season_carry=0.3)
    new_season = frame.loc[second, "date"].min()
    early = plain["refit_date"] <= new_season
    assert early.sum() > 0
    pd.testing.assert_frame_equal(plain[early], carry[early], check_exact=True)
    late = plain["refit_date"] > new_season + pd.Timedelta(days=7)
    assert not np.allclose(plain.loc[late, "p_home"], carry.loc[late, "p_home"])


def test_season_start_decay_changes_only_the_first_blocks_of_a_season(league):
    frame = league.copy()
    second = np.arange(len(frame)) >= 56
    frame.loc[second, "date"] += pd.Timedelta(days=60)
    plain = walk_forward(frame, burn_in_days=30, xi=0.04)
    same = walk_forward(frame, burn_in_days=30, xi=0.04, season_decay=((0, 0.04), (14, None)))
    pd.testing.assert_frame_equal(plain, same)  # the same weights, but for rounding
    slow = walk_forward(frame, burn_in_days=30, xi=0.04, season_decay=((0, 0.001), (14, None)))
    begins = frame.loc[second, "date"].min()
    early = (plain["refit_date"] > begins - pd.Timedelta(days=7)) & (
        plain["refit_date"] < begins + pd.Timedelta(days=14)
    )
    assert early.sum() > 0
    before = plain["refit_date"] <= begins - pd.Timedelta(days=7)
    pd.testing.assert_frame_equal(plain[before], slow[before], check_exact=True)
    # later blocks: the same fit, warm-started elsewhere (equal to the solver's tolerance)
    pd.testing.assert_frame_equal(plain[~early & ~before], slow[~early & ~before])
    assert not np.allclose(plain.loc[early, "p_home"], slow.loc[early, "p_home"])
    # the block that holds the season's first match (its refit day comes before it) too
    holds = (plain["refit_date"] < begins) & (plain["refit_date"] > begins - pd.Timedelta(days=7))
    assert holds.sum() > 0
    assert not np.allclose(plain.loc[holds, "p_home"], slow.loc[holds, "p_home"])


def test_window_limits_the_training_set(league):
    result = walk_forward(league, window_days=100, burn_in_days=150)
    assert result["n_train"].max() <= 100


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"refit_days": 0}, "refit_days"),
        ({"window_days": 0}, "window_days"),
        ({"xi": -1.0}, "xi"),
        ({"start": "not a date"}, "start"),
    ],
)
def test_bad_arguments(league, kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        walk_forward(league, **kwargs)


def test_missing_columns_and_empty_input(league):
    with pytest.raises(InvalidInputError, match="date"):
        walk_forward(league.drop(columns="date"))
    with pytest.raises(InvalidInputError, match="no matches"):
        walk_forward(league.iloc[:0])
    with pytest.raises(InvalidInputError, match="start date"):
        walk_forward(league, start="2099-01-01")


def test_the_newcomers_prior_learns_from_the_leagues_earlier_newcomers(make_matches):
    """Each season the strongest club comes back under a new name, as clubs relegated into
    a second division whose top flight is not in the data: the first newcomer starts from
    the weakest three exactly, later ones from above them, having learnt from the first."""
    league = make_matches(n_teams=10, seasons=4, seed=5)
    strength = np.add(league.attrs["attack"], league.attrs["defence"])
    best = league.attrs["teams"][int(np.argmax(strength))]
    season = np.arange(len(league)) // 90
    frame = league.copy()
    for side in ("home_team", "away_team"):
        renamed = [
            f"New{s}" if t == best and s else t for t, s in zip(frame[side], season, strict=True)
        ]
        frame[side] = renamed
    kw = dict(burn_in_days=30, newcomer_days=60)
    learned = walk_forward(frame, **kw)
    old = walk_forward(frame, newcomer_shrink=np.inf, **kw)  # nothing learnt: the old rule

    def first(name: str) -> tuple[int, str]:
        row = frame.index[(frame.home_team == name) | (frame.away_team == name)][0]
        return row, "p_home" if frame.loc[row, "home_team"] == name else "p_away"

    row, _ = first("New1")  # no newcomer measured before it: bit-identical
    before = learned.index[frame.loc[learned.index, "date"] <= frame.loc[row, "date"]]
    pd.testing.assert_frame_equal(learned.loc[before], old.loc[before])
    for name in ("New2", "New3"):
        row, win = first(name)
        assert learned.loc[row, win] > old.loc[row, win] + 0.02
