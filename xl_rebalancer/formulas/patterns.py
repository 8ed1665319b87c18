"""A filled-down formula compiled once for all its cells: cells whose formulas are equal
in R1C1 form (=C1+A2*B2 down a column) share one compiled function, each reading its own
cells (issue 25).

Kept apart from the workbook walk (formulas/recalc.py): whether two formulas may share
a function is a question of references alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from openpyxl.utils.cell import column_index_from_string


@dataclass(frozen=True)
class _Pattern:
    """A compiled formula shared by the cells of one R1C1 pattern: its inputs by name,
    each with the positions of the reference tokens that name it."""

    func: Any
    inputs: tuple[tuple[str, tuple[int, ...]], ...]

    @staticmethod
    def of(
        func: Any,
        inputs: list[tuple[str, tuple[str, int, int, int, int]]],
        parts: list[str],
        areas: list[tuple[str, int, int, int, int] | None],
    ) -> _Pattern | None:
        """None when some reference token is not one of the function's inputs (another
        cell's area for it would go unread), an input is no token's, or two references
        that differ in other cells read the same area here (=A1+$A$1 in row 1: a later
        cell of the pattern is compiled and serves instead)."""
        out = []
        used: set[int] = set()
        for name, bounds in inputs:
            tokens = tuple(t for t, a in enumerate(areas) if a == bounds)
            if not tokens or len({parts[t] for t in tokens}) > 1:
                return None
            used.update(tokens)
            out.append((name, tokens))
        if any(a is not None and t not in used for t, a in enumerate(areas)):
            return None
        return _Pattern(func, tuple(out))


_ENDPOINT = re.compile(r"^(\$?)([A-Za-z]{1,3})?(\$?)([0-9]+)?$")


def _relative(reference: str, row: int, col: int) -> str | None:
    """An A1 reference (with or without sheet) in R1C1 form relative to (row, col), or
    None for what is not a plain cell, range, column or row reference."""
    prefix, bang, ref = reference.rpartition("!")
    if "[" in prefix or "[" in ref:
        return None
    ends = ref.split(":")
    if len(ends) > 2:
        return None
    out = []
    for end in ends:
        match = _ENDPOINT.match(end)
        if match is None or not end:
            return None
        col_abs, letters, row_abs, digits = match.groups()
        if letters is None:  # a row ("$3" has its dollar before the digits)
            col_abs, row_abs = "", col_abs or row_abs
        if len(ends) == 1 and (letters is None or digits is None):
            return None  # a lone "ABC" or "12" is a name or a number, not a reference
        text = ""
        if digits is not None:
            number = int(digits)
            text += f"R{number}" if row_abs else f"R[{number - row}]"
        if letters is not None:
            number = column_index_from_string(letters.upper())
            text += f"C{number}" if col_abs else f"C[{number - col}]"
        out.append(text)
    return f"{prefix.upper()}{bang}{':'.join(out)}"


def _quoted(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"
