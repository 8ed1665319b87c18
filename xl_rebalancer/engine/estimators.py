"""Expected returns and covariance from daily prices, kept in factor form.

Every covariance offered here is a weighted sum of outer products of daily returns
plus a diagonal (sample: equal weights; EWMA: decaying weights; Ledoit-Wolf: the sample
shrunk towards a scaled identity). So each is stored as Σ = FᵀF + diag(d) with F the
k × n matrix of weighted, centred returns: cheap to keep, to apply to a vector
(tracking error, risk contributions) and to turn into a Cholesky factor for the
volatility cone. The quadratic programs take Σ dense, which measured faster for
full-rank estimates (strategies/mean_variance.py, docs/performance.md).

Definitions follow PyPortfolioOpt's (daily data, 252 periods a year, compounded
means), so the numbers can be checked against it side by side; Ledoit-Wolf is
scikit-learn's estimator written out in numpy, because importing scikit-learn costs
about a second on every cold start of Excel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

PERIODS = 252
RETURNS_SPAN = 500  # PyPortfolioOpt's ema_historical_return default
COVARIANCE_SPAN = 180  # PyPortfolioOpt's exp_cov default
POWER_ITERATIONS = 6  # of the randomized SVD in principal_factors (error measured there)

ReturnsMethod = Literal["mean", "ewma", "capm", "equilibrium"]
CovarianceMethod = Literal["sample", "ledoit_wolf", "ewma"]


@dataclass(frozen=True)
class RiskModel:
    """Annualized Σ = FᵀF + diag(d); F is k × n (k ≤ number of days)."""

    factor: np.ndarray
    diagonal: np.ndarray

    @property
    def n(self) -> int:
        return int(self.diagonal.shape[0])

    @property
    def cov(self) -> np.ndarray:
        return self.factor.T @ self.factor + np.diag(self.diagonal)

    def variance(self, w: np.ndarray) -> float:
        y = self.factor @ w
        return float(y @ y + w @ (self.diagonal * w))

    def compact(self) -> RiskModel:
        """A factor no taller than it is wide: Cholesky of Σ when n < k."""
        k, n = self.factor.shape
        if k <= n:
            return self
        return RiskModel(square_root(self.cov), np.zeros(n))

    @classmethod
    def from_cov(cls, cov: np.ndarray) -> RiskModel:
        """For a covariance known only densely (Black-Litterman's posterior)."""
        cov = (cov + cov.T) / 2.0
        return cls(square_root(cov), np.zeros(cov.shape[0]))


def square_root(cov: np.ndarray) -> np.ndarray:
    """An upper factor R with RᵀR = Σ: Cholesky, or an eigen-factor when Σ is only
    semi-definite."""
    try:
        return np.linalg.cholesky(cov).T
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(cov)
        return (vecs * np.sqrt(np.clip(vals, 0.0, None))).T


def simple_returns(prices: np.ndarray) -> np.ndarray:
    """Daily simple returns of a T × n price matrix (no gaps allowed)."""
    prices = np.asarray(prices, dtype=float)
    return prices[1:] / prices[:-1] - 1.0


def _compounded(returns: np.ndarray) -> np.ndarray:
    return np.prod(1.0 + returns, axis=0) ** (PERIODS / returns.shape[0]) - 1.0


def _ewm_weights(count: int, span: float) -> np.ndarray:
    """pandas' ewm(span).mean() weights (adjust=True), oldest first, summing to one."""
    alpha = 2.0 / (span + 1.0)
    weights = (1.0 - alpha) ** np.arange(count - 1, -1, -1, dtype=float)
    return weights / weights.sum()


def expected_returns(
    returns: np.ndarray,
    method: ReturnsMethod = "ewma",
    *,
    risk_free_rate: float = 0.0,
    market: np.ndarray | None = None,
    risk: RiskModel | None = None,
    prior_weights: np.ndarray | None = None,
    span: float = RETURNS_SPAN,
) -> np.ndarray:
    """Annual expected return per asset.

    mean: compounded historical mean. ewma: the exponentially weighted mean daily return,
    compounded over a year. capm: rf + β (market − rf), the market being `market` daily
    returns or, without one, the equal-weighted average of the assets. equilibrium: the
    returns that make `prior_weights` (equal when None) the optimal portfolio, δ Σ w + rf,
    with δ implied by that portfolio's own history (2.5 when its excess return is not
    positive).
    """
    returns = np.asarray(returns, dtype=float)
    if method == "mean":
        return _compounded(returns)
    if method == "ewma":
        daily = _ewm_weights(returns.shape[0], span) @ returns
        return (1.0 + daily) ** PERIODS - 1.0
    if method == "capm":
        mkt = returns.mean(axis=1) if market is None else np.asarray(market, dtype=float)
        centred = returns - returns.mean(axis=0)
        mkt_centred = mkt - mkt.mean()
        beta = (mkt_centred @ centred) / (mkt_centred @ mkt_centred)
        mkt_return = float(_compounded(mkt[:, None])[0])
        return risk_free_rate + beta * (mkt_return - risk_free_rate)
    if method == "equilibrium":
        n = returns.shape[1]
        w = np.full(n, 1.0 / n) if prior_weights is None else np.asarray(prior_weights, float)
        if risk is None:
            risk = covariance(returns, "ledoit_wolf")
        delta = implied_risk_aversion(returns @ w, risk_free_rate)
        return delta * (risk.cov @ w) + risk_free_rate
    raise ValueError(f"unknown expected-returns method {method!r}")


def implied_risk_aversion(portfolio_returns: np.ndarray, risk_free_rate: float) -> float:
    """δ = (annualized mean excess return) / annualized variance, as PyPortfolioOpt's
    market_implied_risk_aversion."""
    r = np.asarray(portfolio_returns, dtype=float)
    excess = float(r.mean()) * PERIODS - risk_free_rate
    variance = float(np.var(r, ddof=1)) * PERIODS
    return excess / variance if excess > 0 and variance > 0 else 2.5


def covariance(
    returns: np.ndarray, method: CovarianceMethod = "ledoit_wolf", *, span: float = COVARIANCE_SPAN
) -> RiskModel:
    """Annualized covariance as a RiskModel (factor + diagonal)."""
    returns = np.asarray(returns, dtype=float)
    t, n = returns.shape
    centred = returns - returns.mean(axis=0)
    if method == "sample":
        return RiskModel(centred * np.sqrt(PERIODS / (t - 1)), np.zeros(n))
    if method == "ewma":
        weights = _ewm_weights(t, span)
        return RiskModel(centred * np.sqrt(weights * PERIODS)[:, None], np.zeros(n))
    if method == "ledoit_wolf":
        shrinkage, mu = ledoit_wolf_shrinkage(centred)
        factor = centred * np.sqrt((1.0 - shrinkage) * PERIODS / t)
        return RiskModel(factor, np.full(n, shrinkage * mu * PERIODS))
    raise ValueError(f"unknown covariance method {method!r}")


def principal_factors(risk: RiskModel, k: int, *, seed: int = 0) -> RiskModel:
    """The statistical factor model of `risk`: its k largest principal components, and
    each asset's remaining variance on the diagonal (so every asset keeps its own
    volatility exactly; only the correlations beyond k components are dropped).

    Why: a quadratic program over a dense 2,000 × 2,000 Σ takes seconds, while over k
    factors and a diagonal it takes tens of milliseconds (docs/performance.md reports
    both and the error of the approximation). The components are the k largest right
    singular vectors of the factor F (FᵀF is the sample part of Σ; a Ledoit-Wolf
    shrinkage stays on the diagonal): a thin SVD when F is narrow, else a randomized
    SVD (Halko, Martinsson & Tropp 2011) with power iterations from a fixed seed, so
    the same data gives the same model, in O(T·n·k) without forming Σ. (ARPACK's svds
    took 2.9 s for k = 20 at 2,000 assets, a full SVD longer.)
    """
    f = np.asarray(risk.factor, dtype=float)
    t, n = f.shape
    k = int(k)
    if k <= 0 or k >= min(t, n):
        return risk
    width = min(2 * k + 10, min(t, n))
    if 4 * width >= min(t, n):
        _, sing, vt = np.linalg.svd(f, full_matrices=False)
    else:
        rng = np.random.default_rng(seed)
        q, _ = np.linalg.qr(f @ rng.standard_normal((n, width)))
        for _ in range(POWER_ITERATIONS):
            q, _ = np.linalg.qr(f.T @ q)
            q, _ = np.linalg.qr(f @ q)
        _, sing, vt = np.linalg.svd(q.T @ f, full_matrices=False)
    loadings = sing[:k, None] * vt[:k]  # k × n, Σ_k = loadingsᵀ loadings
    total = (f**2).sum(axis=0) + risk.diagonal
    residual = np.clip(total - (loadings**2).sum(axis=0), 0.0, None)
    return RiskModel(loadings, residual)


def ledoit_wolf_shrinkage(centred: np.ndarray) -> tuple[float, float]:
    """Ledoit & Wolf (2004) shrinkage towards μI, as scikit-learn computes it.

    Returns (shrinkage, μ) for the maximum-likelihood covariance XᵀX / T of the
    centred daily returns X.
    """
    t, n = centred.shape
    x2 = centred**2
    emp_trace = x2.sum(axis=0) / t
    mu = float(emp_trace.sum() / n)
    gram = centred.T @ centred if n <= t else centred @ centred.T  # same Frobenius norm
    beta_ = float((x2.sum(axis=1) ** 2).sum())  # = sum of (X²)ᵀX², without the n × n
    delta_ = float((gram**2).sum()) / t**2
    beta = (beta_ / t - delta_) / (n * t)
    delta = (delta_ - 2.0 * mu * emp_trace.sum() + n * mu**2) / n
    beta = min(beta, delta)
    return (0.0 if beta == 0 else beta / delta), mu
