"""The splice's macro parts: sheet code names and their VBA document modules, a VBA
project for a macro-enabled workbook that has none, the rebalancer's modules and ribbon.

Kept apart from the plan (workbook/splice.py) because only a macro-enabled workbook
reaches them, and they alone import the VBA project reader (excel/vbaproject.py).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from typing import Any

from .package import REL_UI, RIBBON_PART, VBA_PART
from .splice_parts import REL_CHARTSHEET, NotSpliceable, _Plan, _Sheet


def _is_chart(entry: Any) -> bool:
    return isinstance(entry, _Sheet) and entry.rel_type == REL_CHARTSHEET


def _door_modules() -> list[Any]:
    """The rebalancer's standard and class modules (not the document modules)."""
    from ..excel import doors

    return [m for m in doors.vba_modules([]) if m.kind != "document"]


_WORKBOOK_PR = re.compile(r"<workbookPr\b[^>]*?/?>")


def _new_project(workbook: str) -> tuple[str, Any]:
    """A VBA project for a macro-enabled workbook that has none: the workbook's document
    module under its codeName (given one when it lacks it); sheet modules follow."""
    from ..excel.vbaproject import DOC_WORKBOOK, Project, build_vba_project, document_module

    found = _WORKBOOK_PR.search(workbook)
    code = re.search(r'\bcodeName="([^"]*)"', found.group(0)) if found else None
    name = code.group(1) if code else "ThisWorkbook"
    if found is None:
        at = re.search(r"<fileSharing\b[^>]*?/>|<fileVersion\b[^>]*?/>", workbook)
        if at is None:
            at = re.search(r"<workbook\b[^>]*>", workbook)
        assert at is not None  # _workbook_sheets found the transitional root already
        workbook = workbook[: at.end()] + f'<workbookPr codeName="{name}"/>' + workbook[at.end() :]
    elif code is None:
        tag = found.group(0).replace("<workbookPr", f'<workbookPr codeName="{name}"', 1)
        workbook = workbook[: found.start()] + tag + workbook[found.end() :]
    project = build_vba_project([document_module(name, DOC_WORKBOOK)], project="VBAProject")
    return workbook, Project(project)


def _install_ribbon(
    plan: _Plan, names: list[str], ribbon: list[tuple[str, str, str]]
) -> list[tuple[str, str, str]]:
    """The Rebalancer tab, unless the workbook has a ribbon of its own: one customUI part
    per workbook, and a user's own tab is theirs to keep."""
    from ..excel import doors

    if ribbon or any(n.lower().startswith("customui/") for n in names):
        plan.notes.append(
            "the workbook has a ribbon of its own, kept as it is: the Rebalancer tab was "
            "not added (use the command line, or the add-in)"
        )
        return ribbon
    plan.edited[RIBBON_PART] = doors.ribbon_xml()
    plan.added.append(RIBBON_PART)
    return [("rIdRibbon", REL_UI[1], RIBBON_PART)]


def _add_code_name(code: str) -> Callable[[bytes], bytes]:
    def patch(head: bytes) -> bytes:
        value = code.encode()
        if re.search(rb"<sheetPr\b", head):
            return re.sub(rb"<sheetPr\b", b'<sheetPr codeName="' + value + b'"', head, count=1)
        opening = re.search(rb"<(?:worksheet|chartsheet)\b[^>]*>", head)
        if opening is None:
            raise NotSpliceable("a sheet part without its root element")
        at = opening.end()
        return head[:at] + b'<sheetPr codeName="' + value + b'"/>' + head[at:]

    return patch


def _project(archive: zipfile.ZipFile) -> Any:
    """The VBA project, or None when it cannot be edited (forms: left exactly as is)."""
    from ..excel.vbaproject import Project

    try:
        return Project(archive.read(VBA_PART))
    except (ValueError, OSError):
        return None
