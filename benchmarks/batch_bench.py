"""A night's batch: N generated client workbooks rebalanced end to end, beside the loop
an adviser would otherwise write (one `xl-rebalancer rebalance` process per workbook).

Each client has the demo's ten funds over three accounts (20 holdings, 200 tax lots by
default), its own cash and purchase history, and the shared offline price file. The batch
reads, solves and saves every workbook (to --out, inputs untouched) with all cores; the
per-phase seconds each worker reports give the shares of reading, prices, solving and
writing. The baseline runs the command line once per workbook, one after another, on
the first --baseline workbooks, in the same run.

    python benchmarks/batch_bench.py [--clients 1000] [--holdings 20] [--lots 200]
        [--workers N] [--baseline 20] [--folder DIR] [--before 40]

--before N also times N workbooks in this process with the solver settings this batch
started from (5,000 nodes, no absolute gap), for the history in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from xl_rebalancer.batch import BatchOptions, run_batch
from xl_rebalancer.demo import write_clients
from xl_rebalancer.door import RunOptions

PHASES = ("read", "prices", "solve", "write")


def phase_table(rows: list, wall: float, workers: int) -> str:
    ok = [r for r in rows if r.ok]
    spent = {p: sum(getattr(r, f"{p}_seconds") for r in ok) for p in PHASES}
    busy = workers * wall
    lines = ["| phase | seconds (sum over workers) | share of worker time |", "|---|---|---|"]
    for phase in PHASES:
        lines.append(f"| {phase} | {spent[phase]:.1f} | {spent[phase] / busy:.0%} |")
    other = busy - sum(spent.values())
    lines.append(
        f"| other (process start, imports, pickling, idle) | {other:.1f} | {other / busy:.0%} |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--holdings", type=int, default=20)
    parser.add_argument("--lots", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--baseline", type=int, default=20)
    parser.add_argument("--before", type=int, default=0)
    parser.add_argument("--folder", type=Path, help="Reuse (or keep) the generated clients here.")
    args = parser.parse_args()

    folder = args.folder or Path(tempfile.mkdtemp(prefix="xlrb-batch-"))
    books = sorted(folder.glob("client-*.xlsm"))
    prices = folder / "prices.csv"
    if len(books) < args.clients or not prices.exists():
        clock = time.perf_counter()
        books, prices = write_clients(folder, args.clients, holdings=args.holdings, lots=args.lots)
        print(f"generated {len(books)} clients in {time.perf_counter() - clock:.1f} s")
    books = books[: args.clients]
    out = Path(tempfile.mkdtemp(prefix="xlrb-batch-out-"))
    try:
        clock = time.perf_counter()
        result = run_batch(
            books,
            BatchOptions(
                "rebalance", RunOptions(prices_file=prices), out_dir=out, workers=args.workers
            ),
        )
        wall = time.perf_counter() - clock
        failed = result.failed
        rate = len(books) / wall
        print(
            f"\nbatch: {len(books)} workbooks ({args.holdings} holdings, {args.lots} lots), "
            f"{args.workers} workers: {wall:.1f} s, {rate:.2f} workbooks/s, {len(failed)} failed"
        )
        per = [r.seconds for r in result.rows if r.ok]
        print(
            f"per workbook: median {statistics.median(per):.2f} s, "
            f"p95 {sorted(per)[int(0.95 * (len(per) - 1))]:.2f} s, max {max(per):.2f} s"
        )
        print(phase_table(result.rows, wall, args.workers))

        n = min(args.baseline, len(books))
        if n:
            loop_out = out / "loop"
            loop_out.mkdir()
            clock = time.perf_counter()
            for book in books[:n]:
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "xl_rebalancer",
                        "rebalance",
                        str(book),
                        "--prices",
                        str(prices),
                        "--out",
                        str(loop_out / book.name),
                    ],
                    check=True,
                    capture_output=True,
                )
            loop = (time.perf_counter() - clock) / n
            print(
                f"\nbaseline, one command per workbook: {loop:.2f} s each "
                f"({1 / loop:.2f} workbooks/s); batch / loop = {rate * loop:.1f}x"
            )
        if args.before:
            import xl_rebalancer.engine.program.search as search

            search.NODE_LIMIT, search.ABS_GAP = 5_000, 0.0
            subset = books[: args.before]
            clock = time.perf_counter()
            old = run_batch(
                subset,
                BatchOptions(
                    "rebalance", RunOptions(prices_file=prices), out_dir=out / "before", workers=1
                ),
            )
            seconds = time.perf_counter() - clock
            print(
                f"\nbefore (5,000 nodes, no absolute gap), {len(subset)} workbooks in one process: "
                f"{seconds / len(subset):.2f} s each"
            )
            print(phase_table(old.rows, seconds, 1))
    finally:
        shutil.rmtree(out, ignore_errors=True)
        if args.folder is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
