"""One position with many lots, bought inside the wash-sale window: the shape the
reliability audit found growing with the square of the lots (issue 45: 2,000 lots 2.0 s,
10,000 lots 17 s, 20,000 lots 79 s, where 20,000 lots over 500 holdings take well under
a second). Every loss lot was checked against every purchase in the window and each
TaxHarvest row listed them all.

The household: one taxable account, fund AAA in N lots of 0.5 to 20 shares bought on
random days of the last 60 (half of them at a loss at today's price), fund BBB, targets
50/50. Timed: the engine in-process (rebalance, which includes the harvest candidates),
best of --repeat, and optionally `xl-rebalancer rebalance --dry-run` on the workbook.

    python benchmarks/one_position_bench.py [--lots 2000 5000 10000 20000] [--cli]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from xl_rebalancer.engine.rebalance import rebalance
from xl_rebalancer.models import Account, Holding, Portfolio, Settings, Target, TaxLot

VALUATION = dt.date(2026, 1, 15)
PRICES = {"AAA": 60.0, "BBB": 100.0}


def household(lots: int, seed: int = 7) -> Portfolio:
    rng = random.Random(seed)
    rows = []
    for i in range(lots):
        shares = round(rng.uniform(0.5, 20), 3)
        rows.append(
            TaxLot(
                account="A",
                symbol="AAA",
                lot_id=f"L{i}",
                acquired=VALUATION - dt.timedelta(days=rng.randrange(60)),
                shares=shares,
                cost_basis=round(shares * rng.uniform(20, 100), 2),
                row=i + 2,
            )
        )
    held = round(sum(lot.shares for lot in rows), 3)
    return Portfolio(
        settings=Settings(valuation_date=VALUATION, cost_bps=0, trigger="always"),
        accounts=(Account(account="A", type="taxable", cash=1000.0),),
        holdings=(
            Holding(account="A", symbol="AAA", shares=held),
            Holding(account="A", symbol="BBB", shares=10),
        ),
        lots=tuple(rows),
        targets=(
            Target(symbol="AAA", target_weight=0.5),
            Target(symbol="BBB", target_weight=0.5),
        ),
    )


def engine_seconds(portfolio: Portfolio, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        rebalance(portfolio, PRICES)
        best = min(best, time.perf_counter() - start)
    return best


def cli_seconds(portfolio: Portfolio) -> float:
    from xl_rebalancer.excel.template import build_workbook

    with tempfile.TemporaryDirectory() as work:
        book = build_workbook(
            Path(work) / "one_position.xlsm",
            {
                "Accounts": [a.model_dump() for a in portfolio.accounts],
                "Holdings": [h.model_dump() for h in portfolio.holdings],
                "TaxLots": [lot.model_dump() for lot in portfolio.lots],
                "Targets": [t.model_dump() for t in portfolio.targets],
                "Prices": [
                    {"symbol": s, "price": p, "as_of": VALUATION, "source": "manual"}
                    for s, p in PRICES.items()
                ],
            },
            settings={"valuation_date": VALUATION, "cost_bps": 0, "trigger": "always"},
        )
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "xl_rebalancer", "rebalance", str(book), "--dry-run", "--json"],
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, nargs="+", default=[2000, 5000, 10000, 20000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cli", action="store_true", help="also time the command line")
    args = parser.parse_args()
    print("| lots in one position | engine | per 1,000 lots |" + (" command |" if args.cli else ""))
    print("|---|---|---|" + ("---|" if args.cli else ""))
    engine_seconds(household(50), 1)  # imports and the solver's first load, not timed
    for lots in args.lots:
        portfolio = household(lots)
        seconds = engine_seconds(portfolio, args.repeat)
        row = f"| {lots:,} | {seconds:.2f} s | {seconds / lots * 1000:.3f} s |"
        if args.cli:
            row += f" {cli_seconds(portfolio):.1f} s |"
        print(row, flush=True)


if __name__ == "__main__":
    main()
