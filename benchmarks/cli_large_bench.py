"""The large household end to end, as a user runs it: `xl-rebalancer rebalance` on a
workbook of 500 holdings and 20,000 tax lots (the household of rebalance_bench.py, its
prices typed on the Prices sheet so the run is offline), one cold process per run.

Printed beside it, measured in the same run: the engine alone on the same household
in-process (the floor the reading, writing and start-up sit on), and where the command's
time goes (read, engine, save) from one in-process run with timers.

    python benchmarks/cli_large_bench.py [--holdings 500] [--lots 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from xl_rebalancer.engine.rebalance import rebalance
from xl_rebalancer.excel.template import build_workbook

sys.path.insert(0, str(Path(__file__).parent))
from rebalance_bench import VALUATION, household


def workbook(path: Path, holdings: int, lots: int) -> Path:
    portfolio, prices = household(holdings, lots)
    data = {
        "Accounts": [a.model_dump() for a in portfolio.accounts],
        "Holdings": [h.model_dump() for h in portfolio.holdings],
        "TaxLots": [lot.model_dump() for lot in portfolio.lots],
        "Targets": [t.model_dump() for t in portfolio.targets],
        "Prices": [
            {"symbol": s, "price": p, "as_of": VALUATION, "source": "manual"}
            for s, p in prices.items()
        ],
    }
    return build_workbook(path, data, settings={"valuation_date": VALUATION, "trigger": "always"})


def phases(book: Path) -> dict[str, float]:
    """Seconds in reading, saving and the rest of one in-process run."""
    from xl_rebalancer import app, door

    spent: dict[str, float] = {}

    def timed(name: str, func):  # type: ignore[no-untyped-def]
        def run(*args, **kwargs):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - start

        return run

    from xl_rebalancer.workbook import writer

    read, save = door.read_workbook, writer.save_workbook
    door.read_workbook, writer.save_workbook = timed("read", read), timed("save", save)
    try:
        start = time.perf_counter()
        app.run_engine(book, "rebalance", door.RunOptions(network=False))
        total = time.perf_counter() - start
    finally:
        door.read_workbook, writer.save_workbook = read, save
    spent["engine and the rest"] = total - spent["read"] - spent["save"]
    return spent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--holdings", type=int, default=500)
    parser.add_argument("--lots", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    source = workbook(folder / "large.xlsm", args.holdings, args.lots)
    exe = Path(sys.executable).with_name("xl-rebalancer")
    cold = []
    for _ in range(args.repeat):
        book = shutil.copy(source, folder / "run.xlsm")
        start = time.perf_counter()
        subprocess.run(
            [str(exe), "rebalance", str(book), "--offline"], check=True, capture_output=True
        )
        cold.append(time.perf_counter() - start)
    portfolio, prices = household(args.holdings, args.lots)
    engine = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        rebalance(portfolio, prices)
        engine.append(time.perf_counter() - start)
    split = phases(Path(shutil.copy(source, folder / "phases.xlsm")))
    command, floor = statistics.median(cold), statistics.median(engine)
    print(f"workbook: {args.holdings} holdings, {args.lots} lots, {source.stat().st_size:,} bytes")
    print(f"`xl-rebalancer rebalance`, cold process: median {command:.2f} s")
    print(f"engine alone, in-process (same run): median {floor:.2f} s")
    print(f"command / engine: {command / floor:.1f}x")
    print("in-process split: " + ", ".join(f"{k} {v:.2f} s" for k, v in split.items()))


if __name__ == "__main__":
    main()
