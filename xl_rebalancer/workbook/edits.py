"""What a run changes in a workbook, as plain data: the file writer (workbook/writer.py) and
the live-Excel adapter (excel/adapter.py) apply the same edit. Kept apart from the
writer so that commands that only read (`validate`) do not import openpyxl.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import schema as s


@dataclass
class SheetOutput:
    """Rows for one engine sheet, plus an optional hook that adds charts or notes."""

    spec: s.SheetSpec
    rows: Sequence[Mapping[str, Any]]
    decorate: Callable[[Any], None] | None = None
    columns: Sequence[s.Column] | None = None
    # A laid-out page (report/page.Report) drawn instead of a table.
    report: Any = None
    # The workbook opens on this sheet after the save.
    show: bool = False
    # A new sheet goes first rather than last (the Report).
    first: bool = False
    # Writes the whole sheet instead of a table of `rows` (an input sheet added by
    # `init --into`, with its dropdowns and formats, as the template has it).
    write: Callable[[Any], None] | None = None


@dataclass(frozen=True)
class InputRewrite:
    """An input table whose data rows become `records` (origin row or None, field values);
    the sheet is found by its title in the workbook, or created when `create`."""

    spec: s.SheetSpec
    title: str
    records: Sequence[tuple[int | None, Mapping[str, Any]]]
    create: bool = False


@dataclass
class WorkbookEdit:
    """Everything one run changes: engine sheets replaced, input sheets edited in place.
    Plain data, so the file writer and the live-Excel adapter apply the same edit."""

    sheets: list[SheetOutput] = field(default_factory=list)
    rewrites: list[InputRewrite] = field(default_factory=list)
    # Compute every formula before saving (formulas.recalc); what it found is left here.
    recalc: bool = False
    # Add the Excel doors (VBA modules, ribbon, xlwings.conf) to a macro-enabled
    # workbook that lacks them (`init --into`); the save must then be a splice.
    doors: bool = False
    # What the save wants the user to know (a ribbon of their own kept as it was).
    notes: list[str] = field(default_factory=list)
    # Parts the splice copied with only their head patched (workbook/gate.py reads just that).
    patched: set[str] = field(default_factory=set)
    recalculated: Any = None
