"""Our worksheet functions called by the headless formula engine as Excel calls them.

The functions are the UDF module's own (udfs/xlrebalancer_udfs.py), so a cell shows the
same number in Excel and after `xl-rebalancer recalc`. What each argument looks like is
taken from the xlwings metadata their decorators record (the Windows-side decorators,
see udf_wrappers): a range argument marked `ndim=2` arrives as a list of rows, any other
as a single value, or a list when it spans cells; blanks arrive as None, numbers as
floats and error cells as None, as xlwings passes them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


@functools.lru_cache(maxsize=1)
def worksheet_functions() -> dict[str, Callable[..., Any]]:
    """Upper-case function name → a callable for the `formulas` engine."""
    from formulas.functions import wrap_func

    from .udf_wrappers import load_decorated, windows_xlwings

    with windows_xlwings() as udfs:
        module = load_decorated(udfs)
    out = {}
    for func in module.UDFS:
        meta = func.__xlfunc__
        dims = [arg["options"].get("ndim") for arg in meta["args"]]
        out[meta["name"].upper()] = wrap_func(_adapter(func, dims))
    return out


def _adapter(func: Callable[..., Any], dims: list[int | None]) -> Callable[..., Any]:
    @functools.wraps(func)
    def call(*args: Any) -> Any:
        if len(args) > len(dims):
            return _error("#VALUE!")
        values = [_argument(value, ndim) for value, ndim in zip(args, dims, strict=False)]
        return _result(func(*values))

    return call


def _cell(value: Any) -> Any:
    import numpy as np
    from formulas.tokens.operand import XlError
    from schedula import EMPTY

    if value is EMPTY or isinstance(value, XlError):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _argument(value: Any, ndim: int | None) -> Any:
    import numpy as np

    if not isinstance(value, np.ndarray):
        single = _cell(value)
        return [[single]] if ndim == 2 else single
    grid = np.atleast_2d(value)
    rows = [[_cell(v) for v in row] for row in grid]
    if ndim == 2:
        return rows
    if len(rows) == 1 and len(rows[0]) == 1:
        return rows[0][0]
    if len(rows) == 1:
        return rows[0]
    if all(len(r) == 1 for r in rows):
        return [r[0] for r in rows]
    return rows


def _result(value: Any) -> Any:
    import numpy as np

    if isinstance(value, list | tuple):
        rows = [list(r) if isinstance(r, list | tuple) else [r] for r in value] or [[None]]
        width = max(len(r) for r in rows)
        grid = np.empty((len(rows), width), dtype=object)
        for i, row in enumerate(rows):
            for j in range(width):
                grid[i, j] = row[j] if j < len(row) else None
        return grid
    return value


def _error(code: str) -> Any:
    from formulas.tokens.operand import Error

    return Error.errors[code]
