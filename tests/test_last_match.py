"""The last match's shots on target (core.last_match): what the market's ratings cannot know
yet, as a pool component."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.errors import NotFittedError
from core.last_match import SCALE, LastMatchShots, component, last_match_shots


def _frame(rows: list[tuple[str, str, str, float | None, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "date": pd.Timestamp(d),
                "home_team": h,
                "away_team": a,
                "home_shots_on_target": hs,
                "away_shots_on_target": as_,
            }
            for d, h, a, hs, as_ in rows
        ]
    ).astype({"home_shots_on_target": "Float64", "away_shots_on_target": "Float64"})


GAMES = [
    ("2024-08-10", "A", "B", 7, 2),  # A +5, B -5
    ("2024-08-10", "C", "D", 1, 4),  # C -3, D +3
    ("2024-08-17", "B", "C", 3, 3),  # B: -5 before; C: -3 before
    ("2024-08-17", "D", "A", None, None),  # D +3, A +5 before; no shots: counts 0 after
    ("2024-08-24", "A", "C", 2, 6),  # A 0 (no shots last time), C 0
]


def test_each_match_sees_each_team_s_previous_match_only():
    x = last_match_shots(_frame(GAMES))
    assert x is not None
    np.testing.assert_allclose(x / SCALE, [0, 0, -5 - -3, 3 - 5, 0 - 0])


def test_a_later_day_changes_no_earlier_value():
    changed = [*GAMES[:4], ("2024-08-24", "A", "C", 20, 0)]
    before = last_match_shots(_frame(GAMES))
    after = last_match_shots(_frame(changed))
    assert before is not None and after is not None
    np.testing.assert_array_equal(before, after)
    again = [*GAMES, ("2024-08-31", "C", "A", 0, 0)]
    x = last_match_shots(_frame(again))
    y = last_match_shots(_frame([*changed, ("2024-08-31", "C", "A", 0, 0)]))
    assert x is not None and y is not None and x[-1] != y[-1]


def test_without_shots_there_is_no_component():
    frame = _frame(GAMES).drop(columns=["away_shots_on_target"])
    assert last_match_shots(frame) is None
    empty = _frame([(d, h, a, None, None) for d, h, a, _, _ in GAMES])
    assert last_match_shots(empty) is None


def test_the_component_is_a_1x2_tilted_by_x():
    p = component([0.0, 0.2, -0.2, 50.0])
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[0], [1 / 3] * 3)
    assert p[1, 0] / p[1, 2] == pytest.approx(np.exp(0.4))
    np.testing.assert_allclose(p[2], p[1][::-1])
    assert np.isfinite(p[3]).all()


def test_a_fitted_model_forecasts_the_next_day_as_the_walk_forward_does():
    frame = _frame(GAMES)
    next_day = [*GAMES, ("2024-08-31", "C", "B", 0, 0), ("2024-08-31", "D", "A", 0, 0)]
    expected = last_match_shots(_frame(next_day))
    assert expected is not None
    model = LastMatchShots().fit(frame)
    kept = LastMatchShots.from_dict(json.loads(json.dumps(model.to_dict())))
    np.testing.assert_array_equal(kept.predict(["C", "D"], ["B", "A"]), expected[-2:])
    assert kept.last_match_["A"].isoformat() == "2024-08-24"
    # a team the model has not seen counts 0
    assert kept.predict(["Z"], ["A"])[0] == pytest.approx(-SCALE * (2 - 6))
    with pytest.raises(NotFittedError):
        LastMatchShots().predict(["A"], ["B"])


def test_a_model_fitted_on_matches_without_shots_counts_0():
    """A database's older seasons may have no shots while its newer ones do: the stored
    model of the older part alone is all zeros, as the walk-forward counts them."""
    empty = _frame([(d, h, a, None, None) for d, h, a, _, _ in GAMES])
    model = LastMatchShots().fit(empty)
    assert set(model.last_.values()) == {0.0}
    np.testing.assert_array_equal(model.predict(["A", "B"], ["C", "D"]), [0.0, 0.0])
    assert LastMatchShots().fit(empty.drop(columns=["home_shots_on_target"])).last_["A"] == 0
    assert LastMatchShots().fit(empty.iloc[:0]).last_ == {}
