"""Sheets written into a workbook open in openpyxl: an engine sheet replaced in place, an
input table's rows rewritten.

Both saves use these: the whole-workbook rewrite (workbook/writer.py) on the user's
workbook, and the splice (workbook/splice_scratch.py) on a small scratch workbook whose
parts it then moves into the user's package. Kept apart from the writer so that the
splice, which the writer calls, does not import the writer back.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

from .edits import InputRewrite, SheetOutput
from .tables import write_table


def load_bytes(data: bytes) -> Any:
    """A package in memory opened for editing (the input sheets a splice rewrites)."""
    import io

    from openpyxl import load_workbook

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_workbook(io.BytesIO(data), keep_links=False)


def _code_name(ws: Any) -> str | None:
    props = getattr(ws, "sheet_properties", None) or getattr(ws, "sheetPr", None)
    return getattr(props, "codeName", None) if props is not None else None


def replace_sheet(wb: Any, output: SheetOutput, deferred: Any = None) -> Any:
    """Drop the sheet of that name (if any) and write a fresh one in the same place.
    With `deferred` (tables.DeferredRows), a table's data rows are kept there as values."""
    from .engine_sheets import MARKER, is_output, ownership, renamed, title_for

    spec = output.spec
    if is_output(spec):  # never over a sheet of the user's (workbook/engine_sheets.py)
        marked = [ws.title for ws in wb.worksheets if MARKER in ws.defined_names]
        engine = ownership(marked, wb.properties.creator)
        spec = renamed(spec, title_for(spec.name, wb.sheetnames, engine))
        output = replace(output, spec=spec)
    name = spec.name
    index = None
    code_name = None
    for title in list(wb.sheetnames):
        if title.lower() == name.lower():
            index = wb.sheetnames.index(title)
            code_name = _code_name(wb[title])
            del wb[title]
    if index is None and output.first:
        index = 0
    ws = wb.create_sheet(name, index)
    if code_name:  # the new sheet takes over the old one's VBA module
        ws.sheet_properties.codeName = code_name
    if is_output(spec):
        from openpyxl.workbook.defined_name import DefinedName

        ws.defined_names.add(DefinedName(MARKER, attr_text="TRUE", hidden=True))
    if output.write is not None:
        output.write(ws)
    elif output.report is not None:
        from ..report.page import draw_file

        draw_file(ws, output.report)
    else:
        write_table(ws, output.spec, output.rows, columns=output.columns, deferred=deferred)
    if output.decorate is not None:
        output.decorate(ws)
    if output.show:
        show_sheet(wb, ws)
    return ws


def show_sheet(wb: Any, ws: Any) -> None:
    """Open the workbook on `ws`, with no other sheet selected (several selected tabs are
    a group in Excel, where typing into one sheet types into all)."""
    for other in wb.worksheets:
        other.sheet_view.tabSelected = other is ws
    wb.active = wb.worksheets.index(ws)


def _rewrite(wb: Any, rewrite: InputRewrite) -> None:
    from .rewrite import rewrite_rows

    if rewrite.title in wb.sheetnames:
        ws = wb[rewrite.title]
    elif rewrite.create:
        ws = wb.create_sheet(rewrite.spec.name)
        write_table(ws, rewrite.spec, [])
    else:
        return
    rewrite_rows(ws, rewrite.spec, rewrite.records)
