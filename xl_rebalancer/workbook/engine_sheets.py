"""Which sheets are the engine's, so that a run never overwrites one of the user's.

Users keep sheets named `Summary`, `Report` or `Log` of their own in real workbooks. Each
sheet the engine writes carries a hidden sheet-scoped defined name (MARKER), which
follows the sheet when the user renames or moves it in Excel. A sheet of an output's
name without the marker is the user's, and the engine's sheet is written beside it under
another title (`Summary (rebalancer)`); its table keeps the engine's name (tblSummary),
which is how the engine finds it again.

Workbooks made from the template before sheets were marked carry no marker anywhere;
there (the document's creator is xl-rebalancer) every sheet of an output's name is taken
as the engine's, as it always was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from . import schema as s

MARKER = "_xlrb_engine"
CREATOR = "xl-rebalancer"
_OUTPUT_NAMES = {spec.name.lower() for spec in s.OUTPUT_SHEETS}
_OUTPUT_TABLES = {spec.table.lower() for spec in s.OUTPUT_SHEETS}


def is_output(spec: s.SheetSpec) -> bool:
    """An engine sheet (by its table's name, which a renamed sheet keeps)."""
    return spec.table.lower() in _OUTPUT_TABLES


def title_for(name: str, titles: Iterable[str], engine: Callable[[str], bool]) -> str:
    """The title the engine's sheet `name` takes: its own, unless a sheet of the user's
    has it; then `name (rebalancer)`, `name (rebalancer 2)`, ..."""
    taken = {t.lower(): t for t in titles}
    candidate, number = name, 1
    while candidate.lower() in taken and not engine(taken[candidate.lower()]):
        candidate = f"{name} (rebalancer)" if number == 1 else f"{name} (rebalancer {number})"
        number += 1
    return candidate


def renamed(spec: s.SheetSpec, title: str) -> s.SheetSpec:
    """The spec under another sheet title, its table keeping the engine's name."""
    return spec if title == spec.name else replace(spec, name=title, table_name=spec.table)


def ownership(marked: Iterable[str], creator: str | None) -> Callable[[str], bool]:
    """`engine(title)`: marked sheets are the engine's; with no mark anywhere, in a
    workbook our template made, every sheet of an output's name is."""
    marked = {t.lower() for t in marked}
    legacy = not marked and (creator or "").strip() == CREATOR

    def engine(title: str) -> bool:
        key = title.lower()
        return key in marked or (legacy and key in _OUTPUT_NAMES)

    return engine
