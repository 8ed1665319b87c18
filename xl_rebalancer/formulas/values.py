"""Values between openpyxl, the `formulas` package and Excel: a stored cell as Excel's
calculation engine reads it, a result as plain Python values, Excel's error values,
and an area as `formulas` names a range.

Kept apart from the workbook walk (formulas/recalc.py) because each of these is a rule
of one of the three, not a step of the walk; the save's cell patch and the package
writer read the same `CellError`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from openpyxl.utils.cell import column_index_from_string, coordinate_from_string, get_column_letter


@dataclass(frozen=True)
class CellError:
    """An Excel error value (`#N/A`, `#DIV/0!` ...) computed for a cell."""

    code: str

    def __str__(self) -> str:
        return self.code


def _range(title: str, min_col: int, min_row: int, max_col: int, max_row: int) -> dict:
    """The area as `formulas` describes a range, made from its numbers: what its
    Ranges.get_range gives for the area's A1 text (a test compares the two on random
    areas and sheet names), without the regular expression it matches the text with,
    which was a tenth of a filled-down grid's recalculation."""
    from formulas.ranges import Ranges

    parts = {"sheet": title.replace("'", "''"), "c1": get_column_letter(min_col)}
    parts["r1"] = str(min_row)
    if (min_col, min_row) != (max_col, max_row):
        parts["c2"], parts["r2"] = get_column_letter(max_col), str(max_row)
    return Ranges.format_range(("name", "n1", "n2"), **parts)


def _failure(exc: BaseException) -> str:
    # schedula wraps a function's exception in DispatcherError; the cause says what failed.
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, NotImplementedError):
            return "uses a function the formula engine does not implement"
        cause = cause.__cause__ or cause.__context__
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"could not be computed ({type(exc).__name__}{': ' + text if text else ''})"


def _cell_value(cell: Any) -> Any:
    """A stored cell's value as Excel's calculation engine sees it."""
    from schedula import EMPTY

    if cell is None:
        return EMPTY
    value = cell.value
    if value is None or value == "":
        return EMPTY
    if cell.data_type == "e" and isinstance(value, str):
        return CellError(value)
    if isinstance(value, dt.datetime | dt.date | dt.time | dt.timedelta):
        from openpyxl.utils.datetime import to_excel

        return float(to_excel(value))
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    return value


def _to_array(values: list[list[Any]]) -> Any:
    import numpy as np
    from formulas.tokens.operand import Error

    arr = np.empty((len(values), len(values[0]) if values else 0), dtype=object)
    for r, line in enumerate(values):
        for c, value in enumerate(line):
            arr[r, c] = (
                Error.errors.get(value.code, value.code) if isinstance(value, CellError) else value
            )
    return arr


def _grid(result: Any) -> list[list[Any]]:
    import numpy as np

    if isinstance(result, np.ndarray):
        if result.ndim == 0:
            return [[result.item()]]
        if result.ndim == 1:
            return [list(result)]
        return [list(r) for r in result]
    return [[result]]


def _plain(value: Any) -> Any:
    """numpy scalars and formulas' error and blank markers as plain Python values."""
    import numpy as np
    from formulas.tokens.operand import XlError
    from schedula import EMPTY

    if value is EMPTY:
        return None
    if isinstance(value, XlError):
        return CellError(str(value))
    if isinstance(value, CellError):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        number = float(value)
        return number if math.isfinite(number) else CellError("#NUM!")
    if isinstance(value, dt.datetime | dt.date):
        from openpyxl.utils.datetime import to_excel

        return float(to_excel(value))
    return value


def _scalar(value: Any) -> Any:
    """A formula cell's own value: a blank result shows as 0, as in Excel."""
    plain = _plain(value)
    return 0.0 if plain is None else plain


def _legacy_cell(grid: list[list[Any]], r: int, c: int, height: int, width: int) -> Any:
    """A legacy (Ctrl+Shift+Enter) array's cell: a single value or a single row or
    column repeats across the range; beyond the result's size Excel shows #N/A."""
    rr = 0 if height == 1 else r
    cc = 0 if width == 1 else c
    if rr < height and cc < len(grid[rr]):
        return grid[rr][cc]
    return CellError("#N/A")


def _row_col(cell: str) -> tuple[int, int]:
    column, row = coordinate_from_string(cell)
    return row, column_index_from_string(column)
