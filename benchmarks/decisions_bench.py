"""Decisions an adviser would strike, counted over generated households (issue 44).

The households of tests/decisions/households.py (2-5 accounts, 5-25 funds, years of lots,
deposits, withdrawals, carryovers, recent purchases that wash-block loss lots, declared
twins and Substitutes), each plan checked by tests/decisions/checker.py, which is written
from the README's and docs' rules, not from the engine's code. Printed: per rule, how
many households' plans break it and how many breaches there are, with the first few;
then the solve time.

    python benchmarks/decisions_bench.py [--households 110] [--max-funds 25] [--first 0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.decisions import checker
from tests.decisions.households import household
from xl_rebalancer.engine.rebalance import rebalance
from xl_rebalancer.errors import XlRebalancerError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=110)
    parser.add_argument("--max-funds", type=int, default=25)
    parser.add_argument("--first", type=int, default=0, help="first seed")
    parser.add_argument("--show", type=int, default=3, help="examples printed per rule")
    args = parser.parse_args()
    hits: dict[str, list[tuple[int, str]]] = {name: [] for name in checker.CHECKS}
    households: dict[str, set[int]] = {name: set() for name in checker.CHECKS}
    times: list[float] = []
    failed: list[tuple[int, str]] = []
    for seed in range(args.first, args.first + args.households):
        case = household(seed, max_funds=args.max_funds)
        start = time.perf_counter()
        try:
            plan = rebalance(case.portfolio, case.prices)
        except XlRebalancerError as exc:
            failed.append((seed, str(exc)))
            continue
        times.append(time.perf_counter() - start)
        for name, found in checker.check(case, plan).items():
            for item in found:
                hits[name].append((seed, item))
                households[name].add(seed)
    print(
        f"households: {args.households} (seeds {args.first}..{args.first + args.households - 1}, "
        f"up to {args.max_funds} funds); no plan: {len(failed)}"
    )
    for seed, message in failed[: args.show]:
        print(f"  seed {seed}: {message}")
    print(f"{'rule':<36} {'households':>10} {'breaches':>9}")
    for name in checker.CHECKS:
        print(f"{name:<36} {len(households[name]):>10} {len(hits[name]):>9}")
        for seed, item in hits[name][: args.show]:
            print(f"    seed {seed}: {item}")
    if times:
        times.sort()
        print(
            f"solve: median {statistics.median(times) * 1000:.0f} ms, "
            f"p90 {times[int(0.9 * (len(times) - 1))] * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
