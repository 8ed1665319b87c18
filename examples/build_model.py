"""Write examples/model.xlsx, the sample firm model docs/model.md describes.

Run `python examples/build_model.py [PATH]` to get a fresh copy to edit; the file in
the repository is this script's output. Two sheets, each one Excel table: Targets (the
model's weights and bands, the columns of a workbook's Targets sheet) and Securities
(the firm's security master).
"""

from __future__ import annotations

import sys
from pathlib import Path

TARGETS = [
    # AssetClass, TargetWeight, BandAbs, BandRel, Location
    ("US Stocks", 0.45, 0.05, 0.25, None),
    ("International Stocks", 0.20, 0.04, 0.25, None),
    ("Bonds", 0.33, 0.05, 0.25, "tax_deferred"),
    ("CASH", 0.02, 0.02, None, None),
]

SECURITIES = [
    # Symbol, AssetClass, Buy, Substitute, IdenticalTo, Name
    ("VTI", "US Stocks", "yes", "SCHB", None, "Vanguard Total Stock Market ETF"),
    ("SCHB", "US Stocks", None, "VTI", None, "Schwab U.S. Broad Market ETF"),
    ("ITOT", "US Stocks", None, "VTI", None, "iShares Core S&P Total U.S. Stock Market ETF"),
    ("VOO", "US Stocks", None, "VTI", "IVV, SPY, FXAIX", "Vanguard S&P 500 ETF"),
    ("FXAIX", "US Stocks", None, "VTI", "VOO", "Fidelity 500 Index Fund"),
    ("315911750", "US Stocks", None, None, "FXAIX", "Fidelity 500 Index Fund (by CUSIP)"),
    ("VEA", "International Stocks", "yes", "IEFA", None, "Vanguard FTSE Developed Markets ETF"),
    ("IEFA", "International Stocks", None, "VEA", None, "iShares Core MSCI EAFE ETF"),
    ("VXUS", "International Stocks", None, "IXUS", None, "Vanguard Total International Stock ETF"),
    ("IXUS", "International Stocks", None, "VXUS", None, "iShares Core MSCI Total Intl Stock ETF"),
    ("BND", "Bonds", "tax_deferred, tax_exempt", "AGG", None, "Vanguard Total Bond Market ETF"),
    ("AGG", "Bonds", None, "BND", None, "iShares Core U.S. Aggregate Bond ETF"),
    ("MUB", "Bonds", "taxable", "VTEB", None, "iShares National Muni Bond ETF"),
    ("VTEB", "Bonds", None, "MUB", None, "Vanguard Tax-Exempt Bond ETF"),
]


def build(path: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.worksheet.table import Table, TableStyleInfo

    book = Workbook()
    sheets = (
        (
            "Targets",
            ["AssetClass", "TargetWeight", "BandAbs", "BandRel", "Location"],
            TARGETS,
            {"B": "0.00%", "C": "0.00%", "D": "0.00%"},
            {"A": 22, "B": 14, "C": 10, "D": 10, "E": 14},
        ),
        (
            "Securities",
            ["Symbol", "AssetClass", "Buy", "Substitute", "IdenticalTo", "Name"],
            SECURITIES,
            {},
            {"A": 11, "B": 22, "C": 24, "D": 11, "E": 18, "F": 46},
        ),
    )
    for index, (title, header, rows, formats, widths) in enumerate(sheets):
        ws = book.active if index == 0 else book.create_sheet()
        ws.title = title
        ws.append(header)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append(list(row))
        for letter, fmt in formats.items():
            for (cell,) in ws[f"{letter}2:{letter}{len(rows) + 1}"]:
                cell.number_format = fmt
        for letter, width in widths.items():
            ws.column_dimensions[letter].width = width
        last = chr(ord("A") + len(header) - 1)
        table = Table(displayName=f"tbl{title}", ref=f"A1:{last}{len(rows) + 1}")
        table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
        ws.add_table(table)
        ws.freeze_panes = "A2"
        # Printed (or saved as PDF) one page wide, as a firm files its model.
        ws.page_setup.orientation = "landscape"
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("model.xlsx")))
