"""Tax regret and solve time over generated small households (issue 20).

Each household: a taxable account (up to three lots per fund), a traditional IRA and a
Roth; seven funds in three asset classes with random holdings, prices, bases and
acquisition dates; asset-class targets. For each the production plan is compared with
the best alternative found at the same or lower drift: the same household with every
gain lot the plan sells locked. Tax regret is the plan's tax above that alternative's
(0 when the alternative drifts more or pays as much); tax is the run's netted tax plus
the carried loss its gains use up at the long-term rate, as the objective counts it. Time is the engine's rebalance.

    python benchmarks/trade_quality_bench.py [--households 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time

from xl_rebalancer.engine.rebalance import rebalance
from xl_rebalancer.engine.tax import carryover_rate
from xl_rebalancer.models import Account, Holding, Portfolio, Settings, Target, TaxLot
from xl_rebalancer.models.results import RebalanceResult

VALUATION = dt.date(2026, 1, 15)
FUNDS = {
    "US": ["VTI", "SCHB", "ITOT"],
    "INTL": ["VXUS", "IXUS"],
    "BONDS": ["BND", "AGG"],
}


def random_household(seed: int) -> tuple[Portfolio, dict[str, float]]:
    rng = random.Random(seed)
    prices = {s: round(rng.uniform(20, 300), 2) for funds in FUNDS.values() for s in funds}
    accounts = [
        Account(account="Taxable", type="taxable", cash=round(rng.uniform(0, 5_000), 2)),
        Account(account="IRA", type="tax_deferred", cash=round(rng.uniform(0, 3_000), 2)),
        Account(account="Roth", type="tax_exempt", cash=0.0),
    ]
    holdings, lots = [], []
    for cls, funds in FUNDS.items():
        for symbol in funds:
            for account in accounts:
                if rng.random() < 0.45:
                    continue
                shares = rng.randint(5, 400)
                holdings.append(
                    Holding(account=account.account, symbol=symbol, shares=shares, asset_class=cls)
                )
                if account.type != "taxable":
                    continue
                left, n = shares, 0
                while left > 0:
                    n += 1
                    part = left if n == 3 else rng.randint(1, left)
                    basis = prices[symbol] * rng.uniform(0.5, 1.3) * part
                    acquired = VALUATION - dt.timedelta(days=rng.randint(40, 3_000))
                    lots.append(
                        TaxLot(
                            account="Taxable",
                            symbol=symbol,
                            lot_id=f"{symbol}-{n}",
                            acquired=acquired,
                            shares=part,
                            cost_basis=round(basis, 2),
                        )
                    )
                    left -= part
    held = {h.symbol for h in holdings}
    for cls, funds in FUNDS.items():
        if not held & set(funds):  # a class needs a fund to buy
            holdings.append(Holding(account="IRA", symbol=funds[0], shares=0, asset_class=cls))
    weights = [rng.uniform(0.15, 0.6) for _ in FUNDS]
    targets = tuple(
        Target(asset_class=cls, target_weight=round(w / sum(weights), 4))
        for cls, w in zip(FUNDS, weights, strict=True)
    )
    targets = (
        *targets[:-1],
        targets[-1].model_copy(
            update={"target_weight": round(1 - sum(t.target_weight for t in targets[:-1]), 4)}
        ),
    )
    portfolio = Portfolio(
        settings=Settings(valuation_date=VALUATION, trigger="always"),
        accounts=tuple(accounts),
        holdings=tuple(holdings),
        lots=tuple(lots),
        targets=targets,
    )
    return portfolio, prices


def gain_lots_locked(portfolio: Portfolio, plan: RebalanceResult) -> Portfolio | None:
    """The household with every lot the plan sells at a gain locked (None: none sold)."""
    sold = {t.lot_id for t in plan.trades if t.action == "SELL" and (t.realized_gain or 0) > 0}
    if not sold:
        return None
    return portfolio.model_copy(
        update={
            "lots": tuple(
                lot.model_copy(update={"lock": "lock"}) if lot.lot_id in sold else lot
                for lot in portfolio.lots
            )
        }
    )


def taxed(portfolio: Portfolio, result: RebalanceResult) -> float:
    """The tax a plan costs: the run's netted tax, and the loss carried to next year that
    its gains use up, at the long-term rate (what the objective charges for it)."""
    used = result.summary_value("carried_loss_used")
    return result.summary_value("estimated_tax") + carryover_rate(portfolio.settings) * used


def regret(portfolio: Portfolio, prices: dict[str, float]) -> tuple[float, float, float]:
    """(tax paid, tax regret, seconds) of the production plan."""
    start = time.perf_counter()
    plan = rebalance(portfolio, prices)
    seconds = time.perf_counter() - start
    tax = taxed(portfolio, plan)
    locked = gain_lots_locked(portfolio, plan)
    if locked is None:
        return tax, 0.0, seconds
    other = rebalance(locked, prices)
    drift = plan.summary_value("drift_distance_after")
    if other.summary_value("drift_distance_after") > drift + 1e-6:
        return tax, 0.0, seconds
    return tax, max(tax - taxed(locked, other), 0.0), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=200)
    args = parser.parse_args()
    rows = [regret(*random_household(seed)) for seed in range(args.households)]
    taxes = [r[0] for r in rows]
    regrets = [r[1] for r in rows]
    times = sorted(r[2] for r in rows)
    print(f"households: {len(rows)}")
    print(f"tax paid: total {sum(taxes):,.2f}, median {statistics.median(taxes):,.2f}")
    print(
        f"tax regret: total {sum(regrets):,.2f}, mean {statistics.mean(regrets):,.2f}; "
        f"households with regret > $1: {sum(r > 1 for r in regrets)}; "
        f"largest {max(regrets):,.2f}"
    )
    print(
        f"solve: median {statistics.median(times) * 1000:.0f} ms, "
        f"p90 {times[int(0.9 * (len(times) - 1))] * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
