"""`--recalc` without rewriting the workbook: the values computed for formula cells and
the cells array formulas spill into are patched into the spliced package's sheet XML.

A whole-workbook rewrite through openpyxl loses what openpyxl cannot model (text boxes,
shapes, threaded comments, slicers, pivots, controls), so `--recalc` used to refuse such
workbooks. Here the workbook is loaded with openpyxl only to compute (formulas/recalc.py); the
save is the ordinary splice (engine sheets replaced, the user's parts copied), and then
only the cells whose values changed are edited in place: a formula cell's `<v>` and type,
a spill cell's value, an array formula's `ref`. Every other byte of the user's sheets,
and every other part, stays as it was.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string, range_boundaries

from .package import (
    CT_METADATA,
    CT_SST,
    METADATA_PART,
    METADATA_XML,
    REL_METADATA,
    REL_SST,
    SST_PART,
    _add_workbook_part,
    _cached_xml,
    _sheet_parts,
    xml_text,
)
from .shared_strings import _Strings

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_C, _V, _F, _IS, _ROW = (f"{{{NS}}}{t}" for t in ("c", "v", "f", "is", "row"))


class CannotPatch(Exception):
    """A sheet the cell patch cannot edit safely (cells without their reference)."""


@dataclass
class CellPatch:
    """What a recalculation changes, per sheet title."""

    formulas: dict[str, dict[str, Any]] = field(default_factory=lambda: defaultdict(dict))
    # Cells an array formula fills (None: a cell it no longer reaches, emptied).
    spilled: dict[str, dict[str, Any]] = field(default_factory=lambda: defaultdict(dict))
    refs: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    dynamic: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    complete: bool = True
    calc_id: int = 191029


def cell_patch(wb: Any, result: Any, calc_id: int) -> CellPatch:
    """The patch for `result` (recalc.Recalculated) of the openpyxl workbook `wb`, read
    before anything is written into it."""
    patch = CellPatch(complete=not result.uncomputed, calc_id=calc_id)
    for (title, cell), value in result.values.items():
        patch.formulas[title][cell] = value
    sheets = {ws.title: ws for ws in wb.worksheets}
    for (title, anchor), block in result.blocks.items():
        formula = sheets[title][anchor].value
        old = str(getattr(formula, "ref", None) or block.ref).replace("$", "")
        min_col, min_row, max_col, max_row = range_boundaries(block.ref)
        o_min_col, o_min_row, o_max_col, o_max_row = range_boundaries(old)
        spilled = patch.spilled[title]
        for row in range(o_min_row, o_max_row + 1):
            for col in range(o_min_col, o_max_col + 1):
                if not (min_col <= col <= max_col and min_row <= row <= max_row):
                    spilled[_ref(row, col)] = None
        for r, line in enumerate(block.values):
            for c, value in enumerate(line):
                if r or c:
                    spilled[_ref(min_row + r, min_col + c)] = value
        if block.dynamic:
            patch.refs[title][anchor] = block.ref
            patch.dynamic[title].add(anchor)
    return patch


def _ref(row: int, col: int) -> str:
    from openpyxl.utils.cell import get_column_letter

    return f"{get_column_letter(col)}{row}"


def apply_patch(source: Path, dest: Path, patch: CellPatch) -> None:
    """Copy the package `source` to `dest` with `patch` applied. Raises CannotPatch
    before writing when a sheet to edit has cells without a reference."""
    with zipfile.ZipFile(source) as archive:
        infos = archive.infolist()
        members = {i.filename: archive.read(i.filename) for i in infos}
        parts = _sheet_parts(archive)
    # The splice's own table (the package it wrote keeps it at SST_PART): text already
    # there is reused, new text appended.
    table = members[SST_PART].decode("utf-8") if SST_PART in members else None
    strings = _Strings(table)
    marked = False
    for title, part in parts.items():
        formulas, spilled = patch.formulas.get(title, {}), patch.spilled.get(title, {})
        refs, dynamic = patch.refs.get(title, {}), patch.dynamic.get(title, set())
        if formulas or spilled or refs:
            members[part], cm = _patch_sheet(
                members[part], formulas, spilled, refs, dynamic, strings
            )
            marked |= cm
    if strings.added:
        data = strings.xml().encode("utf-8")
        if table is None:
            _add_workbook_part(members, SST_PART, data, "rIdSst", REL_SST, CT_SST)
        else:
            members[SST_PART] = data
    if marked and METADATA_PART not in members:
        _add_workbook_part(
            members, METADATA_PART, METADATA_XML, "rIdMeta", REL_METADATA, CT_METADATA
        )
    members["xl/workbook.xml"] = _calc_flags(members["xl/workbook.xml"], patch)
    names = [i.filename for i in infos] + [
        n for n in members if n not in {i.filename for i in infos}
    ]
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
        for name in names:
            out.writestr(name, members[name])


def _patch_sheet(
    data: bytes,
    formulas: dict[str, Any],
    spilled: dict[str, Any],
    refs: dict[str, str],
    dynamic: set[str],
    strings: _Strings,
) -> tuple[bytes, bool]:
    parser = etree.XMLParser(huge_tree=True, resolve_entities=False, remove_blank_text=False)
    root = etree.fromstring(data, parser)
    sheet_data = root.find(f"{{{NS}}}sheetData")
    if sheet_data is None:
        raise CannotPatch("a sheet without sheetData")
    rows: dict[int, Any] = {}
    for row in sheet_data.iterchildren(_ROW):
        if row.get("r") is None:
            raise CannotPatch("a row without its number")
        rows[int(row.get("r"))] = row
    marked = False
    wanted = {**{c: ("plain", v) for c, v in spilled.items()},
              **{c: ("formula", v) for c, v in formulas.items()}}  # fmt: skip
    for ref in refs:
        wanted.setdefault(ref, ("ref", None))
    touched: list[tuple[int, int]] = []
    for ref, (kind, value) in wanted.items():
        letters, number = coordinate_from_string(ref)
        column = column_index_from_string(letters)
        cell = _cell(
            sheet_data, rows, number, column, ref, create=kind == "plain" and value is not None
        )
        if cell is None:
            continue
        touched.append((number, column))
        if kind == "plain":
            _set_plain(cell, value, strings)
            continue
        f = cell.find(_F)
        if f is None:
            continue  # no formula here in the file (an edit made it a value): leave it
        if ref in refs and f.get("t") == "array":
            f.set("ref", refs[ref])
            if ref in dynamic and cell.get("cm") is None:
                cell.set("cm", "1")
                marked = True
        if kind == "formula":
            _set_formula_value(cell, f, value)
    if touched:
        _widen_dimension(root, touched)
    return _with_declaration(data, etree.tostring(root, encoding="UTF-8")), marked


def _with_declaration(original: bytes, body: bytes) -> bytes:
    """The part's own XML declaration (Excel's spelling) before the edited body."""
    found = re.match(rb"\s*<\?xml[^>]*\?>\s*", original)
    head = found.group(0) if found else b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    return head + body


def _cell(
    sheet_data: Any, rows: dict[int, Any], number: int, column: int, ref: str, create: bool
) -> Any:
    row = rows.get(number)
    if row is None:
        if not create:
            return None
        row = etree.Element(_ROW, r=str(number))
        later = [r for n, r in rows.items() if n > number]
        if later:
            min(later, key=lambda r: int(r.get("r"))).addprevious(row)
        else:
            sheet_data.append(row)
        rows[number] = row
    after = None
    for cell in row.iterchildren(_C):
        r = cell.get("r")
        if r is None:
            raise CannotPatch("a cell without its reference")
        if r == ref:
            return cell
        if column_index_from_string(coordinate_from_string(r)[0]) > column and after is None:
            after = cell
    if not create:
        return None
    cell = etree.Element(_C, r=ref)
    if after is not None:
        after.addprevious(cell)
    else:
        row.append(cell)
    row.attrib.pop("spans", None)  # an optional hint the new cell may fall outside of
    return cell


def _clear(cell: Any) -> None:
    for child in list(cell):
        if child.tag in (_V, _IS):
            cell.remove(child)
    cell.attrib.pop("t", None)


def _set_formula_value(cell: Any, f: Any, value: Any) -> None:
    _clear(cell)
    if value is None or value == "":
        if value == "":
            cell.set("t", "str")
            f.addnext(_value(""))
        return
    kind, text = _cached_xml(value)
    if kind:
        cell.set("t", kind.split('"')[1])
    f.addnext(_value(_unescape(text)))


def _set_plain(cell: Any, value: Any, strings: _Strings) -> None:
    _clear(cell)
    f = cell.find(_F)
    if f is not None:  # a leftover formula inside the spill range: Excel's #SPILL! case
        cell.remove(f)
    if value is None:
        return
    if hasattr(value, "code"):  # formulas/values.CellError
        cell.set("t", "e")
        cell.append(_value(str(value)))
    elif isinstance(value, bool):
        cell.set("t", "b")
        cell.append(_value("1" if value else "0"))
    elif isinstance(value, int | float):
        cell.append(_value(_unescape(_cached_xml(value)[1])))
    elif isinstance(value, dt.datetime | dt.date):
        from openpyxl.utils.datetime import to_excel

        cell.append(_value(repr(float(to_excel(value))).removesuffix(".0")))
    else:
        cell.set("t", "s")
        cell.append(_value(str(strings.add(xml_text(str(value))))))


def _value(text: str) -> Any:
    v = etree.Element(_V)
    v.text = text
    return v


def _unescape(text: str) -> str:
    """_cached_xml gives XML-escaped text; lxml escapes it again on the way out."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _widen_dimension(root: Any, touched: list[tuple[int, int]]) -> None:
    dimension = root.find(f"{{{NS}}}dimension")
    if dimension is None or not dimension.get("ref"):
        return
    try:
        min_col, min_row, max_col, max_row = range_boundaries(dimension.get("ref"))
    except (TypeError, ValueError):
        return
    rows = [r for r, _ in touched] + [min_row or 1, max_row or 1]
    cols = [c for _, c in touched] + [min_col or 1, max_col or 1]
    top, bottom = _ref(min(rows), min(cols)), _ref(max(rows), max(cols))
    dimension.set("ref", top if top == bottom else f"{top}:{bottom}")


def _calc_flags(workbook: bytes, patch: CellPatch) -> bytes:
    """Every formula computed: Excel shows the stored values and recalculates as usual;
    some not: Excel computes everything on open (the splice set fullCalcOnLoad)."""
    if not patch.complete:
        return workbook
    text = workbook.decode("utf-8")
    found = re.search(r"<calcPr\b[^>]*?/?>", text)
    if found is None:
        return workbook
    # Written out as 0: readers such as openpyxl take a missing attribute as 1.
    tag = re.sub(r'\sfullCalcOnLoad="[^"]*"', "", found.group(0))
    tag = tag.replace("<calcPr", '<calcPr fullCalcOnLoad="0"', 1)
    if re.search(r'\bcalcId="', tag):
        tag = re.sub(r'\bcalcId="[^"]*"', f'calcId="{patch.calc_id}"', tag)
    else:
        tag = tag.replace("<calcPr", f'<calcPr calcId="{patch.calc_id}"', 1)
    return (text[: found.start()] + tag + text[found.end() :]).encode("utf-8")
