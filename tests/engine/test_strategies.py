"""Estimators and allocation strategies, side by side with PyPortfolioOpt and skfolio.

The data are the real price histories from those projects' own test suites
(tests/data/reference, cut to the days used here). Weights must agree within 1e-4, or where the peer's
problem has several optima (an LP), our objective must be at least as good.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REFERENCE
from xl_rebalancer.engine import estimators as est
from xl_rebalancer.engine.strategies import Group, Limits, ViewSet, optimize
from xl_rebalancer.engine.strategies import mean_variance as mv
from xl_rebalancer.engine.strategies import risk_based as rb
from xl_rebalancer.errors import InfeasibleError

TOL = 1e-4


@pytest.fixture(scope="module")
def stocks() -> pd.DataFrame:
    """PyPortfolioOpt's 20 stocks, the days on which all of them trade."""
    return pd.read_csv(
        REFERENCE / "pypfopt_stock_prices.csv", parse_dates=["date"], index_col="date"
    ).dropna()


@pytest.fixture(scope="module")
def sp500() -> pd.DataFrame:
    """skfolio's S&P 500 sample, last three years of trading days."""
    frame = pd.read_csv(
        REFERENCE / "skfolio_sp500_dataset.csv", parse_dates=["Date"], index_col="Date"
    )
    return frame.iloc[-757:]


def weights_of(cleaned: dict) -> np.ndarray:
    return np.array(list(cleaned.values()), dtype=float)


# estimators ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["mean", "ewma", "capm"])
def test_expected_returns_match_pypfopt(stocks, method):
    from pypfopt import expected_returns as er

    theirs = {
        "mean": er.mean_historical_return,
        "ewma": er.ema_historical_return,
        "capm": er.capm_return,
    }[method](stocks).to_numpy()
    ours = est.expected_returns(est.simple_returns(stocks.to_numpy()), method)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method", ["sample", "ledoit_wolf", "ewma"])
def test_covariances_match_pypfopt(stocks, method):
    from pypfopt import risk_models as rm

    theirs = {
        "sample": lambda p: rm.sample_cov(p),
        "ledoit_wolf": lambda p: rm.CovarianceShrinkage(p).ledoit_wolf(),
        "ewma": lambda p: rm.exp_cov(p),
    }[method](stocks).to_numpy()
    model = est.covariance(est.simple_returns(stocks.to_numpy()), method)
    np.testing.assert_allclose(model.cov, theirs, rtol=1e-9, atol=1e-12)


def test_ledoit_wolf_with_more_assets_than_days_matches_sklearn(sp500):
    # 20 assets over 15 days: the factor form takes the T × T path.
    from sklearn.covariance import ledoit_wolf

    returns = est.simple_returns(sp500.to_numpy()[-16:])
    theirs, _ = ledoit_wolf(returns)
    np.testing.assert_allclose(est.covariance(returns, "ledoit_wolf").cov / 252, theirs, atol=1e-14)


def test_equilibrium_returns_are_implied_by_the_prior(stocks):
    # δ Σ w + rf: feeding them back to an unconstrained mean-variance optimizer with the
    # same δ returns the prior (closed form w = (δΣ)⁻¹(μ − rf)).
    returns = est.simple_returns(stocks.to_numpy())
    risk = est.covariance(returns, "sample")
    prior = np.linspace(1, 2, 20)
    prior /= prior.sum()
    mu = est.expected_returns(
        returns, "equilibrium", risk=risk, prior_weights=prior, risk_free_rate=0.02
    )
    delta = est.implied_risk_aversion(returns @ prior, 0.02)
    np.testing.assert_allclose(np.linalg.solve(delta * risk.cov, mu - 0.02), prior, atol=1e-10)


# mean-variance ---------------------------------------------------------------


@pytest.fixture(scope="module")
def mv_setup(stocks):
    from pypfopt import expected_returns as er
    from pypfopt import risk_models as rm

    returns = est.simple_returns(stocks.to_numpy())
    return (
        returns,
        est.expected_returns(returns, "mean"),
        est.covariance(returns, "sample"),
        er.mean_historical_return(stocks),
        rm.sample_cov(stocks),
    )


@pytest.mark.parametrize(
    ("name", "ours", "theirs"),
    [
        (
            "min_variance",
            lambda mu, r, lim: mv.min_variance(r, lim),
            lambda ef: ef.min_volatility(),
        ),
        (
            "max_sharpe",
            lambda mu, r, lim: mv.max_sharpe(mu, r, lim, 0.02),
            lambda ef: ef.max_sharpe(risk_free_rate=0.02),
        ),
        (
            "efficient_return",
            lambda mu, r, lim: mv.efficient_return(mu, r, lim, 0.25),
            lambda ef: ef.efficient_return(0.25),
        ),
        (
            "target_volatility",
            lambda mu, r, lim: mv.target_volatility(mu, r, lim, 0.20),
            lambda ef: ef.efficient_risk(0.20),
        ),
    ],
)
@pytest.mark.parametrize("cap", [1.0, 0.10])
def test_mean_variance_matches_pypfopt(mv_setup, name, ours, theirs, cap):
    from pypfopt import EfficientFrontier

    _, mu, risk, mu_pd, cov_pd = mv_setup
    frontier = EfficientFrontier(mu_pd, cov_pd, weight_bounds=(0, cap))
    theirs(frontier)
    expected = weights_of(frontier.clean_weights(rounding=None))
    got = ours(mu, risk, Limits.long_only(20, cap))
    assert np.abs(got - expected).max() < TOL
    assert got.sum() == pytest.approx(1.0) and got.min() >= 0 and got.max() <= cap + 1e-9


def test_box_min_variance_is_at_least_as_good_as_the_interior_point():
    """The active-set minimum variance (issue 25) against Clarabel's interior point on
    the same programs: 300 random covariances, caps and minimum weights. Never more
    variance than Clarabel's answer, limits held to 1e-12, and the optimality
    conditions met: every asset between its bounds has the same marginal risk."""
    from xl_rebalancer.engine.strategies.conic import Program

    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(3, 60))
        t = int(rng.integers(n + 5, 3 * n + 20))
        noise = rng.normal(size=(t, n)) * rng.uniform(0.005, 0.03, n)
        market = rng.normal(size=(t, 1)) * 0.01 * rng.uniform(0, 1, n)
        risk = est.covariance(noise + market, "sample")
        cap = float(rng.choice([1.0, max(0.1, 2 / n), max(1.5 / n, 0.05)]))
        lower = np.where(rng.random(n) < 0.2, rng.uniform(0, 0.5 / n, n), 0.0)
        limits = Limits(lower, np.full(n, cap))
        ours = mv.box_min_variance(risk.cov, limits.lower, limits.upper)
        assert ours is not None
        prog = Program()
        w = prog.variables(n)
        prog.quadratic(w, 2 * risk.cov)
        limits.impose(prog, w)
        theirs = prog.solve("min_variance")[w]
        assert risk.variance(ours) <= risk.variance(theirs) * (1 + 1e-7)
        assert limits.satisfied(ours, 1e-12)
        marginal = risk.cov @ ours
        inside = (ours > lower + 1e-9) & (ours < cap - 1e-9)
        if inside.sum() > 1:
            spread = marginal[inside].max() - marginal[inside].min()
            assert spread <= 1e-9 * np.abs(marginal).max()


def test_principal_factors_are_the_top_eigenvectors(sp500):
    """The statistical factor model (setting risk_factors, issue 25) against numpy's
    full eigendecomposition of the same covariance: the k largest eigenpairs, and each
    asset's own variance kept on the diagonal."""
    returns = est.simple_returns(sp500.to_numpy())
    full = est.covariance(returns, "sample")
    k = 5
    model = est.principal_factors(full, k)
    assert model.factor.shape == (k, full.n)
    values, vectors = np.linalg.eigh(full.cov)
    top = (vectors[:, -k:] * values[-k:]) @ vectors[:, -k:].T
    np.testing.assert_allclose(model.factor.T @ model.factor, top, atol=1e-9 * values[-1])
    np.testing.assert_allclose(np.diag(model.cov), np.diag(full.cov), rtol=1e-10)
    assert est.principal_factors(full, k).factor.tolist() == model.factor.tolist()  # seeded


@pytest.mark.parametrize("cap", [1.0, 0.10])
def test_min_variance_on_a_factor_model_matches_pypfopt(sp500, cap):
    """The factor form of the program (k factor rows and a diagonal) against
    PyPortfolioOpt's minimum volatility on the same model's dense covariance."""
    from pypfopt import EfficientFrontier

    returns = est.simple_returns(sp500.to_numpy())
    model = est.principal_factors(est.covariance(returns, "sample"), 3)
    assert model.factor.shape[0] <= mv.FACTOR_FORM_SHARE * model.n  # the factor form
    n = model.n
    frontier = EfficientFrontier(
        pd.Series(np.zeros(n)), pd.DataFrame(model.cov), weight_bounds=(0, cap)
    )
    frontier.min_volatility()
    expected = weights_of(frontier.clean_weights(rounding=None))
    got = mv.min_variance(model, Limits.long_only(n, cap))
    assert np.abs(got - expected).max() < TOL


def test_risk_factors_setting_optimizes_on_the_model_and_reports_the_full_risk(sp500):
    returns = est.simple_returns(sp500.to_numpy())
    full = optimize(returns, "min_variance", covariance_method="sample")
    approx = optimize(returns, "min_variance", covariance_method="sample", risk_factors=3)
    model = est.principal_factors(est.covariance(returns, "sample"), 3)
    np.testing.assert_allclose(approx.weights, mv.min_variance(model, Limits.long_only(20)))
    assert any("risk_factors" in note for note in approx.notes)
    whole = est.covariance(returns, "sample")
    assert approx.portfolio_volatility == pytest.approx(np.sqrt(whole.variance(approx.weights)))
    # Less calm under the full estimate than the portfolio made for it, never calmer.
    assert approx.portfolio_volatility >= full.portfolio_volatility - 1e-9


def test_group_limits_bind_like_pypfopt_sector_constraints(mv_setup, stocks):
    from pypfopt import EfficientFrontier

    _, mu, risk, mu_pd, cov_pd = mv_setup
    tech = ["GOOG", "AAPL", "FB", "AMZN", "AMD", "MA"]
    members = tuple(i for i, s in enumerate(stocks.columns) if s in tech)
    frontier = EfficientFrontier(mu_pd, cov_pd)
    mapper = {s: ("tech" if s in tech else "other") for s in stocks.columns}
    frontier.add_sector_constraints(mapper, {"tech": 0.0}, {"tech": 0.2})
    frontier.max_sharpe(risk_free_rate=0.02)
    expected = weights_of(frontier.clean_weights(rounding=None))
    limits = Limits(np.zeros(20), np.ones(20), (Group("tech", members, None, 0.2),))
    got = mv.max_sharpe(mu, risk, limits, 0.02)
    assert got[list(members)].sum() == pytest.approx(0.2, abs=1e-7)
    assert np.abs(got - expected).max() < TOL


def test_conflicting_limits_are_explained():
    limits = Limits(np.full(3, 0.4), np.ones(3), (Group("asset class Bonds", (0, 1), None, 0.5),))
    with pytest.raises(InfeasibleError) as info:
        mv.min_variance(est.RiskModel(np.eye(3), np.zeros(3)), limits)
    messages = " ".join(p.message for p in info.value.problems)
    assert "120.00%" in messages and "asset class Bonds" in messages


def test_target_volatility_below_the_floor_says_so(mv_setup):
    _, mu, risk, *_ = mv_setup
    with pytest.raises(InfeasibleError) as info:
        mv.target_volatility(mu, risk, Limits.long_only(20), 0.01)
    assert "below the least volatility" in info.value.problems[0].message


# risk-based ------------------------------------------------------------------


def test_risk_parity_matches_skfolio_and_equalizes_contributions(sp500):
    from skfolio import RiskMeasure
    from skfolio.optimization import RiskBudgeting

    returns = est.simple_returns(sp500.to_numpy())
    risk = est.covariance(returns, "sample")
    got = rb.risk_parity(risk, Limits.long_only(20))
    np.testing.assert_allclose(rb.risk_contributions(got, risk), np.full(20, 0.05), atol=1e-11)
    model = RiskBudgeting(risk_measure=RiskMeasure.VARIANCE).fit(returns)
    assert np.abs(got - model.weights_).max() < TOL


def test_risk_parity_with_limits_still_balances_the_rest(sp500):
    returns = est.simple_returns(sp500.to_numpy())
    risk = est.covariance(returns, "sample")
    free = rb.risk_parity(risk, Limits.long_only(20))
    cap = float(free.max()) * 0.8
    capped = rb.risk_parity(risk, Limits.long_only(20, cap))
    assert capped.max() <= cap + 1e-7 and abs(capped.sum() - 1) < 1e-9


def test_risk_parity_on_a_singular_covariance_says_why(sp500):
    # A third asset that returns minus the sum of the first two: holding one of each has
    # no risk at all, so no mix has equal (positive) risk contributions.
    two = est.simple_returns(sp500.to_numpy())[:, :2]
    returns = np.column_stack([two, -two.sum(axis=1)])
    with pytest.raises(InfeasibleError, match="rank 2") as caught:
        rb.risk_parity(est.covariance(returns, "sample"), Limits.long_only(3))
    assert caught.value.problems[0].sheet == "Settings"
    assert "ledoit_wolf" in caught.value.problems[0].message


@pytest.mark.parametrize("linkage", ["single", "ward"])
def test_hrp_matches_pypfopt(stocks, linkage):
    from pypfopt import HRPOpt

    returns = est.simple_returns(stocks.to_numpy())
    theirs = HRPOpt(pd.DataFrame(returns)).optimize(linkage)
    np.testing.assert_allclose(
        rb.hrp(returns, None, linkage), [theirs[i] for i in range(20)], atol=1e-12
    )


def test_min_cvar_is_at_least_as_good_as_pypfopt_and_skfolio(sp500):
    from pypfopt import EfficientCVaR
    from skfolio import RiskMeasure
    from skfolio.optimization import MeanRisk

    returns = est.simple_returns(sp500.to_numpy())
    got = rb.min_cvar(returns, Limits.long_only(20), 0.95)
    peer = EfficientCVaR(None, pd.DataFrame(returns), beta=0.95)
    peer.min_cvar()
    pypfopt_w = weights_of(peer.clean_weights(rounding=None))
    skfolio_w = MeanRisk(risk_measure=RiskMeasure.CVAR, cvar_beta=0.95).fit(returns).weights_
    ours = rb.cvar(returns, got)
    assert ours <= rb.cvar(returns, pypfopt_w) + 1e-7
    assert ours <= rb.cvar(returns, skfolio_w) + 1e-7


def test_black_litterman_matches_pypfopt(stocks):
    from pypfopt import BlackLittermanModel, EfficientFrontier

    returns = est.simple_returns(stocks.to_numpy())
    picks = np.zeros((2, 20))
    picks[0, 1] = 1.0  # AAPL will return 20%
    picks[1, 4], picks[1, 0] = 1.0, -1.0  # AMZN beats GOOG by 5%
    views = ViewSet(picks, np.array([0.20, 0.05]), np.array([0.6, 0.3]))
    got = optimize(returns, "black_litterman", views=views, risk_free_rate=0.02)

    cov = pd.DataFrame(est.covariance(returns, "ledoit_wolf").cov)
    prior = np.full(20, 0.05)
    delta = est.implied_risk_aversion(returns @ prior, 0.02)
    pi = delta * cov.to_numpy() @ prior + 0.02
    model = BlackLittermanModel(
        cov, pi=pi, P=picks, Q=views.values, omega="idzorek", view_confidences=views.confidences
    )
    np.testing.assert_allclose(got.expected_returns, model.bl_returns().to_numpy(), atol=1e-12)
    frontier = EfficientFrontier(model.bl_returns(), model.bl_cov())
    frontier.max_sharpe(risk_free_rate=0.02)
    assert np.abs(got.weights - weights_of(frontier.clean_weights(rounding=None))).max() < TOL


def test_glide_path_blends_by_the_documented_schedule(stocks):
    returns = est.simple_returns(stocks.to_numpy())
    growth = optimize(returns, "max_sharpe").weights
    safe = optimize(returns, "min_variance").weights
    for age, share in [(20, 0.90), (45, 0.80), (55, 0.65), (65, 0.50), (90, 0.30)]:
        got = optimize(returns, "glide_path", user_age=age).weights
        np.testing.assert_allclose(got, share * growth + (1 - share) * safe, atol=1e-9)


def test_equal_weight_within_limits_is_the_nearest_allowed():
    # Three assets, at most 20% in the first: the rest splits evenly (40% each).
    limits = Limits(np.zeros(3), np.array([0.2, 1.0, 1.0]))
    got = optimize(np.random.default_rng(1).normal(0, 0.01, (50, 3)), "equal_weight", limits=limits)
    np.testing.assert_allclose(got.weights, [0.2, 0.4, 0.4], atol=1e-7)


def test_allocation_figures_are_consistent(stocks):
    returns = est.simple_returns(stocks.to_numpy())
    got = optimize(returns, "max_sharpe", risk_free_rate=0.02)
    cov = est.covariance(returns, "ledoit_wolf").cov
    assert got.portfolio_volatility == pytest.approx(
        float(np.sqrt(got.weights @ cov @ got.weights))
    )
    assert got.risk_contributions.sum() == pytest.approx(1.0)
    assert got.sharpe == pytest.approx((got.portfolio_return - 0.02) / got.portfolio_volatility)
