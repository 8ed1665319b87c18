"""Headless recalculation of the demo workbook (its Dashboard over the engine's sheets),
beside the two other ways to get formula values without Excel, measured in the same run:

- LibreOffice headless converting the workbook with "recalculate always" (what a script
  would otherwise call; it cannot run our functions, so those cells become errors);
- the `formulas` package's own whole-workbook model (ExcelModel: load, build, compute),
  which our recalculation uses cell by cell.

A plain "grid" workbook of 2 x N formulas (a running total down a column, a SUMPRODUCT
per row) shows how the dependency walk scales, and is one ExcelModel can read (it
refuses the demo's table references).

    python benchmarks/recalc_bench.py [--repeat 3] [--grid 2000]
"""

from __future__ import annotations

import argparse
import gc
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from openpyxl import load_workbook

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' LibreOffice helper

from tests.libreoffice import SOFFICE, convert
from xl_rebalancer.app import run_engine
from xl_rebalancer.demo import write_demo
from xl_rebalancer.door import RunOptions
from xl_rebalancer.formulas.results import recalculate_workbook
from xl_rebalancer.workbook.writer import WorkbookEdit, save_workbook


def timed(func, repeat: int) -> float:
    """Median seconds, with the cyclic garbage collector off as the command runs it
    (cli.run turns it off for one-shot commands; LibreOffice has none to pay)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            func()
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return statistics.median(times)


def grid_book(path: Path, rows: int) -> Path:
    """A plain workbook of 2 x rows formulas: a running total and a SUMPRODUCT per row."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Grid"
    for r in range(1, rows + 1):
        ws[f"A{r}"] = r
        ws[f"B{r}"] = r * 0.5
        ws[f"C{r}"] = f"=A{r}*B{r}" if r == 1 else f"=C{r - 1}+A{r}*B{r}"
        ws[f"D{r}"] = f"=SUMPRODUCT(A{r}:B{r},A{r}:B{r})"
    wb.save(path)
    return path


def measure(path: Path, folder: Path, profile: Path, repeat: int) -> dict:
    import formulas

    from xl_rebalancer.workbook.package import dynamic_arrays

    work = folder / f"work-{path.name}"
    shutil.copyfile(path, work)
    dynamic = dynamic_arrays(work)

    def compute() -> int:
        wb = load_workbook(work, keep_vba=True)
        try:
            return recalculate_workbook(wb, dynamic).formulas
        finally:
            wb.vba_archive.close()  # as save_workbook does (workbook/writer.py)

    compute()  # warm imports
    row: dict = {}
    row["count"] = compute()
    row["compute"] = timed(compute, repeat)
    row["full"] = timed(lambda: save_workbook(path, WorkbookEdit(recalc=True), work), repeat)
    try:
        row["model"] = timed(lambda: formulas.ExcelModel().loads(str(work)).finish().calculate(), 1)
    except Exception as exc:  # its parser refuses table references
        row["model"] = f"fails ({type(exc).__name__})"
    row["office"] = (
        timed(lambda: convert(work, "xlsx", folder / "lo-out", profile), repeat)
        if SOFFICE
        else float("nan")
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--grid", type=int, default=2000)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    folder = Path(tempfile.mkdtemp(prefix="recalc-bench-"))
    book, prices = write_demo(folder)
    run_engine(book, "run", RunOptions(prices_file=prices))
    grid = grid_book(folder / "grid.xlsx", args.grid)
    profile = folder / "lo"

    print(
        "| workbook | formulas | ours: compute | ours: recalc + save "
        "| formulas ExcelModel | LibreOffice convert |"
    )
    print("|---|---|---|---|---|---|")
    for name, path in (
        ("demo (Dashboard + engine sheets)", book),
        (f"grid, {args.grid} rows", grid),
    ):
        r = measure(path, folder, profile, args.repeat)
        model = r["model"]
        model_text = (
            f"{model:.2f} s ({model / r['full']:.1f}x ours)" if isinstance(model, float) else model
        )
        print(
            f"| {name} | {r['count']} | {r['compute']:.3f} s | {r['full']:.3f} s | {model_text} "
            f"| {r['office']:.2f} s ({r['office'] / r['full']:.1f}x ours) |"
        )


if __name__ == "__main__":
    main()
