"""Render the README's pictures: the demo workbook after a rebalance, one sheet a page,
as LibreOffice headless prints it. Run `python docs/pictures.py` (needs soffice and
pdftoppm); the PNGs land in docs/images/."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.styles import Font

from xl_rebalancer.app import RunOptions, run_engine
from xl_rebalancer.demo import write_demo

HERE = Path(__file__).resolve().parent
SHEETS = {
    "Drift": "drift",
    "Trades": "trades",
    "Summary": "summary",
    "xlwings.conf": "xlwings-conf",
    "Dashboard": "functions",
}


def main() -> None:
    soffice = shutil.which("soffice")
    if soffice is None or shutil.which("pdftoppm") is None:
        sys.exit("needs LibreOffice (soffice) and pdftoppm")
    work = Path(tempfile.mkdtemp())
    book, prices = write_demo(work)
    run_engine(book, "rebalance", RunOptions(prices_file=prices))
    wb = load_workbook(book, keep_vba=True)
    _functions_sheet(wb.create_sheet("Dashboard"))
    for name in SHEETS:
        single = work / f"{SHEETS[name]}.xlsx"
        copy = load_workbook(book, keep_vba=False) if name != "Dashboard" else wb
        for sheet in copy.worksheets:
            sheet.sheet_state = "visible" if sheet.title == name else "hidden"
        copy.active = copy.sheetnames.index(name)
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
                str(HERE / "images" / SHEETS[name]),
            ],
            check=True,
            timeout=120,
        )
        print(HERE / "images" / f"{SHEETS[name]}.png")


def _functions_sheet(ws: Any) -> None:
    """Each worksheet function with its inputs and what it spills, computed by the same
    Python functions Excel calls (LibreOffice cannot call Python, so the results are
    typed in as values and each formula is shown as text above them)."""
    import datetime as dt

    import xlrebalancer_udfs as u

    holdings = [["Symbol", "Value"], ["VTI", 62000.0], ["VXUS", 18000.0], ["BND", 20000.0]]
    targets = [["Symbol", "Target"], ["VTI", 0.5], ["VXUS", 0.2], ["BND", 0.3]]
    trades = [["Date", "Symbol", "Action", "Shares"], [dt.date(2026, 11, 2), "VXUS", "BUY", 12]]
    examples = [
        ("Holdings (A2:B5) and Targets (D2:E5)", None),
        ("=xlrb_weights(A3:B5, D3:E5)", u.xlrb_weights(holdings, targets)),
        ("=xlrb_drift(A3:B5, D3:E5)", u.xlrb_drift(holdings, targets)),
        (
            "=xlrb_lot_gain(100, 5000, DATE(2024,3,15), 61.2, DATE(2026,11,20))",
            u.xlrb_lot_gain(100, 5000, dt.date(2024, 3, 15), 61.2, dt.date(2026, 11, 20)),
        ),
        (
            '=xlrb_wash_check("VXUS", DATE(2026,11,20), Transactions[#All])',
            u.xlrb_wash_check("VXUS", dt.date(2026, 11, 20), trades),
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
