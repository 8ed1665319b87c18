"""Rewrite the rows of one of the user's input tables in place (apply-actions).

The user's sheet keeps everything that is not a row of the table: other cells, its
formatting, column widths, validations. Within the table, rows keep their unknown
extra columns and their cell styles; rows that went away are cleared, new rows take
the first data row's styles, and the table's range follows the new row count.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl.utils import get_column_letter, range_boundaries

from . import schema as s
from .tables import cell_value, set_value


def find_table(ws: Any, spec: s.SheetSpec) -> Any | None:
    tables = list(ws.tables.values())
    named = [t for t in tables if t.displayName.lower() == spec.table.lower()]
    return named[0] if named else (tables[0] if len(tables) == 1 else None)


def plan_rows(
    header: list[Any],
    old: Mapping[int, list[Any]],
    spec: s.SheetSpec,
    records: Sequence[tuple[int | None, Mapping[str, Any]]],
) -> tuple[list[Any], list[tuple[int | None, list[Any]]], dict[str, int]]:
    """The table's new header and data rows, whatever holds the table (a file, live Excel).

    `old` maps a sheet row number to that row's values across the table. A record that
    came from a row keeps that row's unknown extra columns. Returns the header (with a
    column added at the right edge for a field some record needs), the rows as (origin
    row, values), and each field's 0-based position.
    """
    by_header = {s.normalize_header(c.header): c for c in spec.columns}
    header = list(header)
    positions: dict[str, int] = {}
    for index, text in enumerate(header):
        column = by_header.get(s.normalize_header(str(text))) if text is not None else None
        if column is not None:
            positions[column.field] = index
    for column in spec.columns:
        if column.field not in positions and any(
            r.get(column.field) not in (None, "", False) for _, r in records
        ):
            positions[column.field] = len(header)
            header.append(column.header)
    width = len(header)
    fields_at = {index: fld for fld, index in positions.items()}
    rows = []
    for origin, values in records:
        row = list(old.get(origin, [])) if origin else []
        row = (row + [None] * width)[:width]
        for index in range(width):
            fld = fields_at.get(index)
            if fld is not None and fld in values:
                row[index] = cell_value(values[fld])
        rows.append((origin, row))
    return header, rows, positions


def rewrite_rows(
    ws: Any,
    spec: s.SheetSpec,
    records: Sequence[tuple[int | None, Mapping[str, Any]]],
) -> None:
    """Make the table's data rows `records`: (the row a record came from, or None for a
    new one; its field values). Fields without a column in the sheet get one added at
    the table's right edge when any record has a value for them."""
    table = find_table(ws, spec)
    if table is not None:
        min_col, header_row, max_col, max_row = range_boundaries(table.ref)
    else:
        min_col, header_row, max_col, max_row = 1, 1, ws.max_column, ws.max_row
    header = [ws.cell(row=header_row, column=c).value for c in range(min_col, max_col + 1)]
    old = {
        r: [ws.cell(row=r, column=c).value for c in range(min_col, max_col + 1)]
        for r in range(header_row + 1, max_row + 1)
    }
    header, new_rows, positions = plan_rows(header, old, spec, records)
    for index in range(max_col - min_col + 1, len(header)):
        col = min_col + index
        ws.cell(row=header_row, column=col, value=header[index])
        column = next(c for c in spec.columns if c.header == header[index])
        ws.column_dimensions[get_column_letter(col)].width = column.width or 12
    max_col = min_col + len(header) - 1
    formats = {c.field: c.number_format for c in spec.columns}
    fields_at = {min_col + index: fld for fld, index in positions.items()}
    template_row = header_row + 1
    styles = {
        c: copy.copy(ws.cell(row=template_row, column=c)._style)
        for c in range(min_col, max_col + 1)
    }

    last = header_row + max(len(new_rows), 1)
    for index, (origin, row) in enumerate(new_rows):
        r = header_row + 1 + index
        for offset, value in enumerate(row):
            col = min_col + offset
            cell = ws.cell(row=r, column=col)
            if origin != r and origin in old:
                cell._style = copy.copy(ws.cell(row=origin, column=col)._style)
            elif origin is None or r > max_row:
                cell._style = copy.copy(styles[col])
            set_value(cell, value)
            fld = fields_at.get(col)
            if fld and formats.get(fld) and value is not None:
                cell.number_format = formats[fld]
    for r in range(header_row + 1 + len(new_rows), max(max_row, last) + 1):
        for col in range(min_col, max_col + 1):
            ws.cell(row=r, column=col).value = None
    if table is not None:
        ref = f"{get_column_letter(min_col)}{header_row}:{get_column_letter(max_col)}{last}"
        _resize(table, ref, ws, header_row, min_col, max_col)


def _resize(table: Any, ref: str, ws: Any, header_row: int, min_col: int, max_col: int) -> None:
    """A table's ref, autofilter and column list must agree, or Excel repairs the file."""
    from openpyxl.worksheet.table import TableColumn

    table.ref = ref
    if table.autoFilter is not None:
        table.autoFilter.ref = ref
    names = [
        str(ws.cell(row=header_row, column=c).value or f"Column{c}")
        for c in range(min_col, max_col + 1)
    ]
    if [c.name for c in table.tableColumns] != names:
        table.tableColumns = [TableColumn(id=i + 1, name=n) for i, n in enumerate(names)]
