"""Allocation strategies timed beside PyPortfolioOpt and skfolio, in the same run.

Data: synthetic 5-factor daily returns (T = 756 days) for N assets, as in
shared/spec/performance-notes.md; every method gets the same returns and the same
sample covariance. Long-only, w ≤ max(0.1, 2/N) where a cap applies. Median of
`--repeat` runs, after one warm-up; import time is not counted for anyone.

    python benchmarks/strategies_bench.py [--sizes 20 100 500 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np

from xl_rebalancer.engine import estimators as est
from xl_rebalancer.engine.strategies import Limits, ViewSet
from xl_rebalancer.engine.strategies import mean_variance as mv
from xl_rebalancer.engine.strategies import risk_based as rb
from xl_rebalancer.engine.strategies.views import black_litterman

warnings.filterwarnings("ignore")


FACTORS = 10  # principal components of the risk_factors rows (setting risk_factors)


def returns_for(n: int, t: int = 756, seed: int = 3) -> np.ndarray:
    return _generated(n, t, seed)[0]


def _generated(n: int, t: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Daily returns, and the daily covariance they are drawn from (5 factors and own
    noise)."""
    rng = np.random.default_rng(seed)
    loadings = rng.normal(0.0, 1.0, (n, 5)) * 0.006
    factors = rng.normal(0.0, 1.0, (t, 5))
    own = rng.uniform(0.005, 0.02, n)
    noise = rng.normal(0.0, 1.0, (t, n)) * own
    drift = rng.uniform(-0.0002, 0.0008, n)
    return factors @ loadings.T + noise + drift, loadings @ loadings.T + np.diag(own**2)


def _median_runs(func: Callable[[], object], repeat: int) -> float:
    start = time.perf_counter()
    func()
    first = time.perf_counter() - start
    runs = [first] if first >= 5 else []
    for _ in range(repeat if first < 5 else 0):
        start = time.perf_counter()
        func()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def timed(name: str, who: str, n: int, days: int, repeat: int, budget: float) -> float | None:
    """Median seconds of one strategy by one library, in a fresh child process.

    None when the child is still busy after `budget` seconds per run (plus time to
    build the data): it is killed then, so a peer that takes ten minutes at 2,000
    assets costs the benchmark about `budget`. A child process rather than a fork,
    because forking after the BLAS and solver thread pools have started can deadlock.
    """
    command = [sys.executable, __file__, "--one", name, who, str(n), str(days), str(repeat)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=60 + budget * (repeat + 1)
        )
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["?"]
        print(f"{name}/{who} at {n} failed: {last[0]}", file=sys.stderr)
        return float("nan")
    seconds = float(done.stdout.strip().splitlines()[-1])
    return None if seconds > budget else seconds


def cases(returns: np.ndarray) -> dict[str, dict[str, Callable[[], object]]]:
    import pandas as pd
    from pypfopt import BlackLittermanModel, EfficientCVaR, EfficientFrontier, HRPOpt
    from skfolio import RiskMeasure
    from skfolio.optimization import (
        HierarchicalRiskParity,
        MeanRisk,
        ObjectiveFunction,
        RiskBudgeting,
    )

    _t, n = returns.shape
    cap = max(0.1, 2.0 / n)
    limits = Limits.long_only(n, cap)
    risk = est.covariance(returns, "sample")
    mu = est.expected_returns(returns, "mean")
    frame = pd.DataFrame(returns)
    cov = pd.DataFrame(risk.cov)
    mu_s = pd.Series(mu)
    vol = float(np.sqrt(risk.variance(mv.min_variance(risk, limits)))) * 1.5
    picks = np.zeros((2, n))
    picks[0, 0] = 1.0
    picks[1, 1], picks[1, 2] = 1.0, -1.0
    views = ViewSet(picks, np.array([0.10, 0.02]), np.array([0.5, 0.5]))
    prior = risk.cov @ np.full(n, 1.0 / n) * 2.5

    def ours_bl() -> object:
        post_mu, post_cov = black_litterman(risk.cov, prior, picks, views.values, views.confidences)
        return mv.max_sharpe(post_mu, est.RiskModel.from_cov(post_cov), limits, 0.0)

    def pypfopt_bl() -> object:
        model = BlackLittermanModel(
            cov,
            pi=prior,
            P=picks,
            Q=views.values,
            omega="idzorek",
            view_confidences=views.confidences,
        )
        ef = EfficientFrontier(model.bl_returns(), model.bl_cov(), weight_bounds=(0, cap))
        return ef.max_sharpe(risk_free_rate=0.0)

    model = est.principal_factors(risk, FACTORS)
    model_cov = pd.DataFrame(model.cov)

    return {
        # The factor model's time includes finding the components; the peer solves the
        # same model's covariance given dense (it has no factor form): same weights.
        f"min_variance_k{FACTORS}": {
            "ours": lambda: mv.min_variance(est.principal_factors(risk, FACTORS), limits),
            "pypfopt": lambda: EfficientFrontier(
                None, model_cov, weight_bounds=(0, cap)
            ).min_volatility(),
        },
        "min_variance": {
            "ours": lambda: mv.min_variance(risk, limits),
            "pypfopt": lambda: EfficientFrontier(
                None, cov, weight_bounds=(0, cap)
            ).min_volatility(),
            "skfolio": lambda: MeanRisk(max_weights=cap).fit(returns),
        },
        "max_sharpe": {
            "ours": lambda: mv.max_sharpe(mu, risk, limits, 0.0),
            "pypfopt": lambda: EfficientFrontier(mu_s, cov, weight_bounds=(0, cap)).max_sharpe(
                risk_free_rate=0.0
            ),
            "skfolio": lambda: MeanRisk(
                objective_function=ObjectiveFunction.MAXIMIZE_RATIO, max_weights=cap
            ).fit(returns),
        },
        "target_volatility": {
            "ours": lambda: mv.target_volatility(mu, risk, limits, vol),
            "pypfopt": lambda: EfficientFrontier(mu_s, cov, weight_bounds=(0, cap)).efficient_risk(
                vol
            ),
        },
        "risk_parity": {
            "ours": lambda: rb.risk_parity(risk, Limits.long_only(n)),
            "skfolio": lambda: RiskBudgeting(risk_measure=RiskMeasure.VARIANCE).fit(returns),
        },
        "hrp": {
            "ours": lambda: rb.hrp(returns, None, "single"),
            "pypfopt": lambda: HRPOpt(frame).optimize("single"),
            "skfolio": lambda: HierarchicalRiskParity().fit(returns),
        },
        "min_cvar": {
            "ours": lambda: rb.min_cvar(returns, limits, 0.95),
            "pypfopt": lambda: EfficientCVaR(None, frame, weight_bounds=(0, cap)).min_cvar(),
            "skfolio": lambda: MeanRisk(risk_measure=RiskMeasure.CVAR, max_weights=cap).fit(
                returns
            ),
        },
        "black_litterman": {"ours": ours_bl, "pypfopt": pypfopt_bl},
    }


def _vol(risk: est.RiskModel, weights: np.ndarray) -> str:
    return f"{np.sqrt(risk.variance(weights)):.3%}"  # the estimate is annual


def _true_vol(truth: np.ndarray, weights: np.ndarray) -> str:
    return f"{np.sqrt(weights @ truth @ weights * est.PERIODS):.3%}"  # the truth is daily


def factor_error(sizes: list[int], days: int) -> None:
    """How far the factor model's minimum-variance portfolio is from the full sample
    estimate's: its volatility under that estimate (what the approximation gives up
    in-sample) and under the covariance the returns were drawn from (what it is worth)."""
    print(
        "| N | k | time full / factor model | weights apart (L1) "
        "| volatility under the estimate | volatility under the true covariance |"
    )
    print("|---|---|---|---|---|---|")
    for n in sizes:
        returns, truth = _generated(n, days, 3)
        risk = est.covariance(returns, "sample")
        limits = Limits.long_only(n, max(0.1, 2.0 / n))
        start = time.perf_counter()
        exact = mv.min_variance(risk, limits)
        full_time = time.perf_counter() - start
        for k in (5, FACTORS, 20):
            start = time.perf_counter()
            w = mv.min_variance(est.principal_factors(risk, k), limits)
            model_time = time.perf_counter() - start

            print(
                f"| {n} | {k} | {full_time * 1000:.0f} / {model_time * 1000:.0f} ms "
                f"| {np.abs(w - exact).sum():.3f} | {_vol(risk, w)} against {_vol(risk, exact)} "
                f"| {_true_vol(truth, w)} against {_true_vol(truth, exact)} |",
                flush=True,
            )


def _cell(times: dict[str, float | None], who: str, ours: float, budget: float) -> tuple[str, str]:
    if who not in times:
        return "—", "—"
    value = times[who]
    if value is None:
        return f"> {budget:.0f} s", f"> {budget / ours:.0f}×"
    if value != value:  # NaN: the run failed (see stderr)
        return "failed", "—"
    return f"{value * 1000:.1f} ms", f"{value / ours:.1f}×"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 500, 2000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per peer run")
    parser.add_argument("--strategies", nargs="+", help="only these strategies")
    parser.add_argument(
        "--days",
        type=int,
        default=756,
        help="days of returns (risk parity needs more days than assets)",
    )
    parser.add_argument(
        "--factor-error",
        action="store_true",
        help="the risk_factors model's minimum variance against the full estimate's",
    )
    parser.add_argument("--one", nargs=5, help=argparse.SUPPRESS)  # child: name who n days repeat
    args = parser.parse_args()
    if args.factor_error:
        factor_error(args.sizes, args.days)
        return
    if args.one:
        name, who, n, days, repeat = args.one
        run = cases(returns_for(int(n), int(days)))[name][who]
        print(_median_runs(run, int(repeat)))
        return
    print(
        "| strategy | N | ours | PyPortfolioOpt | skfolio | PyPortfolioOpt / ours | skfolio / ours |"
    )
    print("|---|---|---|---|---|---|---|")
    for n in args.sizes:
        returns = returns_for(n, args.days)
        for name, runners in cases(returns).items():
            if args.strategies and name not in args.strategies:
                continue
            times = {
                who: timed(
                    name, who, n, args.days, args.repeat, 600.0 if who == "ours" else args.budget
                )
                for who in runners
            }
            ours = times["ours"] or float("nan")

            p, pr = _cell(times, "pypfopt", ours, args.budget)
            s, sr = _cell(times, "skfolio", ours, args.budget)
            print(f"| {name} | {n} | {ours * 1000:.1f} ms | {p} | {s} | {pr} | {sr} |", flush=True)


if __name__ == "__main__":
    main()
