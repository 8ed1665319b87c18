"""inverse_volatility: each fund in proportion to one over its volatility.

The simplest risk-based rule: a calmer fund gets more weight, and no estimate of
expected returns is needed. The engine calls it with the same daily returns, limits and
estimates the built-in strategies see, and checks what it gives back.
"""

from __future__ import annotations

import numpy as np

from xl_rebalancer.engine.strategies.registry import StrategyContext


def inverse_volatility(returns: np.ndarray, context: StrategyContext) -> np.ndarray:
    """Weights ∝ 1 / σ (the sample standard deviation of each column of `returns`),
    then held within each fund's minimum and maximum weight: a fund over its maximum is
    set to it and the rest shared out again in the same proportions (and likewise
    below a minimum)."""
    volatility = np.asarray(returns, dtype=float).std(axis=0, ddof=1)
    if np.any(volatility <= 0):
        raise ValueError("a fund whose price never moves has no volatility to invert")
    weights = within(1.0 / volatility, context.limits.lower, context.limits.upper)
    if not context.limits.satisfied(weights):
        # Asset-class bounds (Constraints) need an optimizer: say so rather than break them.
        raise ValueError("these limits cannot be met by scaling weights; try risk_parity")
    return weights


def within(score: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Weights proportional to `score` that add up to one, each inside [lower, upper]."""
    n = len(score)
    weights = np.zeros(n)
    free = np.ones(n, dtype=bool)
    for _ in range(n + 1):
        left = 1.0 - weights[~free].sum()
        weights[free] = score[free] / score[free].sum() * left
        over = free & (weights > upper)
        under = free & (weights < lower)
        if not over.any() and not under.any():
            break
        settled = over if over.any() else under  # caps first, then floors
        weights[settled] = np.where(over, upper, lower)[settled]
        free &= ~settled
        if not free.any():
            break
    return weights
