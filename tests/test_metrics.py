"""Forecast scores against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from core import metrics
from core.errors import InvalidInputError

P = np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [1 / 3, 1 / 3, 1 / 3]])
Y = np.array([0, 1, 2])


def test_rps_by_hand():
    # match 1: cum diffs (0.5-1, 0.8-1) -> (0.25 + 0.04)/2
    # match 2: (0.2, 0.5-1) -> (0.04 + 0.25)/2 ; match 3: (1/3, 2/3) -> (1/9 + 4/9)/2
    expected = [0.145, 0.145, 5 / 18]
    np.testing.assert_allclose(metrics.rps_per_match(P, Y), expected)
    assert metrics.rps(P, ["H", "D", "A"]) == pytest.approx(np.mean(expected))
    assert metrics.rps([[1, 0, 0]], [0]) == 0.0
    assert metrics.rps([[0, 0, 1]], [0]) == 1.0


def test_log_loss_brier_accuracy_by_hand():
    assert metrics.log_loss(P, Y) == pytest.approx(-(np.log(0.5) + np.log(0.3) + np.log(1 / 3)) / 3)
    brier = [(0.5**2 + 0.3**2 + 0.2**2), (0.2**2 + 0.7**2 + 0.5**2), (4 / 9 + 1 / 9 + 1 / 9)]
    assert metrics.brier(P, Y) == pytest.approx(np.mean(brier))
    assert metrics.brier([[0, 0, 1]], [0]) == 2.0
    assert metrics.accuracy(P, Y) == pytest.approx(1 / 3)  # the tie picks home: wrong
    assert metrics.log_loss([[0.0, 0.5, 0.5]], [0]) == pytest.approx(-np.log(1e-15))


def test_draw_accuracy_is_recall_of_draws():
    probs = [[0.3, 0.4, 0.3], [0.5, 0.3, 0.2], [0.3, 0.4, 0.3]]
    assert metrics.draw_accuracy(probs, [1, 1, 0]) == 0.5
    assert metrics.draw_accuracy(probs, [0, 0, 2]) is None


def test_summary_has_every_score():
    s = metrics.summary(P, Y)
    assert set(s) == {"n", "rps", "log_loss", "brier", "accuracy", "draw_accuracy"}
    assert s["n"] == 3


def test_rps_difference_is_paired_with_its_standard_error():
    uniform = np.full((3, 3), 1 / 3)
    diff, se = metrics.rps_difference(P, uniform, Y)
    d = metrics.rps_per_match(P, Y) - metrics.rps_per_match(uniform, Y)  # -0.133, +0.034, 0
    assert diff == pytest.approx(d.mean()) and diff < 0
    assert se == pytest.approx(d.std(ddof=1) / np.sqrt(3)) and se > 0
    assert metrics.rps_difference(P[:1], uniform[:1], Y[:1])[1] is None  # one match: no SE
    assert metrics.scores(P, Y) == {k: v for k, v in metrics.summary(P, Y).items() if k != "n"}


@pytest.mark.parametrize(
    ("probs", "outcomes", "message"),
    [
        ([[0.5, 0.5]], [0], "shape"),
        (P, [0, 1], "3 forecasts but 2 outcomes"),
        (P, ["H", "D", "X"], "unknown result 'X'"),
        (P, [0, 1, 3], "0 \\(home\\), 1 \\(draw\\) or 2"),
        ([[np.nan, 0.5, 0.5]], [0], "NaN"),
        (np.zeros((0, 3)), [], "no forecasts"),
    ],
)
def test_bad_input(probs, outcomes, message):
    with pytest.raises(InvalidInputError, match=message):
        metrics.summary(probs, outcomes)
