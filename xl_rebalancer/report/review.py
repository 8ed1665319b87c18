"""The morning review as a workbook: REPORT.xlsx beside REPORT.csv and REPORT.json.

A file of our own (never a user's workbook), written whole by openpyxl: a Review sheet
with one row per client, a link to its workbook (a path relative to the review, so the
folder can be moved or shared as a whole) and the review's columns, formatted to read
(number formats, frozen header and first column, a filter on every column); and a Tax
view sheet with the firm-wide tax table of the year-end sweep.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..models.types import safe_text
from ..workbook.schema import BODY_FONT

MONEY = "#,##0.00_);[Red]-#,##0.00_)"
PERCENT = "0.00%"
COUNT = "0"
SECONDS = "0.00"

# (field of BatchRow, header, number format, width)
REVIEW_COLUMNS: tuple[tuple[str, str, str | None, float], ...] = (
    ("workbook", "Workbook", None, 28),
    ("client", "Client", None, 20),
    ("household", "Household", None, 12),
    ("status", "Status", None, 9),
    ("where", "Where", None, 12),
    ("message", "Message", None, 40),
    ("proposal", "Proposal", None, 11),
    ("custodians", "Custodians", None, 14),
    ("do_not_trade", "Do not trade", None, 14),
    ("triggered", "Triggered", None, 10),
    ("out_of_band", "Out of band", None, 24),
    ("household_value", "Value", MONEY, 15),
    ("cash_flow", "Cash flow", MONEY, 13),
    ("trades", "Trades", COUNT, 8),
    ("buys", "Buys", MONEY, 13),
    ("sells", "Sells", MONEY, 13),
    ("turnover", "Share traded", PERCENT, 13),
    ("realized_st", "Realized ST", MONEY, 13),
    ("realized_lt", "Realized LT", MONEY, 13),
    ("estimated_tax", "Est. tax", MONEY, 12),
    ("largest_drift", "Furthest off, before", PERCENT, 13),
    ("largest_drift_after", "Furthest off, after", PERCENT, 13),
    ("warnings", "Warnings", COUNT, 10),
    ("first_warning", "First warning", None, 40),
    ("pdf", "PDF", None, 12),
    ("seconds", "Seconds", SECONDS, 9),
)

TAX_COLUMNS: tuple[tuple[str, str, str | None, float], ...] = (
    ("household", "Household", None, 12),
    ("workbook", "Workbook", None, 28),
    ("client", "Client", None, 20),
    ("status", "Status", None, 9),
    ("ytd_realized_st", "YTD realized ST", MONEY, 15),
    ("ytd_realized_lt", "YTD realized LT", MONEY, 15),
    ("st_carryover", "ST loss carried in", MONEY, 15),
    ("lt_carryover", "LT loss carried in", MONEY, 15),
    ("harvestable_loss", "Harvestable losses", MONEY, 16),
    ("harvestable_lots", "Harvestable lots", COUNT, 12),
    ("estimated_tax", "Est. tax of proposal", MONEY, 15),
    ("year_tax", "Year's est. tax", MONEY, 15),
    ("st_carryforward", "ST loss to next year", MONEY, 15),
    ("lt_carryforward", "LT loss to next year", MONEY, 15),
)

STATUS_COLORS = {"ok": "2E7D32", "invalid": "B26A00", "error": "C62828", "crashed": "C62828"}


def tax_rows(rows: Sequence[Any]) -> list[Any]:
    """The tax view's order: households together (spouses side by side), then the
    workbooks without one, each by workbook."""
    return sorted(rows, key=lambda r: (not r.household, r.household.casefold(), r.workbook))


def link(target: Path, base: Path) -> str:
    """`target` relative to the folder `base` is in, with forward slashes (Excel and
    LibreOffice both follow them); absolute when there is no relative way (another
    drive)."""
    try:
        return Path(os.path.relpath(target.resolve(), base.resolve().parent)).as_posix()
    except ValueError:
        return target.resolve().as_uri()


def write_review(rows: Sequence[Any], path: Path) -> Path:
    """REPORT.xlsx: the Review sheet and the Tax view sheet; saved whole (a temporary
    name renamed over `path`), so a reader never meets half a file."""
    from openpyxl import Workbook

    wb = Workbook()
    review = wb.active
    review.title = "Review"
    _table(review, REVIEW_COLUMNS, list(rows), path)
    _table(wb.create_sheet("Tax view"), TAX_COLUMNS, tax_rows(rows), path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".~{path.name}")
    wb.save(partial)
    partial.replace(path)
    return path


def _table(
    ws: Any, columns: Sequence[tuple[str, str, str | None, float]], rows: list[Any], path: Path
) -> None:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    header_font = Font(name=BODY_FONT, bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    rule = Border(bottom=Side(style="thin", color="8EA9DB"))
    body = Font(name=BODY_FONT)
    for index, (_, title, fmt, width) in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=index, value=title)
        cell.font, cell.fill, cell.border = header_font, fill, rule
        cell.alignment = Alignment(
            horizontal="right" if fmt else "left", vertical="center", wrap_text=True
        )
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.row_dimensions[1].height = 30
    for r, row in enumerate(rows, start=2):
        for c, (name, _, fmt, _) in enumerate(columns, start=1):
            value = getattr(row, name)
            cell = ws.cell(row=r, column=c)
            cell.font = body
            if name == "workbook":
                target = Path(row.output or row.workbook)
                cell.value = safe_text(Path(row.workbook).name)
                cell.hyperlink = link(target, path)
                cell.font = Font(name=BODY_FONT, color="0563C1", underline="single")
            elif name == "pdf":
                if value:
                    cell.value = "PDF"
                    cell.hyperlink = link(Path(value), path)
                    cell.font = Font(name=BODY_FONT, color="0563C1", underline="single")
            elif name == "triggered":
                cell.value = None if value is None else ("yes" if value else "no")
            elif name == "status":
                cell.value = value
                cell.font = Font(name=BODY_FONT, bold=True, color=STATUS_COLORS.get(value))
            elif isinstance(value, list):
                cell.value = safe_text(", ".join(value)) if value else None
            elif isinstance(value, bool):
                cell.value = "yes" if value else "no"
            elif isinstance(value, int | float):
                cell.value = value
                if fmt:
                    cell.number_format = fmt
            else:
                cell.value = safe_text(value) if value else None
                if name in {"first_warning", "message"}:
                    # Set off from the figure on its left.
                    cell.alignment = Alignment(horizontal="left", indent=1)
    last = get_column_letter(len(columns))
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = f"A1:{last}{max(len(rows) + 1, 2)}"
    ws.sheet_view.zoomScale = 90
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"
