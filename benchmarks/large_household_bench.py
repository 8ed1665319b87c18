"""The 60-line household (issue 44): about $3.3 million in 60 positions over four accounts,
hundreds of tax lots bought over ten years, asset-class targets, a deposit.

The exact whole-share program (under EXACT_LIMIT integer variables) with many lot
columns: where the search's time and its limits show. Printed per run: seconds, HiGHS's
status, trade count, the objective's parts (drift distance after, estimated tax, costs)
and a fingerprint of the trade list, so runs on a quiet and a busy machine, or before
and after a change, can be compared exactly.

    python benchmarks/large_household_bench.py [--seed 0] [--repeat 3] [--lots 12]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import statistics
import time

from xl_rebalancer.engine.rebalance import rebalance
from xl_rebalancer.models import Account, Holding, Portfolio, Settings, Target, TaxLot
from xl_rebalancer.models.inputs import CashFlow
from xl_rebalancer.models.results import RebalanceResult

VALUATION = dt.date(2026, 11, 16)
CLASSES = {
    "US Stocks": ["VTI", "ITOT", "SCHB", "VOO"],
    "US Small": ["VB", "IJR", "SCHA"],
    "International": ["VXUS", "IXUS", "IEFA", "SCHF"],
    "Emerging": ["VWO", "IEMG"],
    "Bonds": ["BND", "AGG", "SCHZ"],
    "TIPS": ["SCHP", "VTIP"],
    "REIT": ["VNQ", "SCHH"],
}
TARGETS = {
    "US Stocks": 0.36,
    "US Small": 0.07,
    "International": 0.17,
    "Emerging": 0.05,
    "Bonds": 0.22,
    "TIPS": 0.06,
    "REIT": 0.05,
    "CASH": 0.02,
}


def sixty_line_household(
    seed: int = 0, lots_per_position: int = 12, value: float = 2_950_000
) -> tuple[Portfolio, dict[str, float]]:
    """60 positions (account, fund) worth `value` in all, each taxable position in about
    `lots_per_position` lots acquired over ten years, bases from half to 1.3 times
    today's price; holdings drifted up to ±30% of each class's target; a deposit of 4%
    into the first taxable account."""
    rng = random.Random(seed)
    funds = [s for members in CLASSES.values() for s in members]
    prices = {s: round(rng.uniform(25, 420), 2) for s in funds}
    accounts = (
        Account(account="Joint", type="taxable", cash=round(rng.uniform(2_000, 20_000), 2)),
        Account(account="Trust", type="taxable", cash=round(rng.uniform(2_000, 20_000), 2)),
        Account(account="IRA", type="tax_deferred", cash=round(rng.uniform(0, 10_000), 2)),
        Account(account="Roth", type="tax_exempt", cash=round(rng.uniform(0, 5_000), 2)),
    )
    cls_of = {s: c for c, members in CLASSES.items() for s in members}
    pairs = [(a.account, s) for a in accounts for s in funds]
    rng.shuffle(pairs)
    chosen = pairs[:60]
    drift = {c: rng.uniform(0.7, 1.3) for c in CLASSES}
    raw = {p: rng.uniform(0.3, 1.0) * drift[cls_of[p[1]]] for p in chosen}
    per_class = {c: sum(w for p, w in raw.items() if cls_of[p[1]] == c) for c in CLASSES}
    holdings, lots = [], []
    taxable = {a.account for a in accounts if a.type == "taxable"}
    for account, symbol in chosen:
        c = cls_of[symbol]
        money = value * TARGETS[c] * drift[c] * raw[(account, symbol)] / max(per_class[c], 1e-9)
        shares = max(1, int(money / prices[symbol]))
        holdings.append(Holding(account=account, symbol=symbol, shares=shares, asset_class=c))
        if account not in taxable:
            continue
        n_lots = max(
            1, min(shares, rng.randint(lots_per_position // 2, lots_per_position * 3 // 2))
        )
        cuts = sorted(rng.sample(range(1, shares), n_lots - 1)) if n_lots > 1 else []
        bounds = [0, *cuts, shares]
        for i in range(n_lots):
            part = bounds[i + 1] - bounds[i]
            acquired = VALUATION - dt.timedelta(days=rng.randint(40, 3_650))
            lots.append(
                TaxLot(
                    account=account,
                    symbol=symbol,
                    lot_id=f"{account[0]}-{symbol}-{i + 1}",
                    acquired=acquired,
                    shares=part,
                    cost_basis=round(prices[symbol] * rng.uniform(0.5, 1.3) * part, 2),
                )
            )
    held = {h.symbol for h in holdings}
    for c, members in CLASSES.items():
        if not held & set(members):
            holdings.append(Holding(account="IRA", symbol=members[0], shares=0, asset_class=c))
    targets = tuple(
        Target(symbol="CASH", target_weight=w)
        if c == "CASH"
        else Target(asset_class=c, target_weight=w)
        for c, w in TARGETS.items()
    )
    portfolio = Portfolio(
        settings=Settings(valuation_date=VALUATION, trigger="always", realized_lt_ytd=12_000.0),
        accounts=accounts,
        cash_flows=(CashFlow(account="Joint", amount=round(value * 0.04, 2)),),
        holdings=tuple(holdings),
        lots=tuple(lots),
        targets=targets,
    )
    return portfolio, prices


def fingerprint(plan: RebalanceResult) -> str:
    rows = sorted(f"{t.account}|{t.symbol}|{t.action}|{t.lot_id}|{t.shares:g}" for t in plan.trades)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:12]


def describe(plan: RebalanceResult) -> str:
    return (
        f"trades {len(plan.trades)}, drift after {plan.summary_value('drift_distance_after'):.6f}, "
        f"tax {plan.summary_value('estimated_tax'):,.2f}, "
        f"costs {plan.summary_value('estimated_costs'):,.2f}, plan {fingerprint(plan)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lots", type=int, default=12, help="lots per taxable position")
    args = parser.parse_args()
    portfolio, prices = sixty_line_household(args.seed, args.lots)
    total = sum(h.shares * prices[h.symbol] for h in portfolio.holdings) + sum(
        a.cash for a in portfolio.accounts
    )
    print(
        f"household: {sum(h.shares > 0 for h in portfolio.holdings)} positions, "
        f"{len(portfolio.lots)} lots, {total:,.0f}"
    )
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        plan = rebalance(portfolio, prices)
        times.append(time.perf_counter() - start)
        status = next((w.message for w in plan.warnings if "HiGHS" in w.message), "")
        print(f"  {times[-1]:.2f} s  {describe(plan)} {status}")
    print(f"median {statistics.median(times):.2f} s")


if __name__ == "__main__":
    main()
