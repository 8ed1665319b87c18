"""Risk parity (equal risk contribution), hierarchical risk parity and minimum CVaR."""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..estimators import RiskModel
from ..measures import tail_loss
from .conic import Program
from .limits import Limits
from .mean_variance import _check, _clean, _risk, project


def risk_contributions(w: np.ndarray, risk: RiskModel) -> np.ndarray:
    """Each asset's share of portfolio variance, w_i (Σw)_i / wᵀΣw; they sum to one."""
    sigma_w = risk.factor.T @ (risk.factor @ w) + risk.diagonal * w
    total = float(w @ sigma_w)
    shares = w * sigma_w / total if total > 0 else np.zeros_like(w)
    return np.where(np.abs(shares) < 1e-12, 0.0, shares)


def risk_parity(risk: RiskModel, limits: Limits, budgets: np.ndarray | None = None) -> np.ndarray:
    """Weights whose risk contributions match `budgets` (equal by default).

    Spinu's convex form: minimize ½ xᵀΣx − Σ b_i log x_i over x > 0, then w = x / Σx,
    whose risk contributions are exactly b. Without limits, Newton's method solves it
    directly; with limits the logarithms are exponential cones for Clarabel, and they are
    imposed on x homogeneously (lower·Σx ≤ x ≤ upper·Σx), which keeps the
    problem convex; where a limit binds, contributions are as equal as it allows.
    """
    _check(limits, "risk_parity")
    n = risk.n
    b = np.full(n, 1.0 / n) if budgets is None else np.asarray(budgets, dtype=float)
    if limits.trivial:
        # Without limits the problem is smooth and strictly convex: damped Newton from
        # the inverse-volatility portfolio converges in a dozen steps, where the
        # interior point stalls on 2,000 exponential cones (InsufficientProgress).
        solution = _spinu_newton(risk.cov, b)
        if solution is not None:
            return _clean(solution)
        _refuse_singular(risk.cov)
    prog = Program()
    x = prog.variables(n)
    u = prog.variables(n, -b)
    _risk(prog, risk, x)  # xᵀΣx, not ½xᵀΣx: x scales by 1/√2, w = x/Σx does not
    if not limits.trivial:
        total = prog.variables(1)
        limits.impose(prog, x, scale=total)
    # (u_i, 1, x_i) ∈ K_exp  ⇔  u_i ≤ log x_i ;  rows are rhs − M·vars
    import scipy.sparse as sp

    rows = np.arange(n) * 3
    pick_u = sp.coo_matrix((-np.ones(n), (rows, np.arange(n))), shape=(3 * n, n))
    pick_x = sp.coo_matrix((-np.ones(n), (rows + 2, np.arange(n))), shape=(3 * n, n))
    rhs = np.zeros(3 * n)
    rhs[rows + 1] = 1.0
    prog.exp([(u, pick_u), (x, pick_x)], rhs)
    solution = np.clip(prog.solve("risk_parity")[x], 1e-12, None)
    return _clean(solution)


def _refuse_singular(cov: np.ndarray) -> None:
    """Equal risk contributions are not defined when some mix of assets has no risk at
    all, as with the sample covariance of more assets than days of history."""
    from ...errors import InfeasibleError, Problem

    eigenvalues = np.linalg.eigvalsh(cov)
    if eigenvalues[0] <= 1e-12 * max(eigenvalues[-1], 1e-300):
        rank = int(np.sum(eigenvalues > 1e-12 * eigenvalues[-1]))
        raise InfeasibleError(
            f"risk_parity: the covariance of {len(cov)} assets has rank {rank} (fewer days "
            "of history than assets), so some mix of them shows no risk and equal risk "
            "contributions are not defined",
            [Problem("use covariance = ledoit_wolf, or a longer lookback_days", "Settings", None)],
        )


def _spinu_newton(cov: np.ndarray, b: np.ndarray, steps: int = 100) -> np.ndarray | None:
    """Minimize ½xᵀΣx − bᵀlog x by Newton's method with a backtracking line search.

    At the optimum Σx = b/x, so x_i(Σx)_i = b_i: the risk contributions are b exactly.
    None when it has not converged (the caller then uses the conic program).
    """
    vol = np.sqrt(np.diag(cov))
    if not np.all(vol > 0) or not np.all(np.isfinite(cov)):
        return None
    x = 1.0 / vol
    x /= np.sqrt(x @ cov @ x)  # at the optimum xᵀΣx = Σb = 1

    def objective(v: np.ndarray) -> float:
        return 0.5 * float(v @ cov @ v) - float(b @ np.log(v))

    value = objective(x)
    for _ in range(steps):
        gradient = cov @ x - b / x
        if np.max(np.abs(gradient * x) / b) < 1e-10:  # contributions b to 1e-10
            return x
        step = np.linalg.solve(cov + np.diag(b / x**2), gradient)
        decrease = float(gradient @ step)
        t = 1.0
        while True:
            trial = x - t * step
            if np.all(trial > 0):
                trial_value = objective(trial)
                if trial_value <= value - 0.25 * t * decrease:
                    break
            if t < 1e-12 or not np.all(np.isfinite(step)):
                return None  # no descent left to find: let the conic program decide
            t *= 0.5
        x, value = trial, trial_value
    return None


def hrp(
    returns: np.ndarray,
    limits: Limits | None = None,
    linkage: Literal["single", "ward", "complete", "average"] = "single",
) -> np.ndarray:
    """Hierarchical risk parity (López de Prado, 2016), as PyPortfolioOpt computes it.

    Correlation distance √((1 − ρ)/2), hierarchical clustering (scipy), assets in the
    tree's leaf order, then recursive bisection of that list, each half's share set by
    the inverse of its inverse-variance portfolio's variance. Weight limits, when any,
    are met by the nearest weights (least squares) that satisfy them.
    """
    import scipy.cluster.hierarchy as sch
    from scipy.spatial.distance import squareform

    returns = np.asarray(returns, dtype=float)
    cov = np.cov(returns, rowvar=False)
    std = np.sqrt(np.diag(cov))
    corr = cov / np.outer(std, std)
    distance = np.sqrt(np.clip((1.0 - corr) / 2.0, 0.0, 1.0))
    tree = sch.linkage(squareform(distance, checks=False), linkage)
    order = sch.to_tree(tree, rd=False).pre_order()
    w = np.ones(len(order))
    clusters = [order]
    while clusters:
        clusters = [
            c[start:stop]
            for c in clusters
            for start, stop in ((0, len(c) // 2), (len(c) // 2, len(c)))
            if len(c) > 1
        ]
        for first, second in zip(clusters[::2], clusters[1::2], strict=True):
            v1, v2 = _cluster_variance(cov, first), _cluster_variance(cov, second)
            alpha = 1.0 - v1 / (v1 + v2)
            w[first] *= alpha
            w[second] *= 1.0 - alpha
    if limits is not None and not limits.satisfied(w):
        return project(w, limits, "hrp")
    return w


def _cluster_variance(cov: np.ndarray, members: list[int]) -> float:
    sub = cov[np.ix_(members, members)]
    ivp = 1.0 / np.diag(sub)
    ivp /= ivp.sum()
    return float(ivp @ sub @ ivp)


def min_cvar(returns: np.ndarray, limits: Limits, beta: float = 0.95) -> np.ndarray:
    """Least conditional value at risk of daily losses at confidence β (Rockafellar-
    Uryasev): minimize α + Σ u_t / ((1 − β) T) with u_t ≥ −r_tᵀw − α, u ≥ 0.

    A pure LP, so HiGHS (through scipy) solves it to a vertex (simplex, or interior point
    with crossover for large problems): exact, which keeps the weights the same on every
    machine, and faster than the peers' conic interior points through cvxpy.
    """
    import scipy.sparse as sp
    from scipy.optimize import linprog

    from ...errors import InfeasibleError, Problem

    _check(limits, "min_cvar")
    returns = np.asarray(returns, dtype=float)
    t, n = returns.shape
    cost = np.concatenate([np.zeros(n), [1.0], np.full(t, 1.0 / ((1.0 - beta) * t))])
    tail = sp.hstack([sp.csr_matrix(-returns), -np.ones((t, 1)), -sp.identity(t)]).tocsr()
    rows, rhs = [tail], [np.zeros(t)]
    for g in limits.groups:
        row = np.zeros(n + 1 + t)
        row[list(g.members)] = 1.0
        if g.upper is not None:
            rows.append(sp.csr_matrix(row[None, :]))
            rhs.append(np.array([g.upper]))
        if g.lower is not None:
            rows.append(sp.csr_matrix(-row[None, :]))
            rhs.append(np.array([-g.lower]))
    budget = sp.csr_matrix(np.concatenate([np.ones(n), np.zeros(1 + t)])[None, :])
    bounds = np.column_stack(
        [
            np.concatenate([limits.lower, [-np.inf], np.zeros(t)]),
            np.concatenate([limits.upper, [np.inf], np.full(t, np.inf)]),
        ]
    )
    result = linprog(
        cost,
        A_ub=sp.vstack(rows).tocsr(),
        b_ub=np.concatenate(rhs),
        A_eq=budget,
        b_eq=[1.0],
        bounds=bounds,
        # Dual simplex wins on small problems; from a few hundred assets HiGHS's interior
        # point (with crossover, so still a vertex) is about twice as fast (1,000 assets
        # × 2,000 days: 11 s against 19 s).
        method="highs-ipm" if n >= 200 else "highs-ds",
    )
    if result.status != 0 or result.x is None:
        raise InfeasibleError(
            f"min_cvar: the optimizer found no portfolio ({result.message})",
            [Problem("check the MinWeight/MaxWeight limits", "Constraints")],
        )
    return _clean(np.asarray(result.x[:n]))


def cvar(returns: np.ndarray, w: np.ndarray, beta: float = 0.95) -> float:
    """Historical CVaR of daily losses at β, as min_cvar minimizes it (engine/measures.py)."""
    return tail_loss(np.asarray(returns) @ w, beta)[1]
