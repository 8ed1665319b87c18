"""The engine's sheets written by openpyxl into a small scratch workbook in memory, whose
parts the splice (workbook/splice.py) moves into the user's package.

An input sheet an import rewrites is edited in a cut-down copy of the package holding
only that sheet, so memory follows the sheets being written, never the user's others.
Kept apart from the plan, which only reads the scratch package's parts.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .package import NS_PKG_REL
from .splice_parts import (
    _SHEETS,
    _closure,
    _owner_of,
    _relationships,
    _rels_name,
    _text,
    _workbook_sheets,
)
from .tables import DeferredRows


@dataclass
class _Scratch:
    members: dict[str, bytes]
    parts: dict[str, str]  # sheet title -> part
    content_types: str
    workbook: str
    deferred: dict[str, tuple[DeferredRows, str]] = field(default_factory=dict)  # title: rows, ref


@dataclass
class _Rewritten:
    """An input sheet whose table rows an import or a fill rewrites, placed like an
    engine sheet: it replaces the sheet of its title, or is added when there is none."""

    spec: Any
    rewrite: Any
    first: bool = False
    show: bool = False


def _scratch(
    outputs: Sequence[Any],
    code_names: dict[str, str],
    shown: str | None,
    base: bytes | None = None,
) -> _Scratch:
    """The engine's sheets written by openpyxl alone, as a package in memory; with `base`
    (the package cut down to the input sheets being rewritten), those sheets edited in
    place by openpyxl and saved beside them."""
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    from .openpyxl_sheets import _rewrite, load_bytes, replace_sheet
    from .package import _sheet_parts

    if base is None:
        wb = Workbook()
        wb.remove(wb.active)
    else:
        wb = load_bytes(base)
    for output in outputs:
        if isinstance(output, _Rewritten):
            _rewrite(wb, output.rewrite)
            title = output.spec.name
            if title in code_names and title in wb.sheetnames:
                wb[title].sheet_properties.codeName = code_names[title]
    outputs = [o for o in outputs if not isinstance(o, _Rewritten)]
    # A plain table's data rows are kept as values (tables.DeferredRows) and written as
    # sheet XML below the header openpyxl writes, once the package's style and string
    # numbering is known (splice._add_engine_sheets); a sheet whose hook reads or styles its cells (charts,
    # the Summary's formats) is made of openpyxl cells.
    deferred: dict[str, tuple[DeferredRows, str]] = {}
    for output in outputs:
        plain = output.decorate is None and output.report is None and output.write is None
        rows = DeferredRows() if plain else None
        ws = replace_sheet(wb, replace(output, show=False, first=False), rows)
        ws.sheet_view.tabSelected = output.spec.name == shown
        if output.spec.name in code_names:
            ws.sheet_properties.codeName = code_names[output.spec.name]
        if rows is not None and rows.rows:
            deferred[ws.title] = (rows, next(iter(ws.tables.values())).ref)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        ExcelWriter(wb, archive).save()
    with zipfile.ZipFile(buffer) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
        parts = _sheet_parts(archive)
    return _Scratch(
        members,
        parts,
        members["[Content_Types].xml"].decode("utf-8"),
        members["xl/workbook.xml"].decode("utf-8"),
        deferred,
    )


def _with_rows(sheet: str, rows_xml: str, ref: str) -> str:
    """A sheet openpyxl wrote with its header row, given its data rows (right below the
    header, where rows must be in order) and the extent they make (the <dimension> Excel
    writes and readers size a sheet by)."""
    end = sheet.index("</row>") + len("</row>")
    sheet = sheet[:end] + rows_xml + sheet[end:]
    return re.sub(r'<dimension ref="[^"]*"', f'<dimension ref="{ref}"', sheet, count=1)


def _as_spec(title: str) -> Any:
    from .schema import SheetSpec

    return SheetSpec(title, ())


def _mini_package(archive: zipfile.ZipFile, titles: set[str]) -> bytes:
    """The package with only the sheets `titles` (and what they refer to), the styles,
    strings and theme: what openpyxl needs to edit those sheets, in memory bounded by
    them and not by the user's other sheets."""
    names = set(archive.namelist())
    workbook = _text(archive, "xl/workbook.xml")
    workbook_rels = _text(archive, "xl/_rels/workbook.xml.rels")
    rels = _relationships(workbook_rels, "xl/workbook.xml")
    sheets = [s for s in _workbook_sheets(workbook, rels) if s.name.lower() in titles]
    kept_ids = {s.rid for s in sheets}
    kept_rels = [
        r for r in rels if r["Id"] in kept_ids or r.get("Type", "").rsplit("/", 1)[-1] in _MINI_KEEP
    ]
    block = _SHEETS.search(workbook)
    assert block is not None
    workbook = (
        workbook[: block.start(1)] + "".join(s.xml for s in sheets) + workbook[block.end(1) :]
    )
    for element in ("definedNames", "pivotCaches", "externalReferences", "extLst"):
        workbook = re.sub(rf"<{element}\b[^>]*?(?:/>|>.*?</{element}>)", "", workbook, flags=re.S)
    workbook = re.sub(r'\sactiveTab="\d+"', "", workbook)
    workbook = re.sub(r'\sfirstSheet="\d+"', "", workbook)
    all_rels = {
        n: _relationships(_text(archive, n), _owner_of(n)) for n in names if n.endswith(".rels")
    }
    parts = {"[Content_Types].xml"}
    for rel in kept_rels:
        if "part" in rel and rel["part"] in names:
            parts |= _closure(rel["part"], all_rels)
    parts = {p for p in parts if p in names}
    parts |= {_rels_name(p) for p in parts if _rels_name(p) in names}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as out:
        out.writestr("_rels/.rels", _MINI_ROOT_RELS)
        out.writestr("xl/workbook.xml", workbook)
        out.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="{NS_PKG_REL}">{"".join(r["xml"] for r in kept_rels)}'
            "</Relationships>",
        )
        for name in sorted(parts):
            if name not in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
                out.writestr(name, archive.read(name))
    return buffer.getvalue()


# The workbook's own parts an edited input sheet needs beside it.
_MINI_KEEP = {"styles", "sharedStrings", "theme"}


_MINI_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{NS_PKG_REL}"><Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)


def _scratch_rels(scratch: _Scratch) -> dict[str, list[dict[str, str]]]:
    return {
        name: _relationships(data.decode("utf-8"), _owner_of(name))
        for name, data in scratch.members.items()
        if name.endswith(".rels") and name != "_rels/.rels"
    }
