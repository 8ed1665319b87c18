"""Build what the documentation takes from the code, or check that it is current.

    python docs/build.py          # docs/workbook.md and the README's pictures
    python docs/build.py --check  # exit 1 when either is out of date

`make docs` runs the first (it needs LibreOffice's soffice and pdftoppm), and
tests/test_docs.py runs the check. docs/workbook.md is the workbook contract written
from the schema (xl_rebalancer/workbook/contract.py). The pictures are the demo workbook after
a rebalance, one sheet a page, as LibreOffice headless prints it; next to them
docs/images/pictures.json keeps a fingerprint of each pictured sheet's contents, so the
check knows when a picture no longer shows what the demo writes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.styles import Font

from xl_rebalancer.app import run_engine
from xl_rebalancer.demo import write_demo
from xl_rebalancer.door import RunOptions
from xl_rebalancer.workbook.contract import workbook_markdown

HERE = Path(__file__).resolve().parent
CONTRACT = HERE / "workbook.md"
IMAGES = HERE / "images"
MANIFEST = IMAGES / "pictures.json"
SHEETS = {
    "Report": "report",
    "Drift": "drift",
    "Trades": "trades",
    "Summary": "summary",
    "xlwings.conf": "xlwings-conf",
    "Dashboard": "functions",
}
# Summary rows that change from run to run and are not what a picture is about.
VOLATILE = {"Run at", "Compute seconds", "Input hash"}
# The Report's "Prepared ... on <date>" line carries the day the run was made.
VOLATILE_CELLS = {"Report": {"A3"}}


def demo_book(work: Path) -> tuple[Path, Any]:
    """The demo after a rebalance, and the same workbook with the functions sheet added."""
    book, prices = write_demo(work)
    run_engine(book, "rebalance", RunOptions(prices_file=prices))
    wb = load_workbook(book, keep_vba=True)
    if "Dashboard" in wb.sheetnames:
        del wb["Dashboard"]
    _functions_sheet(wb.create_sheet("Dashboard"))
    return book, wb


def fingerprint(ws: Any) -> str:
    """A digest of what a printed sheet shows: values, formats and column widths."""
    digest = hashlib.sha256()
    for row in ws.iter_rows():
        if ws.title == "Summary" and row[0].value in VOLATILE:
            continue
        for cell in row:
            if cell.value is None or cell.coordinate in VOLATILE_CELLS.get(ws.title, ()):
                continue
            value = cell.value
            shown = f"{value:.10g}" if isinstance(value, float) else str(value)
            digest.update(f"{cell.coordinate}={shown}|{cell.number_format};".encode())
    for key, dim in sorted(ws.column_dimensions.items()):
        digest.update(f"{key}:{dim.width};".encode())
    return digest.hexdigest()[:16]


def fingerprints(wb: Any) -> dict[str, str]:
    return {SHEETS[name]: fingerprint(wb[name]) for name in SHEETS}


def stale() -> list[str]:
    """What is out of date, each with the command that brings it up to date."""
    problems = []
    if not CONTRACT.exists() or CONTRACT.read_text(encoding="utf-8") != workbook_markdown():
        problems.append(f"{CONTRACT.name} differs from the schema: run `make docs`")
    recorded = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}
    with tempfile.TemporaryDirectory() as work:
        _, wb = demo_book(Path(work))
        current = fingerprints(wb)
    for picture, digest in current.items():
        if recorded.get(picture) != digest:
            problems.append(
                f"images/{picture}.png no longer shows what the demo writes: run `make docs`"
            )
        if not (IMAGES / f"{picture}.png").exists():
            problems.append(f"images/{picture}.png is missing: run `make docs`")
    return problems


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if stale")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale()
        for problem in problems:
            print(problem)
        sys.exit(1 if problems else 0)
    CONTRACT.write_text(workbook_markdown(), encoding="utf-8")
    print(CONTRACT)
    soffice = shutil.which("soffice")
    if soffice is None or shutil.which("pdftoppm") is None:
        sys.exit("the pictures need LibreOffice (soffice) and pdftoppm")
    work = Path(tempfile.mkdtemp())
    book, wb = demo_book(work)
    for name in SHEETS:
        single = work / f"{SHEETS[name]}.xlsx"
        copy = load_workbook(book, keep_vba=False) if name != "Dashboard" else _functions_only()
        # The other sheets removed, not hidden: LibreOffice prints a hidden sheet that has
        # a print area. The pictured sheets' values are stored, so nothing is lost.
        for sheet in list(copy.worksheets):
            if sheet.title != name:
                del copy[sheet.title]
        copy.active = 0
        copy.worksheets[0].sheet_view.tabSelected = True
        copy.save(single)
        subprocess.run(
            [
                soffice,
                "--headless",
                f"-env:UserInstallation=file://{work}/profile",
                "--convert-to",
                "pdf",
                "--outdir",
                str(work),
                str(single),
            ],
            check=True,
            capture_output=True,
            timeout=240,
        )
        subprocess.run(
            [
                "pdftoppm",
                "-r",
                "70",
                "-png",
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                str(work / f"{SHEETS[name]}.pdf"),
                str(IMAGES / SHEETS[name]),
            ],
            check=True,
            timeout=120,
        )
        print(IMAGES / f"{SHEETS[name]}.png")
    MANIFEST.write_text(json.dumps(fingerprints(wb), indent=2, sort_keys=True) + "\n")
    print(MANIFEST)


def _functions_only() -> Any:
    from openpyxl import Workbook

    wb = Workbook()
    _functions_sheet(wb.active)
    wb.active.title = "Dashboard"
    return wb


def _functions_sheet(ws: Any) -> None:
    """Each worksheet function with its inputs and what it spills, computed by the same
    Python functions Excel calls (LibreOffice cannot call Python, so the results are
    typed in as values and each formula is shown as text above them)."""
    import datetime as dt

    import xlrebalancer_udfs as u

    holdings = [["Symbol", "Value"], ["VTI", 62000.0], ["VXUS", 18000.0], ["BND", 20000.0]]
    targets = [["Symbol", "Target"], ["VTI", 0.5], ["VXUS", 0.2], ["BND", 0.3]]
    trades = [
        ["Date", "Account", "Symbol", "Action", "Shares"],
        [dt.date(2026, 11, 2), "Roth IRA", "VXUS", "BUY", 12],
    ]
    examples = [
        ("Holdings (A2:B5) and Targets (D2:E5)", None),
        ("=xlrb_weights(A3:B5, D3:E5)", u.xlrb_weights(holdings, targets)),
        ("=xlrb_drift(A3:B5, D3:E5)", u.xlrb_drift(holdings, targets)),
        (
            "=xlrb_lot_gain(100, 5000, DATE(2024,3,15), 61.2, DATE(2026,11,20))",
            u.xlrb_lot_gain(100, 5000, dt.date(2024, 3, 15), 61.2, dt.date(2026, 11, 20)),
        ),
        (
            '=xlrb_wash_check("VXUS", DATE(2026,11,20), Transactions[#All], , "sell")',
            u.xlrb_wash_check("VXUS", dt.date(2026, 11, 20), trades, None, "sell"),
        ),
        (
            '=xlrb_lot_gain("ten", 5000, DATE(2024,3,15), 61.2)  (bad input)',
            u.xlrb_lot_gain("ten", 5000, dt.date(2024, 3, 15), 61.2),
        ),
    ]
    for i, row in enumerate(holdings, start=2):
        ws.cell(row=i, column=1, value=row[0])
        ws.cell(row=i, column=2, value=row[1])
    for i, row in enumerate(targets, start=2):
        ws.cell(row=i, column=4, value=row[0])
        ws.cell(row=i, column=5, value=row[1])
    line = 8
    for formula, result in examples[1:]:
        shown = ws.cell(row=line, column=1, value=formula)
        shown.data_type = "s"  # the formula as text: LibreOffice cannot call Python
        shown.font = Font(name="Consolas", bold=True)
        line += 1
        rows = result if isinstance(result, list) else [[result]]
        for values in rows:
            for j, value in enumerate(values, start=1):
                cell = ws.cell(row=line, column=j, value=value)
                if isinstance(value, float) and abs(value) < 1.5:
                    cell.number_format = "0.00%"
            line += 1
        line += 1
    ws["A1"] = examples[0][0]
    ws["A1"].font = Font(bold=True)
    for col in "ABCDEF":
        ws.column_dimensions[col].width = 14
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


if __name__ == "__main__":
    main()
