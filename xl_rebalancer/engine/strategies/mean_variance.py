"""Mean-variance portfolios: minimum variance, maximum Sharpe, efficient return,
target volatility, and equal weight within limits.

The variance enters as a dense quadratic term (see _risk for why); the volatility
cone of target_volatility uses Σ's Cholesky factor.
"""

from __future__ import annotations

import numpy as np

from ...errors import InfeasibleError, Problem
from ..estimators import RiskModel
from .conic import Program
from .limits import Limits

# Factor form when the factor has at most this share of the assets' count in rows.
FACTOR_FORM_SHARE = 0.25


def _risk(prog: Program, risk: RiskModel, w: slice) -> None:
    """Objective ½·2·wᵀΣw = wᵀΣw over block w.

    Σ goes in dense for the full estimates. Measured (docs/performance.md): with a
    full-rank estimate the factor form y = Fw only adds fill-in, 2-4× slower at 500
    assets and 4× at 2,000 with 756 days. A statistical factor model (the setting
    risk_factors: k rows, k much smaller than n) goes in factor form, yᵀy + wᵀDw with
    y = Fw: a diagonal quadratic and k dense rows, tens of milliseconds at 2,000.
    """
    k, n = risk.factor.shape
    if k > FACTOR_FORM_SHARE * n:
        prog.quadratic(w, 2.0 * risk.cov)
        return
    y = prog.variables(k)
    prog.quadratic(y, np.full(k, 2.0))
    prog.quadratic(w, 2.0 * risk.diagonal)
    prog.equal([(y, np.eye(k)), (w, -risk.factor)], np.zeros(k))


def _check(limits: Limits, what: str) -> None:
    conflicts = limits.conflicts()
    if conflicts:
        raise InfeasibleError(f"{what}: the weight limits contradict each other", conflicts)


def min_variance(risk: RiskModel, limits: Limits) -> np.ndarray:
    _check(limits, "min_variance")
    k, n = risk.factor.shape
    if not limits.groups and k > FACTOR_FORM_SHARE * n:
        w = box_min_variance(risk.cov, limits.lower, limits.upper)
        if w is not None:
            return _clean(w)
    prog = Program()
    w = prog.variables(risk.n)
    _risk(prog, risk, w)
    limits.impose(prog, w)
    return _clean(prog.solve("min_variance")[w])


def box_min_variance(
    cov: np.ndarray, lower: np.ndarray, upper: np.ndarray, max_iterations: int = 60
) -> np.ndarray | None:
    """Least wᵀΣw with the weights summing to 1 and lower ≤ w ≤ upper, by block principal
    pivoting on the active set; None when it does not settle (the interior point then
    solves it).

    Why: the dense interior point factors the whole (n+1)-square KKT system at every
    one of its ~15 iterations (2,000 assets: about 3 s, slower than PyPortfolioOpt's
    OSQP). With the bounds only, the optimum is the solution of one linear system over
    the assets not at a bound, so this guesses that set, solves, and moves every asset
    that breaks a bound, or whose bound pushes the wrong way, to the other side, until
    none does (Júdice & Pires 1994; a handful of Cholesky factorizations of the free
    block). The result meets the optimality conditions to rounding, checked before it
    is returned, so it is exact, not a tolerance-stopped approximation.
    """
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    n = cov.shape[0]
    lower = np.asarray(lower, dtype=float)
    upper = np.asarray(upper, dtype=float)
    state = np.zeros(n, dtype=np.int8)  # 0 free, -1 at its lower bound, +1 at its upper
    state[upper <= lower] = -1  # a fixed weight
    scale = float(np.abs(np.diag(cov)).max()) or 1.0
    best = n + 1
    stalled = 0
    for _ in range(max_iterations):
        free = np.flatnonzero(state == 0)
        bound = np.flatnonzero(state != 0)
        w = np.where(state < 0, lower, np.where(state > 0, upper, 0.0))
        budget = 1.0 - float(w[bound].sum())
        if free.size == 0:
            if abs(budget) > 1e-12:
                return None
            g = cov @ w  # any budget price between the two sides' gradients will do
            at_lower, at_upper = g[state < 0], g[state > 0]
            ends = [float(at_lower.min())] if at_lower.size else []
            ends += [float(at_upper.max())] if at_upper.size else []
            lam = sum(ends) / len(ends)
        else:
            block = cov[np.ix_(free, free)]
            push = -(cov[np.ix_(free, bound)] @ w[bound]) if bound.size else np.zeros(free.size)
            try:
                factor = cho_factor(block, check_finite=False)
            except LinAlgError:
                return None
            a = cho_solve(factor, np.ones(free.size), check_finite=False)
            c = cho_solve(factor, push, check_finite=False)
            if a.sum() <= 0:
                return None
            lam = (budget - c.sum()) / a.sum()
            w[free] = c + lam * a
        reduced = cov @ w - lam  # the gradient's part the budget does not absorb
        tol_w = 1e-12
        tol_g = 1e-11 * scale
        below = (state == 0) & (w < lower - tol_w)
        above = (state == 0) & (w > upper + tol_w)
        release = ((state < 0) & (reduced < -tol_g) & (upper > lower)) | (
            (state > 0) & (reduced > tol_g)
        )
        wrong = int(below.sum() + above.sum() + release.sum())
        if wrong == 0:
            return np.clip(w, lower, upper)
        if wrong < best:
            best, stalled = wrong, 0
        else:
            stalled += 1
        if stalled >= 3:
            # Block moves can cycle: then one move at a time, the worst first (Murty's
            # single pivots); should that not settle either, the interior point solves it.
            score = np.where(below, lower - w, 0.0) + np.where(above, w - upper, 0.0)
            score = score / (np.abs(upper - lower) + 1.0) + np.where(
                release, np.abs(reduced) / scale, 0.0
            )
            only = np.arange(n) == int(np.argmax(score))
            below, above, release = below & only, above & only, release & only
        moved = state.copy()
        moved[below] = -1
        moved[above] = 1
        moved[release] = 0
        if not np.any(moved == 0):
            # The budget needs a free weight: keep the one that overshot its bound least.
            over = np.flatnonzero(below | above)
            if over.size == 0:
                return None
            miss = np.maximum(lower - w, w - upper)[over]
            moved[over[int(np.argmin(miss))]] = 0
        state = moved
    return None


def efficient_return(
    mu: np.ndarray, risk: RiskModel, limits: Limits, target_return: float
) -> np.ndarray:
    """Least variance with expected return at least `target_return`."""
    _check(limits, "efficient_return")
    prog = Program()
    w = prog.variables(risk.n)
    _risk(prog, risk, w)
    limits.impose(prog, w)
    prog.at_most([(w, -np.asarray(mu)[None, :])], -target_return)
    hints = [
        Problem(
            f"target_return {target_return:.2%} is out of reach: the best any asset "
            f"offers is {float(np.max(mu)):.2%}",
            "Settings",
        )
    ]
    return _clean(prog.solve("efficient_return", hints)[w])


def max_sharpe(
    mu: np.ndarray, risk: RiskModel, limits: Limits, risk_free_rate: float = 0.0
) -> np.ndarray:
    """Highest (μ − rf)/σ, solved as a QP in scaled weights y = κw (Cornuejols-Tütüncü)."""
    _check(limits, "max_sharpe")
    excess = np.asarray(mu, dtype=float) - risk_free_rate
    if np.max(excess) <= 0:
        raise InfeasibleError(
            "max_sharpe: no asset's expected return beats risk_free_rate",
            [
                Problem(
                    f"risk_free_rate {risk_free_rate:.2%} is above every expected return",
                    "Settings",
                )
            ],
        )
    prog = Program()
    y = prog.variables(risk.n)
    kappa = prog.variables(1)
    _risk(prog, risk, y)
    limits.impose(prog, y, scale=kappa)
    prog.equal([(y, excess[None, :])], 1.0)
    prog.at_most([(kappa, -np.ones((1, 1)))], 0.0)
    x = prog.solve("max_sharpe")
    return _clean(x[y] / x[kappa][0])


def target_volatility(mu: np.ndarray, risk: RiskModel, limits: Limits, target: float) -> np.ndarray:
    """Highest expected return with volatility at most `target` (a second-order cone)."""
    _check(limits, "target_volatility")
    compact = risk.compact()
    n = compact.factor.shape[1]
    prog = Program()
    w = prog.variables(n, -np.asarray(mu, dtype=float))
    limits.impose(prog, w)
    # (target, F w, √d ∘ w) in the cone:  rhs − M w  with rhs = (target, 0, 0), M = −[0; F; √d]
    rows = [np.zeros((1, n)), -compact.factor]
    if np.any(compact.diagonal):
        rows.append(-np.diag(np.sqrt(compact.diagonal)))
    matrix = np.vstack(rows)
    rhs = np.zeros(matrix.shape[0])
    rhs[0] = target
    prog.soc([(w, matrix)], rhs)
    try:
        return _clean(prog.solve("target_volatility")[w])
    except InfeasibleError:
        # Only now is the least reachable volatility worth its own solve: to say how
        # calm the limits allow (it was once solved on every call, 20% of the time at
        # 2,000 assets, only to word this message).
        floor = np.sqrt(risk.variance(min_variance(risk, limits)))
        if target < floor - 1e-9:
            raise InfeasibleError(
                "target_volatility: no portfolio is that calm",
                [
                    Problem(
                        f"target_volatility {target:.2%} is below the least volatility the "
                        f"limits allow ({floor:.2%})",
                        "Settings",
                    )
                ],
            ) from None
        raise


def equal_weight(limits: Limits) -> np.ndarray:
    """1/n each, or the nearest weights to it that the limits allow."""
    n = limits.n
    even = np.full(n, 1.0 / n)
    if limits.satisfied(even):
        return even
    return project(even, limits, "equal_weight")


def project(target: np.ndarray, limits: Limits, what: str) -> np.ndarray:
    """The weights within limits nearest (least squares) to `target`."""
    _check(limits, what)
    prog = Program()
    w = prog.variables(limits.n, -2.0 * target)
    prog.quadratic(w, np.full(limits.n, 2.0))
    limits.impose(prog, w)
    return _clean(prog.solve(what)[w])


def _clean(w: np.ndarray) -> np.ndarray:
    """Interior-point dust (1e-10 weights) to zero, then renormalized."""
    w = np.where(w < 1e-9, 0.0, w)  # long-only: solver dust below zero is zero
    return w / w.sum()
