"""The small-household search as the engine runs it against a variant of the same
program (issue 25): the year's netting regime binary left to branch-and-bound
(`--against regime`, the default), or every wide share column split (`--against split`).

The programs are the ones the engine hands HiGHS: each generated household is
rebalanced once with a runner that keeps its integer program, then each program is
solved both ways in this process, one after the other. Printed: median and total solve
time, how many searches proved their plan within the gap (HiGHS status Optimal, not
the node limit), and each plan's objective (money: drift, costs, tickets, tax) against
the baseline's.

    python benchmarks/small_solve_bench.py [--clients 40] [--households 60]
        [--against regime|split|onestep]

--clients are batch clients (`demo.write_clients`: 20 holdings, 200 lots, read from
workbooks); --households are the trade-quality households of
benchmarks/trade_quality_bench.py.

Why `split`: nearly half of HiGHS's time on the batch clients goes to reduced-cost fixing,
which records up to 1,024 "lurking bounds" per integer column whose domain is wide (a
sale or buy of thousands of shares) in a sorted map, re-walked on every insert, after
every root cut round (HiGHS issue #2508; its budget shrinks only past 320 such
columns). Writing each wide share count n as B·a + c, with integers a and c of about
√n values each and n continuous, leaves the same integer points and the same LP with
none of those columns wide: the measurement of whether the shorter root pays for the
coarser branching.

Why `onestep` (issue 44): the engine now searches programs with wide share columns in
two steps (engine/program/search.py, WIDE_SHARES): those columns continuous first, then whole
within a share of that answer, the plan kept when it is within the gap of the first
step's bound. `onestep` is the one search it replaced.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from xl_rebalancer.engine.program import search

HERE = Path(__file__).resolve().parent


def captured(run: Callable[[], Any]) -> list[search.Program]:
    """The integer programs `run()` hands the solver."""
    kept: list[search.Program] = []

    def keep(program: search.Program) -> Any:
        kept.append(program)
        return search.solve_program(program)

    previous = search.set_runner(keep)
    try:
        run()
    finally:
        search.set_runner(previous)
    return [p for p in kept if p.integer]


def client_programs(count: int) -> list[search.Program]:
    from xl_rebalancer import app, door
    from xl_rebalancer.demo import write_clients

    folder = Path(tempfile.mkdtemp(prefix="xlrb-small-"))
    try:
        books, prices = write_clients(folder, count)
        programs: list[search.Program] = []
        for book in books:
            work = Path(shutil.copy(book, folder / "work.xlsm"))
            options = door.RunOptions(prices_file=prices)
            programs += captured(lambda w=work, o=options: app.run_engine(w, "rebalance", o))
        return programs
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def household_programs(count: int) -> list[search.Program]:
    sys.path.insert(0, str(HERE))
    from trade_quality_bench import random_household

    from xl_rebalancer.engine.rebalance import rebalance

    programs: list[search.Program] = []
    for seed in range(count):
        portfolio, prices = random_household(seed)
        programs += captured(lambda p=portfolio, q=prices: rebalance(p, q))
    return programs


def solve(program: search.Program) -> tuple[float, float, bool]:
    """(seconds, objective, proven within the gap)"""
    clock = time.perf_counter()
    x, status = search.solve_program(program)
    seconds = time.perf_counter() - clock
    assert x is not None, status
    return seconds, float(program.cost @ x), status == "Optimal"


WIDE = 256  # shares: integer columns with at least this many values are split


def split_wide(program: search.Program) -> search.Program:
    """`program` with each wide integer column n made continuous and tied to new integer
    columns by n = B·a + c, 0 ≤ c < B, B the power of two at or above √(upper bound): the
    same integer points (a and c reach every whole n from 0 to its upper bound), the same
    LP, but no integer column with more than about 2√n values."""
    columns = len(program.cost)
    wide = [
        j
        for j, kind in enumerate(program.integer)
        if kind == 1 and program.upper[j] - program.lower[j] >= WIDE
    ]
    steps = [2 ** math.ceil(math.log2(math.sqrt(program.upper[j]))) for j in wide]
    k = len(wide)
    matrix = sparse.csc_matrix(
        (program.value, program.index, program.start),
        shape=(len(program.row_lower), columns),
    )
    ties = sparse.csc_matrix(
        (
            np.concatenate([np.ones(k), -np.array(steps, float), -np.ones(k)]),
            (
                np.tile(np.arange(k), 3),
                np.concatenate([wide, columns + np.arange(k), columns + k + np.arange(k)]),
            ),
        ),
        shape=(k, columns + 2 * k),
    )
    matrix = sparse.vstack(
        [sparse.hstack([matrix, sparse.csc_matrix((matrix.shape[0], 2 * k))]), ties]
    ).tocsc()
    matrix.sort_indices()
    integer = list(program.integer) + [1] * (2 * k)
    for j in wide:
        integer[j] = 0
    tops = [math.floor(program.upper[j] / step) for j, step in zip(wide, steps, strict=True)]
    return dataclasses.replace(
        program,
        cost=np.concatenate([program.cost, np.zeros(2 * k)]),
        lower=np.concatenate([program.lower, np.zeros(2 * k)]),
        upper=np.concatenate([program.upper, np.array(tops + [s - 1 for s in steps], float)]),
        row_lower=np.concatenate([program.row_lower, np.zeros(k)]),
        row_upper=np.concatenate([program.row_upper, np.zeros(k)]),
        start=matrix.indptr.astype(program.start.dtype),
        index=matrix.indices.astype(program.index.dtype),
        value=matrix.data,
        integer=integer,
    )


VARIANTS: dict[str, tuple[str, Callable[[search.Program], search.Program]]] = {
    "regime": ("regime left to the search", lambda p: dataclasses.replace(p, fixed=[])),
    "split": ("wide share columns split", split_wide),
    "onestep": ("wide share columns in one search", lambda p: dataclasses.replace(p, wide=[])),
}


def compare(label: str, programs: list[search.Program], against: str) -> None:
    name, variant = VARIANTS[against]
    now = [solve(p) for p in programs]
    before = [solve(variant(p)) for p in programs]
    diff = [n[1] - b[1] for n, b in zip(now, before, strict=True)]
    better = sum(d < -0.01 for d in diff)
    worse = sum(d > 0.01 for d in diff)
    print(f"\n{label}: {len(programs)} programs")
    print(f"| | {name} | as the engine solves it (now) | ratio |")
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
        f"plans (now against {name}): {better} better, {worse} worse, "
        f"{sum(diff):+,.2f} in sum, largest loss {max(diff, default=0.0):,.2f}, "
        f"largest gain {min(diff, default=0.0):,.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--households", type=int, default=60)
    parser.add_argument("--against", choices=sorted(VARIANTS), default="regime")
    args = parser.parse_args()
    if args.clients:
        compare("batch clients", client_programs(args.clients), args.against)
    if args.households:
        compare("trade-quality households", household_programs(args.households), args.against)


if __name__ == "__main__":
    main()
