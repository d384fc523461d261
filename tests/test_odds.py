"""Margin removal and the market baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInputError
from core.odds import implied_probabilities, market_probabilities, overround

ODDS = np.array([[1.5, 4.2, 7.0], [2.9, 3.3, 2.6], [1.1, 9.0, 21.0]])


@pytest.mark.parametrize("method", ["multiplicative", "power", "shin"])
def test_probabilities_sum_to_one_and_keep_the_order(method):
    p = implied_probabilities(ODDS, method)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    assert (np.argsort(p, axis=1) == np.argsort(-ODDS, axis=1)).all()


def test_methods_by_hand():
    q = 1 / ODDS[0]
    np.testing.assert_allclose(implied_probabilities(ODDS[:1])[0], q / q.sum())
    power = implied_probabilities(ODDS[:1], "power")[0]
    k = np.log(power[0]) / np.log(q[0])
    np.testing.assert_allclose(power, q**k, rtol=1e-10)
    # Shin and power both shade the longshot more than multiplicative does
    for method in ("power", "shin"):
        assert implied_probabilities(ODDS[:1], method)[0, 2] < (q / q.sum())[2]
    assert overround(ODDS[:1])[0] == pytest.approx(q.sum() - 1)


def test_fair_book_is_unchanged():
    fair = 1 / np.array([[0.5, 0.3, 0.2]])
    for method in ("multiplicative", "power", "shin"):
        np.testing.assert_allclose(implied_probabilities(fair, method), [[0.5, 0.3, 0.2]])


def test_invalid_rows_are_nan_and_unknown_method_is_an_error():
    p = implied_probabilities([[2.0, np.nan, 3.0], [0.9, 3.0, 3.0], [2.0, 3.5, 4.0]])
    assert np.isnan(p[:2]).all() and not np.isnan(p[2]).any()
    with pytest.raises(InvalidInputError, match="unknown method"):
        implied_probabilities(ODDS, "magic")
    with pytest.raises(InvalidInputError, match="shape"):
        implied_probabilities([[2.0]])


def test_market_falls_back_source_by_source():
    frame = pd.DataFrame(
        {
            "pinnacle_close_h": [2.0, np.nan, np.nan],
            "pinnacle_close_d": [3.4, 3.4, np.nan],
            "pinnacle_close_a": [4.0, 4.0, np.nan],
            "avg_close_h": [2.1, 2.1, np.nan],
            "avg_close_d": [3.3, 3.3, np.nan],
            "avg_close_a": [3.9, 3.9, np.nan],
            "b365_pre_h": [2.2, 2.2, 2.2],
            "b365_pre_d": [3.2, 3.2, 3.2],
            "b365_pre_a": [3.5, 3.5, 3.5],
        }
    )
    probs, source = market_probabilities(frame)
    assert list(source) == ["pinnacle_close", "avg_close", "b365_pre"]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    _, none = market_probabilities(frame.iloc[:, :3].iloc[[2]])
    assert list(none) == [""]


def test_power_rows_do_not_depend_on_each_other():
    """Each row converges on its own residual: a row's probabilities are the same to the
    bit whatever other rows share the call."""
    rng = np.random.default_rng(7)
    odds = 1.0 / rng.dirichlet([3, 2, 3], size=40) / 1.06
    alone = np.vstack([implied_probabilities(odds[i : i + 1], "power") for i in range(40)])
    extreme = np.array([[1.001, 60.0, 150.0]])
    together = implied_probabilities(np.vstack([odds, extreme]), "power")[:40]
    assert np.array_equal(alone, together)


# --- the odds rule -------------------------------------------------------------------------


def test_the_odds_rule_accepts_real_books():
    from core.odds import OddsRule

    rule = OddsRule()
    for prices in ([2.1, 3.4, 3.6], [1.01, 30.0, 50.0], [1.9, 1.95], [1000.0, 1.02, 60.0]):
        assert rule.problem(prices) is None, prices


@pytest.mark.parametrize(
    ("prices", "fragment"),
    [
        ([1.2, 1.5, 1.9], "202.6 % book"),  # fpe price --odds 1.2 1.5 1.9
        ([5.0, 5.0, 5.0], "60.0 % book"),
        ([1.0, 3.0, 3.0], "outside the decimal odds range"),
        ([0.5, 3.0, 3.0], "outside the decimal odds range"),
        ([2.0, 3.0, 1001.0], "outside the decimal odds range"),
        ([2.0, float("nan"), 3.0], "outside the decimal odds range"),
        (["abc", 3.0, 3.0], "not a decimal price"),
    ],
)
def test_the_odds_rule_refuses_with_the_reason(prices, fragment):
    from core.errors import InvalidInputError
    from core.odds import OddsRule

    assert fragment in OddsRule().problem(prices)
    with pytest.raises(InvalidInputError, match="Arsenal v Chelsea: the 1X2 odds: "):
        OddsRule().check(prices, "Arsenal v Chelsea: the 1X2 odds")


def test_the_odds_rule_range_is_configurable():
    from core.odds import OddsRule
    from server.base.config import ConfigError, odds_rule

    assert odds_rule({}) == OddsRule(0.95, 1.30)
    wide = odds_rule({"FPE_OVERROUND_MIN": "0.9", "FPE_OVERROUND_MAX": "2.1"})
    assert wide.problem([1.2, 1.5, 1.9]) is None
    for env in ({"FPE_OVERROUND_MAX": "lots"}, {"FPE_OVERROUND_MIN": "1.4"}):
        with pytest.raises(ConfigError, match="FPE_OVERROUND"):
            odds_rule(env)
