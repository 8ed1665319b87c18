"""The recalculated values back into the workbook: each array block spilled into its
cells, the values each formula cell caches, and the Log sheet's lines.

Kept apart from the workbook walk (formulas/recalc.py), which only computes: these are
what the `recalc` command and the save (workbook/writer.py) do with its result.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from openpyxl.utils.cell import range_boundaries

from .recalc import Recalculated, recalculate
from .values import CellError

RECALC_PREFIX = "Recalc: "


# Excel 365's calculation engine id: a file stamped older is recalculated in full on open.
EXCEL_CALC_ID = 191029


def recalculate_workbook(wb: Any, dynamic: Mapping[str, Iterable[str]]) -> Recalculated:
    """Compute `wb` with our worksheet functions, spill every array block into its cells
    and stamp the workbook so Excel shows these values on open.

    When every formula was computed, Excel is told not to recalculate on load: the file
    opens with these values even where the Python side is missing (our functions then
    could not run). When some were not, Excel recalculates on load and fills them in.
    """
    from ..excel.headless import worksheet_functions
    from ..workbook.tables import set_value

    result = recalculate(wb, dynamic=dynamic, functions=worksheet_functions())
    sheets = {ws.title: ws for ws in wb.worksheets}
    for (title, anchor), block in result.blocks.items():
        ws = sheets[title]
        formula = ws[anchor].value
        old = str(getattr(formula, "ref", block.ref)).replace("$", "")
        min_col, min_row, max_col, max_row = range_boundaries(block.ref)
        for row in ws.iter_rows(*_as_bounds(old)):
            for cell in row:
                inside = min_col <= cell.column <= max_col and min_row <= cell.row <= max_row
                if not inside and cell.coordinate != anchor:
                    cell.value = None
        for r, line in enumerate(block.values):
            for c, value in enumerate(line):
                if r == 0 and c == 0:
                    continue
                cell = ws.cell(min_row + r, min_col + c)
                set_value(cell, str(value) if isinstance(value, CellError) else value)
        if block.dynamic and hasattr(formula, "ref"):
            formula.ref = block.ref
    complete = not result.uncomputed
    wb.calculation.fullCalcOnLoad = not complete
    if complete:
        wb.calculation.calcId = EXCEL_CALC_ID
    return result


def _as_bounds(ref: str) -> tuple[int, int, int, int]:
    min_col, min_row, max_col, max_row = range_boundaries(ref)
    return min_row, max_row, min_col, max_col


def cached_values(result: Recalculated) -> dict[str, dict[str, Any]]:
    """Per sheet title, the value each computed formula cell caches."""
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for (title, cell), value in result.values.items():
        out[title][cell] = value
    return dict(out)


def log_rows(result: Recalculated, now: dt.datetime) -> list[dict[str, Any]]:
    """Log sheet rows: a count, then every cell not computed (its formula kept)."""
    done = result.formulas - len(result.uncomputed)
    rows = [
        {
            "time": now,
            "level": "info",
            "message": (
                f"{RECALC_PREFIX}{done} of {result.formulas} formula cells computed headless"
                + (
                    f"; {len(result.uncomputed)} left for Excel (below)"
                    if result.uncomputed
                    else ""
                )
            ),
        }
    ]
    for item in result.uncomputed:
        rows.append(
            {
                "time": now,
                "level": "warning",
                "sheet": item.sheet,
                "cell": item.cell,
                "message": f"{RECALC_PREFIX}not computed, {item.reason}; formula kept: {item.formula}",
            }
        )
    for item in result.spill_blocked:
        rows.append(
            {
                "time": now,
                "level": "warning",
                "sheet": item.sheet,
                "cell": item.cell,
                "message": f"{RECALC_PREFIX}{item.reason} ({item.formula})",
            }
        )
    return rows


def merge_log(ws: Any | None, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Log sheet's rows with an earlier recalculation's rows replaced by `rows`."""
    kept: list[dict[str, Any]] = []
    if ws is not None:
        lines = ws.iter_rows(values_only=True)
        header = [str(h or "").strip().lower() for h in next(lines, ())]
        for line in lines:
            record = dict(zip(header, line, strict=False))
            if not any(v not in (None, "") for v in record.values()):
                continue
            if str(record.get("message") or "").startswith(RECALC_PREFIX):
                continue
            kept.append(record)
    return kept + rows
