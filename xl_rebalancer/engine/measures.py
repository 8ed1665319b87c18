"""Risk of a portfolio over a return history: one definition for every door.

Value at risk and CVaR are historical, over the worst (1 − confidence) share of days
with the boundary day counted in part (Rockafellar & Uryasev 2002): the quantity the
minimum-CVaR strategy minimizes and the one skfolio's `value_at_risk` and `cvar`
report, so the worksheet function, the strategy and the peers agree to the last digit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RiskFigures:
    volatility: float  # annualized, from the sample covariance (ddof 1)
    var: float  # one-period loss, positive when a loss
    cvar: float  # mean loss beyond VaR, positive when a loss


def tail_loss(path: np.ndarray, confidence: float) -> tuple[float, float]:
    """Historical VaR and CVaR of one return path, as positive losses."""
    ordered = np.sort(np.asarray(path, dtype=float))
    mass = (1.0 - confidence) * len(ordered)
    whole = int(np.floor(mass + 1e-9))
    var = -float(ordered[min(whole, len(ordered) - 1)])
    part = mass - whole
    tail = float(ordered[:whole].sum())
    if part > 1e-9:
        tail += part * float(ordered[min(whole, len(ordered) - 1)])
    return var, -tail / mass


def portfolio_risk(
    returns: np.ndarray, weights: np.ndarray, confidence: float = 0.95, periods: float = 252.0
) -> RiskFigures:
    returns = np.asarray(returns, dtype=float)
    w = np.asarray(weights, dtype=float)
    n = returns.shape[1]
    cov = np.cov(returns, rowvar=False, ddof=1).reshape(n, n)
    volatility = float(np.sqrt(max(float(w @ cov @ w), 0.0) * periods))
    var, cvar = tail_loss(returns @ w, confidence)
    return RiskFigures(volatility, var, cvar)
