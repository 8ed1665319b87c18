"""Raw table rows, read leniently: import and record-fills work on a workbook that does
not validate yet (no targets, a lot without its date), and leave alone what they cannot
read. A row is (its sheet row number, or None for a new row; its field values)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..models.types import to_date, to_number, to_symbol, to_text

Record = tuple[int | None, dict[str, Any]]
SHARE_TOL = 1e-6


def lenient(coerce: Any, value: Any) -> Any:
    try:
        return coerce(value)
    except (ValueError, TypeError):
        return None


def as_num(value: Any) -> float | None:
    result = lenient(to_number, value)
    return (
        float(result) if isinstance(result, int | float) and not isinstance(result, bool) else None
    )


def as_date(value: Any) -> dt.date | None:
    result = lenient(to_date, value)
    return result if isinstance(result, dt.date) else None


def as_text(value: Any) -> str:
    result = lenient(to_text, value)
    return result if isinstance(result, str) else ""


def as_symbol(value: Any) -> str:
    result = lenient(to_symbol, value)
    return result if isinstance(result, str) else ""


def close_to(a: float | None, b: float | None, tol: float = 0.005) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= tol)
