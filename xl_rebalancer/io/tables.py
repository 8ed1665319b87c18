"""Write one contract table onto a worksheet: header, rows, formats, Excel table, frozen pane.

Used by the writer (engine sheets), the template builder (empty input tables) and the
demo, so every table the project writes looks and reads the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from . import schema as s
from .schema import BODY_FONT, FMT_DATE, Column, SheetSpec

TABLE_STYLE = "TableStyleMedium2"
HEADER_FONT = Font(name=BODY_FONT, bold=True)
FMT_BOOL = '"TRUE";"TRUE";"FALSE"'


def cell_value(value: Any) -> Any:
    if isinstance(value, bool | int | float | str | dt.date | dt.datetime) or value is None:
        return value
    return str(value)


FORMULA_LEADS = ("=", "+", "-", "@")


def set_value(cell: Any, value: Any) -> None:
    """Store a value the engine computed; text that Excel would read as a formula stays text.

    A symbol, account or lot id typed as `=HYPERLINK(...)`, `+1`, `-x` or `@SUM` comes
    back from the engine as data, never as a formula. openpyxl writes any string that
    starts with `=` as a formula, so such text is typed as a string; and every such cell
    gets Excel's quote prefix (the hidden apostrophe), so editing it in Excel and pressing
    Enter keeps it text. The value itself is unchanged: the reader gets back exactly what
    the user typed.
    """
    cell.value = value
    if isinstance(value, str) and value.startswith(FORMULA_LEADS):
        cell.data_type = "s"
        cell.quotePrefix = True


def write_table(
    ws: Worksheet,
    spec: SheetSpec,
    rows: Iterable[Mapping[str, Any]],
    *,
    columns: Sequence[Column] | None = None,
    blank_rows: int = 0,
) -> int:
    """Write header and rows from A1 as an Excel table named tbl<Sheet>; returns the row count.

    An Excel table needs at least one row below its header, so an empty table gets
    one blank row (the reader skips blank rows).
    """
    columns = list(columns or spec.columns)
    for index, col in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=index, value=col.header)
        cell.font = HEADER_FONT
        cell.alignment = Alignment(vertical="center")
    count = 0
    # Widths are measured as the cells are written (reading 20,000 rows back through
    # ws.cell took half a second on a large household's Trades and Realized).
    longest = [0] * len(columns)
    long_text: list[list[tuple[Cell, int]]] = [[] for _ in columns]
    # Each cell is made with its format's style already in place: through ws.cell and
    # the number_format setter, 176,000 cells of a large household's sheets took 40%
    # longer (the setter looks the format up again for every cell).
    styles: dict[str, StyleArray] = {}
    for count, row in enumerate(rows, start=1):
        for index, col in enumerate(columns, start=1):
            value = cell_value(row.get(col.field))
            fmt = None
            if isinstance(value, bool):
                fmt = FMT_BOOL  # LibreOffice shows bare booleans as 1 and 0
            elif col.number_format and value is not None:
                fmt = col.number_format
            elif isinstance(value, dt.date):
                fmt = FMT_DATE
            style = None
            if fmt is not None:
                if fmt not in styles:
                    probe = Cell(ws)
                    probe.number_format = fmt
                    styles[fmt] = probe._style
                style = StyleArray(styles[fmt])
            cell = Cell(ws, row=count + 1, column=index, style_array=style)
            set_value(cell, value)
            ws._add_cell(cell)
            if value is None:
                continue
            longest[index - 1] = max(longest[index - 1], display_width(value, fmt))
            if isinstance(value, str):
                length = display_width(value, None)
                if length + 2 > WRAP_AT:
                    long_text[index - 1].append((cell, length))
    last_row = max(count, blank_rows, 1) + 1
    for row_index in range(count + 2, last_row + 1):
        for index, col in enumerate(columns, start=1):
            if col.number_format:
                ws.cell(row=row_index, column=index).number_format = col.number_format
    fit_columns(ws, columns, longest, long_text)
    ref = f"A1:{get_column_letter(len(columns))}{last_row}"
    table = Table(displayName=spec.table, ref=ref)
    table.tableStyleInfo = TableStyleInfo(name=TABLE_STYLE, showRowStripes=True)
    ws.add_table(table)
    ws.freeze_panes = "A2"
    print_setup(
        ws,
        ref,
        sum(ws.column_dimensions[get_column_letter(i)].width for i in range(1, len(columns) + 1)),
    )
    return count


# Widths in Excel's character units. A column whose text is longer than WRAP_AT wraps
# inside that width (a Log message, a Reason, a setting's description) rather than
# spilling across the page, which made fit-to-width print whole sheets in 3-point type.
WRAP_AT = 60
MIN_WIDTH = 6
# Characters of ordinary text a WRAP_AT-wide column holds on one line (widths count the
# digit 0, wider than the average letter).
LINE_CHARS = 66
FILTER_BUTTON = 3  # the table header's drop-down arrow covers the end of a header
# A printed page holds about this many characters across before fit-to-width shrinks it.
PORTRAIT_CHARS = 95


def display_width(value: Any, number_format: str | None) -> int:
    """About how many characters Excel shows for a value in a format."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return 5
    if isinstance(value, dt.datetime):
        return 19 if number_format == s.FMT_DATETIME else 10
    if isinstance(value, dt.date):
        return 10
    if isinstance(value, int | float):
        fmt = number_format or ""
        if "%" in fmt:
            return len(f"{value * 100:,.2f}%")
        if fmt.startswith("#,##0.0000"):
            return len(f"{value:,.4f}")
        if fmt == s.FMT_SHARES or fmt == s.FMT_RATIO:
            return len(f"{value:,.6f}".rstrip("0").rstrip("."))
        if fmt.startswith("#,##0.00"):
            return len(f"{value:,.2f}")
        return len(f"{value:,.6g}")
    text = str(value)
    return max((len(line) for line in text.splitlines()), default=0)


def fit_columns(
    ws: Worksheet,
    columns: Sequence[Column],
    longest: Sequence[int],
    long_text: Sequence[Sequence[tuple[Cell, int]]],
) -> None:
    """Column widths from the header and the values written (no cut account names); long
    text wraps at WRAP_AT characters with the row top-aligned. `longest` is each column's
    widest value as shown, `long_text` its cells of text wider than WRAP_AT."""
    for index, col in enumerate(columns, start=1):
        letter = get_column_letter(index)
        widest = len(col.header) + FILTER_BUTTON
        width = max(widest, longest[index - 1] + 2, col.width or 0, MIN_WIDTH)
        if longest[index - 1] + 2 > WRAP_AT:
            width = WRAP_AT
            for cell, length in long_text[index - 1]:
                row = cell.row
                cell.alignment = Alignment(wrap_text=True, vertical="top")
                # Not every program grows a row to its wrapped text on open.
                lines = -(-length // LINE_CHARS) + str(cell.value).count("\n")
                current = ws.row_dimensions[row].height or 15
                ws.row_dimensions[row].height = max(current, 15 * lines)
                for other in ws[row]:  # the row's other cells level with its first line
                    if other is not cell and not other.alignment.wrap_text:
                        other.alignment = Alignment(
                            horizontal=other.alignment.horizontal, vertical="top"
                        )
        ws.column_dimensions[letter].width = min(width, WRAP_AT)


def print_setup(ws: Worksheet, area: str, width_chars: float, *, titles: bool = True) -> None:
    """One page wide (as many down as it takes), header row repeated on every page,
    landscape only when the table is wider than a portrait page, the table as the print
    area (so nothing beyond it, such as a long note, shrinks the page)."""
    ws.page_setup.orientation = "landscape" if width_chars > PORTRAIT_CHARS else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if titles:
        ws.print_title_rows = "1:1"
    ws.print_area = area
    ws.print_options.gridLines = False
    ws.page_margins.left = ws.page_margins.right = 0.5


VALIDATION_ROWS = 2000
DROPDOWNS: dict[str, dict[str, list[str]]] = {
    s.ACCOUNTS.name: {"type": ["taxable", "tax_deferred", "tax_exempt"]},
    s.CONSTRAINTS.name: {
        "scope": ["symbol", "asset_class", "account"],
        "no_buy": ["TRUE", "FALSE"],
        "no_sell": ["TRUE", "FALSE"],
    },
    s.CORPORATE_ACTIONS.name: {
        "type": ["split", "cash_dividend", "stock_dividend", "merger", "spinoff", "symbol_change"],
        "status": ["pending", "applied"],
    },
    s.TRANSACTIONS.name: {"action": ["BUY", "SELL"]},
    s.TAX_LOTS.name: {"lock": ["lock", "sell"]},
    s.PRICES.name: {"source": ["manual", "yahoo", "cache", "file"]},
}


def add_dropdowns(ws: Worksheet, spec: SheetSpec) -> None:
    """List validations on the enumerated columns of an input sheet."""
    fields = [c.field for c in spec.columns]
    for fld, choices in DROPDOWNS.get(spec.name, {}).items():
        letter = get_column_letter(fields.index(fld) + 1)
        rule = DataValidation(
            type="list",
            formula1='"' + ",".join(choices) + '"',
            allow_blank=True,
            showErrorMessage=True,
            error="Pick one of: " + ", ".join(choices),
        )
        ws.add_data_validation(rule)
        rule.add(f"{letter}2:{letter}{VALIDATION_ROWS}")
