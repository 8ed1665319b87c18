"""Target weights from price history: one entry point over plain arrays.

`optimize(returns, strategy, ...)` takes a T × n matrix of daily simple returns (oldest
first) and returns an Allocation. The workbook path (app.optimize), the worksheet
functions and the benchmarks all call it, so the numbers are the same through every
door. Each method lives in its own module; see docs/guide.md (4b) for what each one does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import InfeasibleError, Problem
from ..estimators import (
    RiskModel,
    covariance,
    expected_returns,
    implied_risk_aversion,
    principal_factors,
)
from . import registry
from .limits import Group, Limits
from .mean_variance import (
    efficient_return,
    equal_weight,
    max_sharpe,
    min_variance,
    target_volatility,
)
from .risk_based import cvar, hrp, min_cvar, risk_contributions, risk_parity
from .views import black_litterman, glide_share

__all__ = ["STRATEGIES", "Allocation", "Group", "Limits", "ViewSet", "optimize"]

STRATEGIES = (
    "equal_weight",
    "min_variance",
    "max_sharpe",
    "target_volatility",
    "efficient_return",
    "risk_parity",
    "hrp",
    "black_litterman",
    "min_cvar",
    "glide_path",
)


@dataclass(frozen=True)
class ViewSet:
    """Black-Litterman views: picks (K × n) · returns = values, each with a confidence."""

    picks: np.ndarray
    values: np.ndarray
    confidences: np.ndarray


@dataclass(frozen=True)
class Allocation:
    weights: np.ndarray
    expected_returns: np.ndarray  # annual, per asset (posterior for Black-Litterman)
    volatilities: np.ndarray  # annual, per asset
    risk_contributions: np.ndarray  # shares of portfolio variance, summing to one
    portfolio_return: float
    portfolio_volatility: float
    sharpe: float
    cvar: float  # daily historical CVaR at the cvar_confidence level
    notes: tuple[str, ...] = ()


def optimize(
    returns: np.ndarray,
    strategy: str,
    *,
    limits: Limits | None = None,
    risk_free_rate: float = 0.02,
    covariance_method: str = "ledoit_wolf",
    risk_factors: int | None = None,
    returns_method: str = "ewma",
    target_volatility_: float | None = None,
    target_return: float | None = None,
    user_age: float | None = None,
    cvar_confidence: float = 0.95,
    hrp_linkage: str = "single",
    views: ViewSet | None = None,
    prior_weights: np.ndarray | None = None,
    tau: float = 0.05,
    symbols: Sequence[str] | None = None,
) -> Allocation:
    """Weights by `strategy` within `limits` (long-only, fully invested by default);
    a name that is not built in is a registered plugin's (registry.py), given `symbols`."""
    returns = np.asarray(returns, dtype=float)
    if returns.ndim != 2 or returns.shape[0] < 2:
        raise InfeasibleError(
            "not enough price history to estimate anything",
            [Problem("at least two days of returns are needed", "Settings")],
        )
    if not np.all(np.isfinite(returns)):
        raise InfeasibleError(
            "the price history has gaps", [Problem("returns contain NaN or infinity")]
        )
    n = returns.shape[1]
    limits = limits or Limits.long_only(n)
    full = covariance(returns, covariance_method)  # type: ignore[arg-type]
    # With risk_factors the optimizer sees the factor model (principal_factors gives the
    # full estimate back when k is not below its rank); the volatility and risk
    # contributions reported are the full estimate's, so the approximation shows there.
    risk = principal_factors(full, risk_factors) if risk_factors else full
    notes: list[str] = []
    if risk is not full:
        notes.append(
            f"optimized on {risk_factors} principal components of the covariance plus "
            "each asset's own variance (risk_factors); risk figures use the full estimate"
        )
    mu = expected_returns(
        returns,
        returns_method,  # type: ignore[arg-type]
        risk_free_rate=risk_free_rate,
        risk=full,
        prior_weights=prior_weights,
    )
    scoring_risk: RiskModel = full
    if strategy == "equal_weight":
        w = equal_weight(limits)
    elif strategy == "min_variance":
        w = min_variance(risk, limits)
    elif strategy == "max_sharpe":
        w = max_sharpe(mu, risk, limits, risk_free_rate)
    elif strategy == "target_volatility":
        if target_volatility_ is None:
            raise _missing("target_volatility")
        w = target_volatility(mu, risk, limits, target_volatility_)
    elif strategy == "efficient_return":
        if target_return is None:
            raise _missing("target_return")
        w = efficient_return(mu, risk, limits, target_return)
    elif strategy == "risk_parity":
        w = risk_parity(risk, limits)
    elif strategy == "hrp":
        w = hrp(returns, limits, hrp_linkage)  # type: ignore[arg-type]
    elif strategy == "min_cvar":
        w = min_cvar(returns, limits, cvar_confidence)
    elif strategy == "black_litterman":
        prior = np.full(n, 1.0 / n) if prior_weights is None else np.asarray(prior_weights)
        cov = risk.cov
        delta = implied_risk_aversion(returns @ prior, risk_free_rate)
        pi = delta * cov @ prior + risk_free_rate
        if views is None or len(views.values) == 0:
            mu, post = pi, cov
            notes.append("no views: the prior (equilibrium) returns are used as they are")
        else:
            mu, post = black_litterman(cov, pi, views.picks, views.values, views.confidences, tau)
        scoring_risk = RiskModel.from_cov(post)
        w = max_sharpe(mu, scoring_risk, limits, risk_free_rate)
        notes.append(f"risk aversion δ = {delta:.3f} implied by the prior portfolio's history")
    elif strategy == "glide_path":
        if user_age is None:
            raise _missing("user_age")
        share = glide_share(user_age)
        growth = max_sharpe(mu, risk, limits, risk_free_rate)
        safe = min_variance(risk, limits)
        w = share * growth + (1.0 - share) * safe
        notes.append(
            f"age {user_age:g}: {share:.0%} maximum-Sharpe portfolio, "
            f"{1 - share:.0%} minimum-variance portfolio"
        )
    elif (plugin := registry.registered(strategy)) is not None:
        given = (target_volatility_, target_return, user_age, cvar_confidence, hrp_linkage)
        given += (tau, covariance_method, returns_method, risk_factors)
        labels = tuple(symbols or (f"asset {i + 1}" for i in range(n)))
        options = dict(zip(registry.OPTIONS, given, strict=True))
        context = registry.StrategyContext(
            labels, limits, mu, risk.cov, risk_free_rate, prior_weights, options
        )
        w = registry.run(plugin, returns, context)
        # Said in the Log: which package's method set these targets, for the file.
        notes.append(f"strategy {strategy} from the installed plugin {plugin.origin}")
    else:
        known = ", ".join((*STRATEGIES, *registry.names()))
        raise InfeasibleError(
            f"unknown strategy {strategy!r}",
            [Problem(f"strategy must be one of {known}", "Settings")],
        )
    return describe(w, mu, scoring_risk, returns, risk_free_rate, cvar_confidence, notes)


def describe(
    w: np.ndarray,
    mu: np.ndarray,
    risk: RiskModel,
    returns: np.ndarray,
    risk_free_rate: float,
    cvar_confidence: float = 0.95,
    notes: list[str] | None = None,
) -> Allocation:
    variance = risk.variance(w)
    vol = float(np.sqrt(max(variance, 0.0)))
    ret = float(mu @ w)
    per_asset = np.sqrt(np.maximum(np.sum(risk.factor**2, axis=0) + risk.diagonal, 0.0))
    return Allocation(
        weights=w,
        expected_returns=np.asarray(mu, dtype=float),
        volatilities=per_asset,
        risk_contributions=risk_contributions(w, risk),
        portfolio_return=ret,
        portfolio_volatility=vol,
        sharpe=(ret - risk_free_rate) / vol if vol > 0 else 0.0,
        cvar=cvar(returns, w, cvar_confidence),
        notes=tuple(notes or ()),
    )


def _missing(setting: str) -> InfeasibleError:
    return InfeasibleError(
        f"the strategy needs the {setting} setting",
        [Problem(f"set {setting} on the Settings sheet", "Settings")],
    )


def settings_options(settings: Any) -> dict[str, Any]:
    """optimize() keyword arguments from a Settings model."""
    return {
        "risk_free_rate": settings.risk_free_rate,
        "covariance_method": settings.covariance,
        "risk_factors": settings.risk_factors,
        "returns_method": settings.expected_returns,
        "target_volatility_": settings.target_volatility,
        "target_return": settings.target_return,
        "user_age": settings.user_age,
        "cvar_confidence": settings.cvar_confidence,
        "hrp_linkage": settings.hrp_linkage,
        "tau": settings.bl_tau,
    }
