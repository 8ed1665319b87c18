"""Write one contract table onto a worksheet: header, rows, formats, Excel table, frozen pane.

Used by the writer (engine sheets), the template builder (empty input tables) and the
demo, so every table the project writes looks and reads the same.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from . import schema as s
from .package import xml_text
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
    deferred: DeferredRows | None = None,
) -> int:
    """Write header and rows from A1 as an Excel table named tbl<Sheet>; returns the row count.

    An Excel table needs at least one row below its header, so an empty table gets
    one blank row (the reader skips blank rows).

    With `deferred`, the data rows are not made as openpyxl cells: their values and
    styles (registered in the workbook) are kept there, and the caller writes them as
    sheet XML once it knows the saved package's style and string numbering (workbook/splice.py).
    Making and serializing an openpyxl cell per value was 2 of the 3 s a large
    household's save took.
    """
    columns = list(columns or spec.columns)
    for index, col in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=index, value=col.header)
        cell.font = HEADER_FONT
        cell.alignment = Alignment(vertical="center")
    grid, longest, long_text = _measure(rows, columns)
    count = len(grid)
    # A column of long text wraps at WRAP_AT: its long cells wrap, the row grows to the
    # lines they take (not every program grows a row to its wrapped text on open), and
    # the row's other cells stay level with its first line.
    wrapping = [longest[i] + 2 > WRAP_AT for i in range(len(columns))]
    wrapped: dict[int, set[int]] = {}
    heights: dict[int, float] = {}
    for index, cells in enumerate(long_text):
        if not wrapping[index]:
            continue
        for row_index, length, text in cells:
            wrapped.setdefault(row_index, set()).add(index)
            lines = -(-length // LINE_CHARS) + text.count("\n")
            heights[row_index] = max(heights.get(row_index, 15), 15 * lines)
    styles = _Styles(ws)
    if deferred is None:
        for row_index, row in enumerate(grid, start=2):
            around = wrapped.get(row_index)
            for index, (value, fmt) in enumerate(row, start=1):
                align = None if around is None else ("wrap" if index - 1 in around else "top")
                style = styles.array(fmt, align, quote=False)
                cell = Cell(ws, row=row_index, column=index, style_array=style)
                set_value(cell, value)
                ws._add_cell(cell)
            if row_index in heights:
                ws.row_dimensions[row_index].height = heights[row_index]
    else:
        deferred.letters = [get_column_letter(i) for i in range(1, len(columns) + 1)]
        deferred.heights = heights
        for row_index, row in enumerate(grid, start=2):
            around = wrapped.get(row_index)
            cells = []
            for index, (value, fmt) in enumerate(row):
                align = None if around is None else ("wrap" if index in around else "top")
                quote = isinstance(value, str) and value.startswith(FORMULA_LEADS)
                cells.append((value, styles.xf(fmt, align, quote)))
            deferred.rows.append(cells)
    last_row = max(count, blank_rows, 1) + 1
    for row_index in range(count + 2, last_row + 1):
        for index, col in enumerate(columns, start=1):
            if col.number_format:
                ws.cell(row=row_index, column=index).number_format = col.number_format
    fit_columns(ws, columns, longest)
    ref = f"A1:{get_column_letter(len(columns))}{last_row}"
    table = Table(displayName=spec.table, ref=ref)
    table.tableStyleInfo = TableStyleInfo(name=TABLE_STYLE, showRowStripes=True)
    # The columns named here: left to openpyxl, they are named on save from the header
    # cells, read through ws[ref], which makes a cell for every position of the table
    # (0.9 s of a large household's save).
    table._initialise_columns()
    for table_column, col in zip(table.tableColumns, columns, strict=True):
        table_column.name = col.header
    ws.add_table(table)
    ws.freeze_panes = "A2"
    print_setup(
        ws,
        ref,
        sum(ws.column_dimensions[get_column_letter(i)].width for i in range(1, len(columns) + 1)),
    )
    return count


def _measure(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[Column]
) -> tuple[list[list[tuple[Any, str | None]]], list[int], list[list[tuple[int, int, str]]]]:
    """Each cell's value and number format, each column's widest value as shown, and
    its text cells too wide for the column to hold on one line (row, width, text).
    Widths are measured here rather than read back (reading 20,000 rows back through
    ws.cell took half a second on a large household's Trades and Realized)."""
    grid: list[list[tuple[Any, str | None]]] = []
    longest = [0] * len(columns)
    long_text: list[list[tuple[int, int, str]]] = [[] for _ in columns]
    numbers: list[list[int | float]] = [[] for _ in columns]  # measured per column below
    for row_index, row in enumerate(rows, start=2):
        cells = []
        for index, col in enumerate(columns):
            value = cell_value(row.get(col.field))
            if value is None:
                cells.append((None, None))
            elif isinstance(value, str):
                cells.append((value, col.number_format))
                width = len(value) if "\n" not in value else display_width(value, None)
                if width + 2 > WRAP_AT:
                    long_text[index].append((row_index, width, value))
                if width > longest[index]:
                    longest[index] = width
            elif isinstance(value, int | float) and not isinstance(value, bool):
                cells.append((value, col.number_format))
                numbers[index].append(value)
            else:
                fmt = col.number_format
                if isinstance(value, bool):
                    fmt = FMT_BOOL  # LibreOffice shows bare booleans as 1 and 0
                elif fmt is None and isinstance(value, dt.date):
                    fmt = FMT_DATE
                cells.append((value, fmt))
                width = display_width(value, fmt)
                if width > longest[index]:
                    longest[index] = width
        grid.append(cells)
    for index, values in enumerate(numbers):
        if values:
            longest[index] = max(longest[index], _widest(values, columns[index].number_format))
    return grid, longest, long_text


# Number formats whose shown width never shrinks as a number grows away from zero (a
# fixed count of decimals): a column's widest number is its largest or its smallest.
_FIXED_DECIMALS = ("#,##0.0000", "#,##0.00")


def _widest(values: list[int | float], fmt: str | None) -> int:
    """The widest a column's numbers are shown, measuring as few as that takes."""
    fixed = fmt is not None and ("%" in fmt or fmt.startswith(_FIXED_DECIMALS))
    if not fixed or any(v != v for v in values):  # NaN does not order
        return max(display_width(v, fmt) for v in set(values))
    low, high = min(values), max(values)
    candidates = [low, high]
    if low == 0 and any(v == 0 and math.copysign(1, v) < 0 for v in values):
        candidates.append(-0.0)  # shown with its minus sign
    return max(display_width(v, fmt) for v in candidates)


class _Styles:
    """Cell styles by number format, alignment and quote prefix, each registered once:
    through ws.cell and the number_format setter, 176,000 cells of a large household's
    sheets took 40% longer (the setter looks the format up again for every cell)."""

    def __init__(self, ws: Worksheet) -> None:
        self.ws = ws
        self.arrays: dict[tuple[str | None, str | None, bool], StyleArray | None] = {}
        self.ids: dict[tuple[str | None, str | None, bool], int] = {}

    def array(self, fmt: str | None, align: str | None, quote: bool) -> StyleArray | None:
        key = (fmt, align, quote)
        if key not in self.arrays:
            if fmt is None and align is None and not quote:
                self.arrays[key] = None
            else:
                probe = Cell(self.ws)
                if fmt is not None:
                    probe.number_format = fmt
                if align == "wrap":
                    probe.alignment = Alignment(wrap_text=True, vertical="top")
                elif align == "top":
                    probe.alignment = Alignment(vertical="top")
                if quote:
                    probe.quotePrefix = True
                self.arrays[key] = probe._style
        found = self.arrays[key]
        return None if found is None else StyleArray(found)

    def xf(self, fmt: str | None, align: str | None, quote: bool) -> int:
        """The style's position in the workbook's cell formats (0: none)."""
        key = (fmt, align, quote)
        if key not in self.ids:
            found = self.array(fmt, align, quote)
            self.ids[key] = 0 if found is None else self.ws.parent._cell_styles.add(found)
        return self.ids[key]


MAX_TEXT = 32767  # characters a cell holds


@dataclass
class DeferredRows:
    """A table's data rows as values and the workbook's style ids, from row 2 down."""

    rows: list[list[tuple[Any, int]]] = field(default_factory=list)
    letters: list[str] = field(default_factory=list)
    heights: dict[int, float] = field(default_factory=dict)

    def xml(self, xfs: Mapping[int, int], share: Callable[[str], int]) -> str:
        """The rows as sheet XML, each style id mapped through `xfs` and each text put in
        the shared-string table by `share` (its already escaped text → its index): what
        openpyxl writes for the same cells, then restyled and shared by the splice, in
        one pass (a test compares the two). A character XML cannot carry is written as
        Excel's _xHHHH_ escape where openpyxl refuses the whole save."""
        out = []
        letters, heights = self.letters, self.heights
        escaped: dict[str, str] = {}  # symbols and accounts repeat down a column
        for row_index, cells in enumerate(self.rows, start=2):
            height = heights.get(row_index)
            out.append(
                f'<row r="{row_index}">'
                if height is None
                else f'<row r="{row_index}" ht="{height:.16g}" customHeight="1">'
            )
            for index, (value, xf) in enumerate(cells):
                style = f' s="{xfs[xf]}"' if xf else ""
                ref = f"{letters[index]}{row_index}"
                if value is None:
                    if xf:
                        out.append(f'<c r="{ref}"{style} t="n"></c>')
                elif isinstance(value, str):
                    if value:
                        text = escaped.get(value)
                        if text is None:
                            text = xml_text(value[:MAX_TEXT]).replace("\r", "&#13;")
                            escaped[value] = text
                        out.append(f'<c r="{ref}"{style} t="s"><v>{share(text)}</v></c>')
                    else:  # an empty text: Excel's blank cell
                        out.append(f'<c r="{ref}"{style}></c>')
                elif isinstance(value, bool):
                    out.append(f'<c r="{ref}"{style} t="b"><v>{int(value)}</v></c>')
                elif isinstance(value, int | float):
                    number = f"{value:.16g}" if math.isfinite(value) else ""
                    out.append(f'<c r="{ref}"{style} t="n"><v>{number}</v></c>')
                else:  # a date (cell_value leaves nothing else)
                    out.append(f'<c r="{ref}"{style} t="n"><v>{to_excel(value):.16g}</v></c>')
            out.append("</row>")
        return "".join(out)


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


def fit_columns(ws: Worksheet, columns: Sequence[Column], longest: Sequence[int]) -> None:
    """Column widths from the header and the values written (no cut account names), at
    most WRAP_AT (longer text wraps). `longest` is each column's widest value as shown."""
    for index, col in enumerate(columns, start=1):
        widest = len(col.header) + FILTER_BUTTON
        width = max(widest, longest[index - 1] + 2, col.width or 0, MIN_WIDTH)
        ws.column_dimensions[get_column_letter(index)].width = min(width, WRAP_AT)


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
