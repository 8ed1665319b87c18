"""`init --into`: the rebalancer's input sheets added to a workbook the user already has.

Users keep their portfolios in workbooks Excel wrote, with sheets, charts, pictures and
macros of their own. The input sheets (and, in a macro-enabled workbook, the ribbon,
the VBA modules and the xlwings.conf sheet) are spliced into that package exactly as
the template has them (workbook/splice.py), so every part of the user's is copied byte for
byte; a package the splice cannot edit is refused rather than rewritten by openpyxl,
which would drop what it cannot model.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import WorkbookError
from . import schema as s
from .edits import SheetOutput, WorkbookEdit


@dataclass
class Attached:
    """What `init --into` did to a workbook."""

    path: Path
    added: list[str] = field(default_factory=list)  # sheet titles, in order
    present: list[str] = field(default_factory=list)  # input sheets it had already
    doors: bool = False  # a macro-enabled workbook: ribbon and macros asked for
    notes: list[str] = field(default_factory=list)


def attach(path: Path, *, out: Path | None = None) -> Attached:
    """Add every missing input sheet to the workbook at `path` (saved to `out`, default in
    place). A sheet of the user's under one of our names stops it with a sentence; a
    workbook that has every input sheet is left as it is."""
    from ..excel.doors import CONF_SHEET
    from .cells import Package
    from .rows import _locate, _read_sheet
    from .safety import check_package, regular_file
    from .writer import MACRO_SUFFIXES, save_workbook

    if not path.exists():
        raise WorkbookError(f"{path}: no such file")
    regular_file(path)
    check_package(path)
    result = Attached(path=out or path)
    missing: list[s.SheetSpec] = []
    with Package(path) as book:
        titles = book.titles
        tables = book.tables()
        for spec in s.INPUT_SHEETS:
            found = _locate(titles, tables, spec)
            if found is None:
                missing.append(spec)
                continue
            title, table = found
            if table is None or table.name.lower() != spec.table.lower():
                raise WorkbookError(
                    f"{path}: the sheet {title} is not xl-rebalancer's (it has no table "
                    f"{spec.table}), and the rebalancer needs that name for its {spec.name} "
                    f"sheet; nothing was changed. To fix: rename your sheet {title} and run "
                    "again."
                )
            # A table of the user's that happens to carry our table's name (tblHoldings
            # on a sheet of theirs) is not our sheet moved: it lacks our columns.
            if isinstance(_read_sheet(book, title, spec, table), list):
                raise WorkbookError(
                    f"{path}: the table {table.name} on your sheet {title} has the name "
                    f"xl-rebalancer gives its {spec.name} table, but not its columns; nothing "
                    f"was changed. To fix: rename your table (Table Design > Table Name) "
                    "and run again."
                )
            result.present.append(title)
    macro = path.suffix.lower() in MACRO_SUFFIXES
    has_conf = any(t.lower() == CONF_SHEET for t in titles)
    if not missing and (not macro or has_conf):
        return result
    from ..excel.template import write_input_sheet

    outputs = [
        SheetOutput(spec, [], write=functools.partial(write_input_sheet, spec=spec))
        for spec in missing
    ]
    if macro and not has_conf:
        from ..excel.doors import write_conf_sheet

        outputs.append(SheetOutput(s.SheetSpec(CONF_SHEET, ()), [], write=write_conf_sheet))
    edit = WorkbookEdit(sheets=outputs, doors=macro)
    dest = save_workbook(path, edit, out)
    result.path = Path(os.fspath(dest))
    result.added = [o.spec.name for o in outputs]
    result.doors = macro
    result.notes = list(edit.notes)
    return result
