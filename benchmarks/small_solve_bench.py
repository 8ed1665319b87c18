"""The small-household search: the year's netting regime enumerated (production) against
the same program with the regime binary left to branch-and-bound (issue 25).

The programs are the ones the engine hands HiGHS: each generated household is
rebalanced once with a runner that keeps its integer program, then each program is
solved both ways in this process, one after the other. Printed: median and total solve
time, how many searches proved their plan within the gap (HiGHS status Optimal, not
the node limit), and each plan's objective (money: drift, costs, tickets, tax) against
the baseline's.

    python benchmarks/small_solve_bench.py [--clients 40] [--households 60]

--clients are batch clients (`demo.write_clients`: 20 holdings, 200 lots, read from
workbooks); --households are the trade-quality households of
benchmarks/trade_quality_bench.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xl_rebalancer.engine import solver

HERE = Path(__file__).resolve().parent


def captured(run: Callable[[], Any]) -> list[solver.Program]:
    """The integer programs `run()` hands the solver."""
    kept: list[solver.Program] = []

    def keep(program: solver.Program) -> Any:
        kept.append(program)
        return solver.solve_program(program)

    previous = solver.set_runner(keep)
    try:
        run()
    finally:
        solver.set_runner(previous)
    return [p for p in kept if p.integer]


def client_programs(count: int) -> list[solver.Program]:
    from xl_rebalancer import app
    from xl_rebalancer.demo import write_clients

    folder = Path(tempfile.mkdtemp(prefix="xlrb-small-"))
    try:
        books, prices = write_clients(folder, count)
        programs: list[solver.Program] = []
        for book in books:
            work = Path(shutil.copy(book, folder / "work.xlsm"))
            options = app.RunOptions(prices_file=prices)
            programs += captured(lambda w=work, o=options: app.run_engine(w, "rebalance", o))
        return programs
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def household_programs(count: int) -> list[solver.Program]:
    sys.path.insert(0, str(HERE))
    from trade_quality_bench import random_household

    from xl_rebalancer.engine.rebalance import rebalance

    programs: list[solver.Program] = []
    for seed in range(count):
        portfolio, prices = random_household(seed)
        programs += captured(lambda p=portfolio, q=prices: rebalance(p, q))
    return programs


def solve(program: solver.Program) -> tuple[float, float, bool]:
    """(seconds, objective, proven within the gap)"""
    clock = time.perf_counter()
    x, status = solver.solve_program(program)
    seconds = time.perf_counter() - clock
    assert x is not None, status
    return seconds, float(program.cost @ x), status == "Optimal"


def compare(label: str, programs: list[solver.Program]) -> None:
    now = [solve(p) for p in programs]
    before = [solve(dataclasses.replace(p, fixed=[])) for p in programs]
    diff = [n[1] - b[1] for n, b in zip(now, before, strict=True)]
    better = sum(d < -0.01 for d in diff)
    worse = sum(d > 0.01 for d in diff)
    print(f"\n{label}: {len(programs)} programs")
    print("| | regime left to the search | regime enumerated (now) | ratio |")
    print("|---|---|---|---|")
    median_b = statistics.median(b[0] for b in before)
    median_n = statistics.median(n[0] for n in now)
    total_b = sum(b[0] for b in before)
    total_n = sum(n[0] for n in now)
    print(
        f"| solve, median | {median_b * 1000:.0f} ms | {median_n * 1000:.0f} ms | {median_b / median_n:.2f}x |"
    )
    print(f"| solve, total | {total_b:.1f} s | {total_n:.1f} s | {total_b / total_n:.2f}x |")
    print(f"| proven within the gap | {sum(b[2] for b in before)} | {sum(n[2] for n in now)} | |")
    print(
        f"plans (now against before): {better} better, {worse} worse, "
        f"{sum(diff):+,.2f} in sum, largest loss {max(diff, default=0.0):,.2f}, "
        f"largest gain {min(diff, default=0.0):,.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--households", type=int, default=60)
    args = parser.parse_args()
    if args.clients:
        compare("batch clients", client_programs(args.clients))
    if args.households:
        compare("trade-quality households", household_programs(args.households))


if __name__ == "__main__":
    main()
