"""The market-implied goal model: price inversion, fractional targets, the estimator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.backtest import walk_forward
from core.errors import InvalidInputError
from core.market_model import MarketImplied, implied_rates, market_rates, split_targets
from core.markets import score_grid


def _markets(lam: np.ndarray, mu: np.ndarray, rho: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact 1X2 and over 2.5 of the Dixon-Coles grid (40 goals: tail below 1e-20)."""
    grid = score_grid(lam, mu, rho, 40)
    x, y = np.meshgrid(np.arange(41), np.arange(41), indexing="ij")
    probs = np.column_stack(
        [(grid * (x > y)).sum((1, 2)), (grid * (x == y)).sum((1, 2)), (grid * (x < y)).sum((1, 2))]
    )
    return probs, (grid * (x + y > 2)).sum((1, 2))


@pytest.fixture
def rates() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    return rng.uniform(0.25, 3.5, 400), rng.uniform(0.25, 3.5, 400)


@pytest.mark.parametrize("rho", [0.0, -0.12, 0.08])
def test_inversion_recovers_known_rates_from_1x2_and_totals(rates, rho):
    lam, mu = rates
    probs, over = _markets(lam, mu, rho)
    got_lam, got_mu = implied_rates(probs, over, rho=rho)
    np.testing.assert_allclose(got_lam, lam, rtol=1e-8)
    np.testing.assert_allclose(got_mu, mu, rtol=1e-8)


@pytest.mark.parametrize("rho", [0.0, -0.1])
def test_inversion_recovers_known_rates_from_1x2_alone(rates, rho):
    lam, mu = rates
    probs, _ = _markets(lam, mu, rho)
    got_lam, got_mu = implied_rates(probs, rho=rho)
    np.testing.assert_allclose(got_lam, lam, rtol=1e-8)
    np.testing.assert_allclose(got_mu, mu, rtol=1e-8)


def test_inversion_mixes_rows_with_and_without_totals_and_marks_bad_rows(rates):
    lam, mu = rates[0][:4], rates[1][:4]
    probs, over = _markets(lam, mu, 0.0)
    over[1] = np.nan  # no totals price: 1X2 alone
    probs[2] = [np.nan, 0.3, 0.3]  # no 1X2: no rates
    probs[3] = [0.0, 0.5, 0.5]  # impossible prices: no rates
    got_lam, got_mu = implied_rates(probs, over)
    np.testing.assert_allclose(got_lam[:2], lam[:2], rtol=1e-8)
    np.testing.assert_allclose(got_mu[:2], mu[:2], rtol=1e-8)
    assert np.isnan(got_lam[2:]).all() and np.isnan(got_mu[2:]).all()


def test_inversion_rejects_bad_shapes():
    with pytest.raises(InvalidInputError, match="shape"):
        implied_rates(np.ones((3, 2)))
    with pytest.raises(InvalidInputError, match="over"):
        implied_rates(np.full((3, 3), 1 / 3), over=[0.5, 0.5])
    with pytest.raises(InvalidInputError, match="rho"):
        implied_rates(np.full((3, 3), 1 / 3), rho=1.5)


def test_split_rows_average_to_the_targets_with_unit_weight():
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 4, 500), rng.uniform(0, 4, 500)
    x[:5] = np.round(x[:5])  # whole numbers too
    row, hg, ag, w = split_targets(x, y)
    assert (w >= 0).all() and (w <= 1).all()
    np.testing.assert_allclose(np.bincount(row, w), 1.0)
    np.testing.assert_allclose(np.bincount(row, w * hg), x, atol=1e-12)
    np.testing.assert_allclose(np.bincount(row, w * ag), y, atol=1e-12)
    with pytest.raises(InvalidInputError, match="finite"):
        split_targets(np.array([1.0, np.nan]), np.array([1.0, 1.0]))


def _league(seed: int = 5, rounds: int = 2):
    rng = np.random.default_rng(seed)
    teams = [f"team {i:02d}" for i in range(14)]
    attack = rng.normal(0, 0.3, 14)
    attack -= attack.mean()
    defence = rng.normal(0.1, 0.3, 14)
    rows = []
    for _ in range(rounds):
        for i in range(14):
            for j in range(14):
                if i != j:
                    lam = np.exp(0.25 + attack[i] - defence[j])
                    mu = np.exp(attack[j] - defence[i])
                    rows.append((teams[i], teams[j], lam, mu))
    frame = pd.DataFrame(rows, columns=["home_team", "away_team", "home_rate", "away_rate"])
    return frame, teams, attack, defence


def test_estimator_recovers_the_ratings_behind_the_rates():
    frame, teams, attack, defence = _league()
    model = MarketImplied().fit(frame)
    order = [teams.index(t) for t in model.teams_]
    np.testing.assert_allclose(model.attack_, attack[order], atol=1e-6)
    np.testing.assert_allclose(model.defence_, defence[order], atol=1e-6)
    assert model.home_advantage_ == pytest.approx(0.25, abs=1e-6)
    assert model.n_priced_ == len(frame)


def test_estimator_fits_from_odds_columns_and_round_trips():
    frame, _, _, _ = _league(rounds=1)
    probs, over = _markets(frame["home_rate"].to_numpy(), frame["away_rate"].to_numpy(), 0.0)
    odds = frame[["home_team", "away_team"]].copy()
    for k, o in enumerate("hda"):
        odds[f"pinnacle_close_{o}"] = 1.0 / probs[:, k]
    odds["pinnacle_close_over25"] = 1.0 / over
    odds["pinnacle_close_under25"] = 1.0 / (1.0 - over)
    odds.loc[0, "pinnacle_close_h"] = np.nan  # unpriced: left out
    model = MarketImplied(margin="multiplicative").fit(odds)
    assert model.n_priced_ == len(frame) - 1
    reference = MarketImplied().fit(frame.iloc[1:])
    np.testing.assert_allclose(model.attack_, reference.attack_, atol=1e-6)
    data = model.to_dict()
    assert data["model_type"] == "market_implied" and "team_strengths" in data
    again = MarketImplied.from_dict(data)
    np.testing.assert_allclose(
        again.predict_proba(["team 01"], ["team 02"]), model.predict_proba(["team 01"], ["team 02"])
    )


def test_estimator_errors_name_the_problem():
    frame, _, _, _ = _league(rounds=1)
    with pytest.raises(InvalidInputError, match="no match has usable prices"):
        MarketImplied().fit(frame.assign(home_rate=np.nan))
    with pytest.raises(InvalidInputError, match="odds"):
        MarketImplied().fit(home_team=["a"], away_team=["b"])
    with pytest.raises(InvalidInputError, match="dependence"):
        MarketImplied(dependence=2.0).fit(frame)


def test_market_rates_use_closing_prices_before_pre_match():
    frame = pd.DataFrame(
        {
            "pinnacle_close_h": [2.0, np.nan],
            "pinnacle_close_d": [3.4, np.nan],
            "pinnacle_close_a": [4.0, np.nan],
            "avg_pre_h": [1.5, 2.0],
            "avg_pre_d": [4.0, 3.4],
            "avg_pre_a": [7.0, 4.0],
        }
    )
    lam, mu, used = market_rates(frame)
    assert list(used) == ["pinnacle_close", "avg_pre"]
    assert lam[0] == pytest.approx(lam[1]) and mu[0] == pytest.approx(mu[1])


def test_walk_forward_on_targets_never_uses_the_forecast_matchs_own_prices():
    frame, _, _, _ = _league(rounds=3)
    frame["date"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(np.arange(len(frame)) // 7, "D")
    frame["home_goals"] = 1
    frame["away_goals"] = 1
    lam, mu = frame["home_rate"].to_numpy(), frame["away_rate"].to_numpy()
    base = walk_forward(frame, targets=(lam, mu), burn_in_days=30)
    # change the prices of the last block: its own forecasts must not move
    last = frame["date"] >= base["refit_date"].max()
    lam2 = np.where(last, lam * 3.0, lam)
    moved = walk_forward(frame, targets=(lam2, mu), burn_in_days=30)
    cols = ["p_home", "p_draw", "p_away"]
    np.testing.assert_array_equal(base[cols].to_numpy(), moved[cols].to_numpy())
    # the same change to the prices before it does move them: the targets are used at all
    earlier = walk_forward(frame, targets=(np.where(last, lam, lam * 3.0), mu), burn_in_days=30)
    assert base.loc[last, "p_home"].notna().all()
    assert not np.allclose(earlier.loc[last, "p_home"], base.loc[last, "p_home"])


def test_rates_and_rho_are_recovered_from_1x2_and_totals():
    """Home, away and over 2.5 of a Dixon-Coles grid give back its rates and rho, so the
    inverted grid prices the draw as the market did; without totals rho is unknown (NaN)."""
    from core.market_model import implied_rates_rho
    from core.markets import score_grid

    lam = np.array([1.5, 0.8, 2.5, 1.1])
    mu = np.array([1.0, 1.6, 0.6, 1.1])
    rho = np.array([-0.1, -0.05, 0.05, -0.15])
    probs, over = [], []
    for a, b, r in zip(lam, mu, rho, strict=True):
        g = score_grid(np.array([a]), np.array([b]), r)[0]
        x, y = np.indices(g.shape)
        probs.append([g[x > y].sum(), g[x == y].sum(), g[x < y].sum()])
        over.append(g[x + y > 2].sum())
    over = np.array(over)
    over[-1] = np.nan
    got_lam, got_mu, got_rho = implied_rates_rho(np.array(probs), over)
    np.testing.assert_allclose(got_lam[:3], lam[:3], atol=1e-8)
    np.testing.assert_allclose(got_mu[:3], mu[:3], atol=1e-8)
    np.testing.assert_allclose(got_rho[:3], rho[:3], atol=1e-8)
    assert np.isnan(got_rho[3]) and np.isfinite(got_lam[3])
