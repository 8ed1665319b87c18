"""The workbook open in Excel, as the run functions of `app` see a file (a `door.Door`).

The ribbon's macros run while Excel holds the file open, so nothing may be saved to
it behind Excel's back: this adapter reads the input tables through xlwings, with the
reader's own rules (same schema, same cell addresses in every message), and writes
the engine's sheets and input edits into the live workbook, leaving the save to the
user. Engine sheets are cleared and rewritten in place, never deleted, so formulas on
the user's own sheets that point at them keep working.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import Problem
from ..models.types import safe_text
from ..workbook import schema as s
from ..workbook.edits import InputRewrite, SheetOutput, WorkbookEdit
from ..workbook.engine_sheets import is_output, title_for
from ..workbook.reader import WorkbookInput, build_portfolio
from ..workbook.rewrite import plan_rows
from ..workbook.rows import SheetData, sheet_from_rows
from ..workbook.tables import cell_value

CHART_PREFIX = "xlrb"
REPORT_TITLE = "Rebalance proposal"  # report/page.build_report's title, the Report's A1


class XlwingsDoor:
    """An xlwings `Book` as a `door.Door`."""

    def __init__(self, book: Any) -> None:
        self.book = book
        self.path = Path(book.fullname)
        self._digest = ""

    # --- reading ---------------------------------------------------------------------

    def _sheet(self, name: str) -> Any | None:
        wanted = s.normalize_header(name)
        for sheet in self.book.sheets:
            if s.normalize_header(sheet.name) == wanted:
                return sheet
        return None

    @staticmethod
    def _table(sheet: Any, spec: s.SheetSpec) -> Any | None:
        tables = list(sheet.tables)
        named = [t for t in tables if t.name.lower() == spec.table.lower()]
        return named[0] if named else (tables[0] if len(tables) == 1 else None)

    def _block(self, sheet: Any, spec: s.SheetSpec) -> tuple[list[list[Any]], int, int]:
        """The table's cells (header first) and the sheet position of its top-left cell."""
        table = self._table(sheet, spec)
        if table is not None:
            rng = table.range
        else:
            last = sheet.used_range.last_cell
            rng = sheet.range((1, 1), (max(last.row, 1), max(last.column, 1)))
        values = rng.options(ndim=2).value or [[]]
        return [list(r) for r in values], rng.row, rng.column

    def read(self, options: Any) -> WorkbookInput:
        sheets = self.read_raw()
        return build_portfolio(sheets, as_of=options.as_of, today=options.today, path=self.path)

    def read_raw(
        self, specs: Sequence[s.SheetSpec] = s.INPUT_SHEETS
    ) -> dict[str, SheetData | list[Problem]]:
        """The tables' raw values, as workbook.rows.read_raw_sheets gives them from a file."""
        sheets: dict[str, SheetData | list[Problem]] = {}
        digest = hashlib.sha256()
        for spec in specs:
            sheet = self._output_sheet(spec) if is_output(spec) else self._sheet(spec.name)
            if sheet is None:
                continue
            values, row, col = self._block(sheet, spec)
            digest.update(repr((spec.name, row, col, values)).encode())
            sheets[spec.name] = sheet_from_rows(iter(values), sheet.name, spec, row, col)
        self._digest = digest.hexdigest()[:16]
        return sheets

    def digest(self) -> str:
        """A hash of the input tables' values as Excel holds them (the book may be unsaved);
        known once `read` has run."""
        return self._digest

    # --- writing ---------------------------------------------------------------------

    def save(self, edit: WorkbookEdit, out: Path | None) -> Path:
        app = self.book.app
        updating = _get(app, "screen_updating", True)
        _set(app, "screen_updating", False)
        try:
            for rewrite in edit.rewrites:
                self._rewrite(rewrite)
            for output in edit.sheets:
                self.write_sheet(output)
        finally:
            _set(app, "screen_updating", updating)
        return self.path

    def lock(self, out: Path | None) -> contextlib.AbstractContextManager[None]:
        """Excel itself is the one writer of a book it has open."""
        return contextlib.nullcontext()

    def backup(self, stamp: dt.datetime, kind: str = "actions") -> Path | None:
        """A copy of the workbook beside it before its input sheets change. Excel's own
        SaveCopyAs keeps unsaved edits; without it, the last saved file is copied."""
        from ..door import backup_path

        path = self.path
        backup = backup_path(path, stamp, kind)
        with contextlib.suppress(Exception):
            self.book.api.SaveCopyAs(str(backup))
            return backup
        if path.exists():
            shutil.copy2(path, backup)
            return backup
        return None

    # --- the engine's sheets beside the user's (workbook/engine_sheets.py) ---------------------

    def _owned(self, sheet: Any, spec: s.SheetSpec) -> bool:
        """Whether a sheet of an output's name is the engine's: it holds the engine's table
        (the Report, which has none, its title). A sheet of the user's named `Summary`
        holds neither and is left alone."""
        if not spec.columns:
            return _get(sheet.range((1, 1)), "value", None) == REPORT_TITLE
        own = re.compile(rf"{re.escape(spec.table)}(?:_\d+)?", re.I)
        return any(own.fullmatch(str(_get(t, "name", ""))) for t in _get(sheet, "tables", []))

    def _output_title(self, spec: s.SheetSpec) -> str:
        titles = [sheet.name for sheet in self.book.sheets]
        by_title = {sheet.name: sheet for sheet in self.book.sheets}
        if spec.columns and not self._owned_by_name(spec, by_title):
            for title, sheet in by_title.items():  # where the engine put it, any title
                if title.lower() != spec.name.lower() and self._owned(sheet, spec):
                    return title
        return title_for(spec.name, titles, lambda title: self._owned(by_title[title], spec))

    def _owned_by_name(self, spec: s.SheetSpec, by_title: dict[str, Any]) -> bool:
        named = next((sh for t, sh in by_title.items() if t.lower() == spec.name.lower()), None)
        return named is not None and self._owned(named, spec)

    def _output_sheet(self, spec: s.SheetSpec) -> Any | None:
        title = self._output_title(spec)
        return next((sh for sh in self.book.sheets if sh.name == title), None)

    def _ensure_sheet(self, name: str) -> Any:
        sheet = self._sheet(name)
        if sheet is None:
            sheets = self.book.sheets
            sheet = sheets.add(name=name, after=sheets[len(sheets) - 1])
        return sheet

    def _write_block(
        self,
        sheet: Any,
        spec: s.SheetSpec,
        header: Sequence[Any],
        body: Sequence[Sequence[Any]],
        top: int = 1,
        left: int = 1,
        old_rows: int = 0,
    ) -> Any:
        """Header and rows at (top, left) as the sheet's table, old rows below cleared."""
        width = len(header)
        rows = [list(header), *([safe_text(cell_value(v)) for v in r] for r in body)]
        if old_rows > len(body):
            sheet.range(
                (top + len(body) + 1, left), (top + old_rows, left + width - 1)
            ).clear_contents()
        sheet.range((top, left)).value = rows
        # An Excel table needs a row below its header.
        area = sheet.range((top, left), (top + max(len(body), 1), left + width - 1))
        table = self._table(sheet, spec)
        if table is None:
            sheet.tables.add(source=area, name=spec.table)
        elif table.range.address != area.address:
            table.resize(area)
        return area

    def write_sheet(self, output: SheetOutput) -> Any:
        spec = output.spec
        if is_output(spec):  # never over a sheet of the user's
            title = self._output_title(spec)
            sheet = next((sh for sh in self.book.sheets if sh.name == title), None)
            if sheet is None:
                sheets = self.book.sheets
                sheet = sheets.add(name=title, after=sheets[len(sheets) - 1])
        else:
            sheet = self._ensure_sheet(spec.name)
        if output.report is not None:
            from . import charts

            charts.draw_report_live(sheet, output.report)
            if output.show:
                _call(sheet, "activate")
            return sheet
        columns = list(output.columns or spec.columns)
        old = sheet.used_range.last_cell
        if old.column > len(columns) or old.row > len(output.rows) + 1:
            sheet.used_range.clear_contents()
        body = [[row.get(c.field) for c in columns] for row in output.rows]
        self._write_block(sheet, spec, [c.header for c in columns], body)
        for index, col in enumerate(columns, start=1):
            if col.number_format and body:
                sheet.range((2, index), (len(body) + 1, index)).number_format = col.number_format
        from . import charts

        charts.draw_live(sheet, spec, columns, len(body))
        return sheet

    def _rewrite(self, rewrite: InputRewrite) -> None:
        sheet = self._sheet(rewrite.title)
        if sheet is None:
            if not rewrite.create:
                return
            sheet = self._ensure_sheet(rewrite.spec.name)
            self._write_block(sheet, rewrite.spec, rewrite.spec.headers, [])
        values, top, left = self._block(sheet, rewrite.spec)
        header = values[0] if values else []
        old = {top + 1 + i: row for i, row in enumerate(values[1:])}
        header, rows, _ = plan_rows(header, old, rewrite.spec, rewrite.records)
        self._write_block(
            sheet, rewrite.spec, header, [r for _, r in rows], top, left, len(values) - 1
        )

    # --- telling the user --------------------------------------------------------------

    def alert(self, message: str, title: str = "xl-rebalancer") -> None:
        """A message box in Excel; never lets a failure to show it hide the run's result."""
        with contextlib.suppress(Exception):
            self.book.app.alert(message, title=title)

    def ask(self, message: str, title: str = "xl-rebalancer") -> bool:
        """A Yes/No question in Excel; anything but Yes (a box that failed too) is no."""
        try:
            return str(self.book.app.alert(message, title=title, buttons="yes_no")) == "yes"
        except Exception:
            return False

    # --- the input sheets, added to a workbook of the user's (the add-in) ----------------

    def missing_input_sheets(self) -> int:
        return sum(self._sheet(spec.name) is None for spec in s.INPUT_SHEETS)

    def add_input_sheets(self) -> list[str]:
        """The input sheets the workbook lacks, after its own, each an Excel table as the
        template has it (Settings with every setting and its default): what `init --into`
        does to a file, done to the open workbook."""
        from .template import settings_rows

        added = []
        for spec in s.INPUT_SHEETS:
            if self._sheet(spec.name) is not None:
                continue
            sheet = self._ensure_sheet(spec.name)
            rows = settings_rows() if spec is s.SETTINGS else []
            body = [[row.get(c.field) for c in spec.columns] for row in rows]
            self._write_block(sheet, spec, spec.headers, body)
            added.append(spec.name)
        return added


def _get(obj: Any, name: str, default: Any) -> Any:
    try:
        return getattr(obj, name)
    except Exception:
        return default


def _call(obj: Any, name: str) -> None:
    with contextlib.suppress(Exception):
        getattr(obj, name)()


def _set(obj: Any, name: str, value: Any) -> None:
    with contextlib.suppress(Exception):
        setattr(obj, name, value)
