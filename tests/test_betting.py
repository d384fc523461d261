"""Betting evaluation: the bets edges select, ROI, fractional Kelly, closing-line value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.betting import betting_report, format_betting


def _frame(odds, closing, league=("E0", "E0", "D1")):
    frame = pd.DataFrame({"league": list(league)})
    for i, o in enumerate("hda"):
        frame[f"max_pre_{o}"] = [row[i] for row in odds]
        frame[f"pinnacle_close_{o}"] = [row[i] for row in closing]
    return frame


def test_bets_roi_kelly_and_clv_by_hand():
    odds = [(2.0, 3.5, 4.0), (1.5, 4.0, 7.0), (3.0, 3.2, 2.5)]
    closing = [(1.9, 3.6, 4.2), (1.5, 4.0, 7.0), (3.1, 3.3, 2.4)]
    probs = np.array([[0.55, 0.25, 0.20], [0.60, 0.25, 0.15], [0.30, 0.30, 0.40]])
    # edges: match 1 home 0.10; match 2 home -0.10, draw 0.0, away 0.05; match 3 away 0.0
    frame = _frame(odds, closing)
    out = betting_report(frame, probs, ["H", "A", "A"], min_edge=0.02, kelly=0.5, n_boot=200)
    s = out["sources"]["max_pre"]["overall"]
    assert s["bets"] == 2  # match 1 home, match 2 away; match 3's best edge is 0
    assert s["roi"] == pytest.approx((1.0 + 6.0) / 2)
    stakes = [min(0.5 * 0.10 / 1.0, 0.05), min(0.5 * 0.05 / 6.0, 0.05)]
    growth = [np.log1p(stakes[0] * 1.0), np.log1p(stakes[1] * 6.0)]
    assert s["kelly_growth_per_bet"] == pytest.approx(np.mean(growth))
    assert s["clv"] == pytest.approx(np.mean([np.log(2.0 / 1.9), np.log(7.0 / 7.0)]))
    assert s["roi_ci"][0] <= s["roi"] <= s["roi_ci"][1]
    assert set(out["sources"]["max_pre"]["leagues"]) == {"E0"}
    assert "2 bets" in format_betting(out)[0]


def test_sources_are_reported_apart_and_missing_prices_counted():
    odds = [(2.0, 3.5, 4.0), (np.nan, np.nan, np.nan), (3.0, 3.2, 2.5)]
    frame = _frame(odds, odds)
    frame["avg_pre_h"], frame["avg_pre_d"], frame["avg_pre_a"] = np.nan, np.nan, np.nan
    probs = np.full((3, 3), 1 / 3)
    out = betting_report(frame, probs, ["H", "D", "A"], n_boot=50)
    assert set(out["sources"]) == {"max_pre"}  # no average price at all: not reported
    block = out["sources"]["max_pre"]
    assert (block["matches_priced"], block["matches_without_prices"]) == (2, 1)


def test_without_closing_prices_clv_is_none_and_nothing_warns():
    # a file with no closing columns (older or smaller leagues): every resample's CLV is
    # NaN; the intervals of ROI and growth stand, the CLV's is None (no All-NaN warning,
    # which filterwarnings=error turns into a failure)
    odds = [(2.0, 3.5, 4.0), (1.5, 4.0, 7.0), (3.0, 3.2, 2.5)]
    nan3 = (np.nan, np.nan, np.nan)
    frame = _frame(odds, [nan3, nan3, nan3])
    probs = np.array([[0.55, 0.25, 0.20], [0.60, 0.25, 0.15], [0.30, 0.30, 0.40]])
    s = betting_report(frame, probs, ["H", "A", "A"], n_boot=50)["sources"]["max_pre"]["overall"]
    assert (s["bets"], s["clv"], s["clv_bets"], s["clv_ci"]) == (2, None, 0, None)
    assert s["roi_ci"][0] <= s["roi"] <= s["roi_ci"][1]
