"""Rebalancing a workbook that carries a big sheet of the user's own: peak memory and
time of `xl-rebalancer rebalance`, saving by splice (only the engine's parts rewritten,
the rest copied as bytes; the default) beside the full openpyxl rewrite it replaced
(XL_REBALANCER_FULL_SAVE=1, still used by commands that edit input sheets), measured
in the same run on the same file.

The workbook is the demo household plus a sheet of ROWS x COLS numbers (100,000 x 100 is
the reliability audit's 37 MB case) and, with --styled, a sheet of styled blank cells.
Each run is a fresh process; its peak resident memory comes from GNU time.

    python benchmarks/big_workbook_bench.py [--rows 100000] [--cols 100] [--repeat 1]
        [--no-full]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' package helper

from tests.io.package_parts import add_number_sheet, add_user_parts
from xl_rebalancer.demo import write_demo


def run_once(book: Path, prices: Path, full: bool) -> tuple[float, float]:
    """(seconds, peak MB) of one `rebalance` in its own process."""
    env = dict(os.environ)
    env.pop("XL_REBALANCER_FULL_SAVE", None)
    if full:
        env["XL_REBALANCER_FULL_SAVE"] = "1"
    cmd = ["/usr/bin/time", "-f", "maxrss_kb=%M", sys.executable, "-m", "xl_rebalancer"]
    cmd += ["rebalance", str(book), "--prices", str(prices)]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"rebalance failed:\n{done.stderr[-2000:]}")
    peak = int(re.search(r"maxrss_kb=(\d+)", done.stderr).group(1)) / 1024  # type: ignore[union-attr]
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cols", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-full", action="store_true", help="skip the full-rewrite baseline")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        base, prices = write_demo(Path(folder) / "demo")
        add_user_parts(base)
        started = time.perf_counter()
        add_number_sheet(base, "History", args.rows, args.cols)
        size = base.stat().st_size / 1e6
        print(
            f"workbook: demo household + {args.rows:,} x {args.cols} numbers "
            f"({size:.1f} MB; built in {time.perf_counter() - started:.0f} s)"
        )
        results: dict[str, list[tuple[float, float]]] = {"splice": [], "full": []}
        modes = [("splice", False)] + ([] if args.no_full else [("full", True)])
        for _ in range(args.repeat):
            for name, full in modes:
                book = Path(folder) / f"{name}.xlsm"
                shutil.copyfile(base, book)
                results[name].append(run_once(book, prices, full))
        print("| save | seconds (median) | peak memory MB |")
        print("|---|---|---|")
        for name, _ in modes:
            times = [t for t, _ in results[name]]
            peaks = [m for _, m in results[name]]
            print(f"| {name} | {statistics.median(times):.1f} | {max(peaks):,.0f} |")
        # The write gate (workbook/gate.py) reads the new package back before it replaces the
        # user's file: its share of the save, timed on the file the last splice wrote.
        from xl_rebalancer.workbook.gate import check_save

        gate = []
        for _ in range(3):
            started = time.perf_counter()
            check_save(Path(folder) / "splice.xlsm", base)
            gate.append(time.perf_counter() - started)
        gate_s = statistics.median(gate)
        splice_s = statistics.median(t for t, _ in results["splice"])
        print(
            f"write gate: {gate_s:.3f} s of the {splice_s:.1f} s rebalance "
            f"({gate_s / splice_s:.1%})"
        )
        if not args.no_full:
            t_s = statistics.median(t for t, _ in results["splice"])
            t_f = statistics.median(t for t, _ in results["full"])
            m_s = max(m for _, m in results["splice"])
            m_f = max(m for _, m in results["full"])
            print(f"splice vs full: {t_f / t_s:.1f}x faster, {m_f / m_s:.1f}x less memory")


if __name__ == "__main__":
    main()
