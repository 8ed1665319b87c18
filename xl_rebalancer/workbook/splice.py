"""Save a run by replacing only the engine's parts of the workbook package.

Loading the whole workbook with openpyxl to rewrite a handful of sheets costs memory
and time in proportion to everything else in the file (a user's 37 MB sheet of numbers
took 4.7 GB to rebalance), and it drops every part openpyxl does not model: pivot
tables, slicers, data connections, images when Pillow is missing, Excel's cached
formula values. So the engine's sheets are written by openpyxl into a small scratch
workbook (a plain table's data rows kept as values and written as sheet XML here, once
the package's numbering of styles and strings is known: tables.DeferredRows) and moved
into the user's package: their cell formats merged into the package's style sheet
(equal formats reused, so repeated runs do not grow it), their text into its
shared-string table, their tables, drawings and charts given free part names. Every
other part is copied as it was, byte for byte, streamed, so memory stays bounded
whatever the user keeps beside the portfolio.

The package is edited as text where Excel's own spelling must survive (a re-serialized
workbook.xml would lose the prefixes its `mc:Ignorable` names). Anything this module
does not recognise (strict Open XML, prefixed element names, a sheet name bound to a
chart sheet) raises `NotSpliceable`, and the caller rewrites the whole workbook instead.

This module is the plan, step by step (_plan); its pieces live beside it: the package's
small parts as text (splice_parts), the style sheet (splice_styles), the shared strings
(shared_strings), the scratch workbook (splice_scratch), the VBA project and ribbon
(splice_vba), and the zip written (splice_write).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from html import unescape
from pathlib import Path
from typing import Any

from .package import (
    CT_SST,
    NS_REL,
    REL_SST,
    REL_VBA,
    SST_PART,
    VBA_PART,
    _add_relationships,
    _add_workbook_part,
    _fix_content_types,
    xml_attr,
)
from .shared_strings import _kept_strings, _Strings
from .splice_parts import (
    _CODE_NAME,
    _SHEETS,
    _TAB_SELECTED,
    CALC_CHAIN,
    REL_CALC_CHAIN,
    REL_WORKSHEET,
    NotSpliceable,
    _active_tab,
    _add_default,
    _add_override,
    _attrs,
    _chain,
    _closure,
    _content_type,
    _defined_names,
    _drop_override,
    _drop_relationships,
    _drop_titles,
    _free_id,
    _free_name,
    _free_table_name,
    _full_calc_on_load,
    _head,
    _owner_of,
    _Plan,
    _relationships,
    _rels_name,
    _retarget,
    _rewrite_defined_names,
    _set_views,
    _Sheet,
    _text,
    _touch_core,
    _unselect,
    _workbook_sheets,
)
from .splice_scratch import (
    _as_spec,
    _mini_package,
    _Rewritten,
    _Scratch,
    _scratch,
    _scratch_rels,
    _with_rows,
)
from .splice_styles import _remap_dxf_attrs, _restyle, _StyleMerge
from .splice_vba import (
    _add_code_name,
    _door_modules,
    _install_ribbon,
    _is_chart,
    _new_project,
    _project,
)
from .splice_write import _write


def splice_save(
    source: Path,
    dest: Path,
    outputs: Sequence[Any],
    *,
    macro_enabled: bool,
    ribbon: list[tuple[str, str, str]],
    doors: bool = False,
    rewrites: Sequence[Any] = (),
    patched: set[str] | None = None,
) -> list[str]:
    """Write `source` with the engine sheets `outputs` (writer.SheetOutput) replaced or
    added to `dest`; with `doors`, a macro-enabled workbook also gets the rebalancer's
    VBA modules and ribbon where it lacks them. Raises NotSpliceable before writing
    anything it cannot do. `rewrites` (edits.InputRewrite) are input tables whose rows
    change: their sheets are edited by openpyxl apart from the rest of the package and
    replace their old parts. Returns notes for the user."""
    with zipfile.ZipFile(source) as archive:
        outputs = [*(_Rewritten(_as_spec(r.title), r) for r in rewrites), *outputs]
        plan = _plan(archive, outputs, macro_enabled=macro_enabled, ribbon=ribbon, doors=doors)
        _write(archive, dest, plan)
    if patched is not None:
        patched |= set(plan.heads) - set(plan.edited) - plan.removed
    return plan.notes


@dataclass
class _Package:
    """The user's package as the plan reads it, with the three small parts it edits as
    it goes (the content types, workbook.xml and its relationships)."""

    archive: zipfile.ZipFile
    names: list[str]
    types: str
    workbook: str
    workbook_rels: str
    rels: list[dict[str, str]]
    sheets: list[_Sheet]
    heads: dict[str, bytes]  # each sheet part's start, up to its cell data


@dataclass
class _Placing:
    """Which engine sheets replace a sheet of the package, which are new, and the order
    of the sheets once they are in."""

    outputs: list[Any]
    replaced: dict[str, _Sheet]  # engine title -> the sheet it replaces
    order: list[_Sheet | Any]
    shown: str | None  # the sheet the workbook opens on


def _plan(
    archive: zipfile.ZipFile,
    outputs: Sequence[Any],
    *,
    macro_enabled: bool,
    ribbon: list[tuple[str, str, str]],
    doors: bool = False,
) -> _Plan:
    """What the new package holds, step by step. Each step reads the package or edits
    its small parts in memory; nothing is written until _write, so a NotSpliceable
    leaves no file behind."""
    plan = _Plan()
    package = _read_package(archive)
    placing = _place(package, _engine_titles(archive, package.workbook, package.sheets, outputs))
    doors = doors and macro_enabled
    codes = _code_names(package, plan, placing, macro_enabled=macro_enabled, doors=doors)
    scratch = _scratch_for(package, placing, codes)
    strings = _drop_replaced(package, plan, placing)
    taken = {n.lower() for n in set(package.names) - plan.removed}

    # Styles.
    merge = _StyleMerge(_text(archive, "xl/styles.xml"))
    plan.edited["xl/styles.xml"] = merge.merge(scratch.members["xl/styles.xml"].decode()).encode()

    new_entries, new_rels = _add_engine_sheets(
        package, plan, placing, scratch, strings, merge, taken
    )
    for part in plan.removed - set(plan.added):
        package.types = _drop_override(package.types, part)
    _edit_workbook(package, plan, placing, scratch, new_entries)
    _finish_parts(package, plan, new_rels, strings)
    if doors:
        ribbon = _install_ribbon(plan, package.names, ribbon)
    if ribbon and "_rels/.rels" in package.names:
        plan.edited["_rels/.rels"] = _add_relationships(archive.read("_rels/.rels"), ribbon)
    if codes.project is not None:
        _edit_project(plan, placing, codes, doors=doors)
    _finish_docs(package, plan, macro_enabled=macro_enabled)
    return plan


def _read_package(archive: zipfile.ZipFile) -> _Package:
    """The parts every plan reads; a package without them is not one this edits."""
    names = archive.namelist()
    for needed in (
        "[Content_Types].xml",
        "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels",
        "xl/styles.xml",
    ):
        if needed not in names:
            raise NotSpliceable(f"no {needed}")
    types = _text(archive, "[Content_Types].xml")
    workbook = _text(archive, "xl/workbook.xml")
    workbook_rels = _text(archive, "xl/_rels/workbook.xml.rels")
    rels = _relationships(workbook_rels, "xl/workbook.xml")
    sheets = _workbook_sheets(workbook, rels)
    heads = {sheet.part: _head(archive, sheet.part) for sheet in sheets if sheet.part in names}
    return _Package(archive, names, types, workbook, workbook_rels, rels, sheets, heads)


def _place(package: _Package, outputs: list[Any]) -> _Placing:
    """Which engine sheets replace a sheet, which are new, and where each goes."""
    by_name = {sheet.name.lower(): sheet for sheet in package.sheets}
    shown = next((o.spec.name for o in outputs if o.show), None)
    replaced: dict[str, _Sheet] = {}
    for output in outputs:
        old = by_name.get(output.spec.name.lower())
        if old is None:
            continue
        if old.rel_type != REL_WORKSHEET or old.part not in package.names:
            raise NotSpliceable(f"{old.name} is not a worksheet")
        replaced[output.spec.name] = old
    order: list[_Sheet | Any] = list(package.sheets)
    for output in outputs:
        if output.spec.name not in replaced:
            order.insert(0, output) if output.first else order.append(output)
    return _Placing(outputs, replaced, order, shown)


@dataclass
class _Codes:
    """The VBA project (None: no macros, or a project left as it is) and every sheet's
    code name, by the sheet's entry in the new order."""

    project: Any = None
    fresh: bool = False  # a project made for a workbook that had none
    of: dict[int, str] = field(default_factory=dict)  # id(entry) -> code name


def _code_names(
    package: _Package, plan: _Plan, placing: _Placing, *, macro_enabled: bool, doors: bool
) -> _Codes:
    """Code names: every sheet keeps its own; a sheet without one (a new engine sheet, a
    user's sheet written by a script) takes a free SheetN, as writer._code_names does."""
    names, heads, sheets = package.names, package.heads, package.sheets
    codes = _Codes(_project(package.archive) if macro_enabled and VBA_PART in names else None)
    codes.fresh = doors and VBA_PART not in names
    if codes.fresh:
        package.workbook, codes.project = _new_project(package.workbook)
    project = codes.project
    if project is None:
        return codes

    def code_in(entry: Any) -> str | None:
        if not isinstance(entry, _Sheet):
            return None
        found = _CODE_NAME.search(heads.get(entry.part, b""))
        return found.group(1).decode("utf-8") if found else None

    taken_codes = {n.lower() for n in project.module_names}
    taken_codes |= {c.lower() for s in sheets if (c := code_in(s))}
    # A sheet without a codeName (LibreOffice saves none) keeps its own module.
    own = project.modules_for(
        [s.name for s in sheets if code_in(s) is None], [c for s in sheets if (c := code_in(s))]
    )
    number = 1
    for entry in placing.order:
        code = code_in(entry)
        if code is None:
            code = own.get(entry.name) if isinstance(entry, _Sheet) else None
            if code is None:
                while f"sheet{number}" in taken_codes:
                    number += 1
                taken_codes.add(f"sheet{number}")
                code = f"Sheet{number}"
            if isinstance(entry, _Sheet) and entry not in placing.replaced.values():
                plan.heads[entry.part] = _add_code_name(code)
        codes.of[id(entry)] = code
    return codes


def _scratch_for(package: _Package, placing: _Placing, codes: _Codes) -> _Scratch:
    """The engine's sheets written apart, each under its code name; the sheet shown is
    the engine sheet that replaces the one the workbook was open on, unless told."""
    replaced, outputs = placing.replaced, placing.outputs
    code_names = {
        o.spec.name: codes.of[id(replaced.get(o.spec.name, o))]
        for o in outputs
        if id(replaced.get(o.spec.name, o)) in codes.of
    }
    active = _active_tab(package.workbook)
    if placing.shown is None and 0 <= active < len(package.sheets):
        was = package.sheets[active]
        placing.shown = next((n for n, o in replaced.items() if o is was), None)
    rewritten = {o.spec.name.lower() for o in outputs if isinstance(o, _Rewritten)}
    base = None
    if rewritten:
        by_name = {sheet.name.lower() for sheet in package.sheets}
        base = _mini_package(package.archive, {n for n in rewritten if n in by_name})
    return _scratch(outputs, code_names, placing.shown, base)


def _drop_replaced(package: _Package, plan: _Plan, placing: _Placing) -> _Strings:
    """The replaced sheets' own parts (tables, drawings, charts) go with them, unless
    another part still refers to them; their text leaves the shared strings' count."""
    archive, names, sheets = package.archive, package.names, package.sheets
    # Every relationship in the package: who refers to which part.
    referrers: dict[str, set[str]] = {}
    all_rels: dict[str, list[dict[str, str]]] = {}
    for name in names:
        if name.endswith(".rels"):
            owner = _owner_of(name)
            all_rels[name] = _relationships(_text(archive, name), owner)
            for rel in all_rels[name]:
                if "part" in rel:
                    referrers.setdefault(rel["part"], set()).add(owner)

    replaced = placing.replaced
    strings_text = _text(archive, SST_PART) if SST_PART in names else None
    strings = _Strings(strings_text)
    if strings_text is not None:
        kept = _kept_strings(archive, [s.part for s in sheets if s not in replaced.values()])
        if kept is not None:
            strings.release(kept)
    for old in replaced.values():
        strings.forget(archive.read(old.part))
        gone = _closure(old.part, all_rels)
        gone.discard(old.part)
        for part in sorted(gone, key=len, reverse=True):
            owners = referrers.get(part, set()) - gone - {old.part}
            if not owners:
                plan.removed.add(part)
        plan.removed.add(_rels_name(old.part))
        plan.removed |= {_rels_name(p) for p in plan.removed if _rels_name(p) in all_rels}
    return strings


def _table_names(package: _Package, plan: _Plan) -> tuple[int, set[str]]:
    """The next free table id, and the table and workbook-level names taken: table ids
    are unique across the workbook, table names too, and they must differ from every
    workbook-level defined name."""
    table_ids = [0]
    names_taken = {
        _attrs(a).get("name", "").lower()
        for a, _ in _defined_names(package.workbook)
        if "localSheetId" not in _attrs(a)
    }
    for name in package.names:
        if name.startswith("xl/tables/") and name.endswith(".xml") and name not in plan.removed:
            head = package.archive.read(name)[:4096]
            found = re.search(rb'<table\b[^>]*?\bid="(\d+)"', head)
            if found:
                table_ids.append(int(found.group(1)))
            display = re.search(rb'<table\b[^>]*?\bdisplayName="([^"]*)"', head)
            if display:
                names_taken.add(unescape(display.group(1).decode("utf-8")).lower())
    return max(table_ids) + 1, names_taken


def _add_engine_sheets(
    package: _Package,
    plan: _Plan,
    placing: _Placing,
    scratch: _Scratch,
    strings: _Strings,
    merge: _StyleMerge,
    taken: set[str],
) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """The engine sheets and their own parts, under free names: the new sheets' <sheet>
    elements by title, and their workbook relationships."""
    names, replaced = package.names, placing.replaced
    xf_map, dxf_map = merge.maps["xf"], merge.maps["dxf"]
    next_table, names_taken = _table_names(package, plan)
    rel_ids = {r["Id"] for r in package.rels}
    new_entries: dict[str, str] = {}  # title -> <sheet> element
    new_rels: list[tuple[str, str, str]] = []
    sheet_ids = [int(_attrs(s.xml).get("sheetId", "0")) for s in package.sheets]
    next_sheet_id = max([0, *sheet_ids]) + 1
    for output in placing.outputs:
        title = output.spec.name
        scratch_part = scratch.parts[title]
        if title in replaced:
            part = replaced[title].part
        else:
            part = _free_name("xl/worksheets/sheet1.xml", taken)
            rid = _free_id(rel_ids)
            new_rels.append((rid, REL_WORKSHEET, "/" + part))
            new_entries[title] = (
                f'<sheet xmlns:r="{NS_REL}" name="{xml_attr(title)}" '
                f'sheetId="{next_sheet_id}" r:id="{rid}"/>'
            )
            next_sheet_id += 1
            plan.added.append(part)
            kind = _content_type(scratch.content_types, scratch_part)
            package.types = _add_override(package.types, part, kind)
        xml = scratch.members[scratch_part].decode("utf-8")
        xml = strings.share(_restyle(xml, xf_map, dxf_map))
        if title in scratch.deferred:
            rows, ref = scratch.deferred[title]
            xml = _with_rows(xml, rows.xml(xf_map, strings.add), ref)
        plan.edited[part] = xml.encode("utf-8")
        renamed: dict[str, str] = {}
        for child in sorted(_closure(scratch_part, _scratch_rels(scratch)) - {scratch_part}):
            new = _free_name(child, taken)
            renamed[child] = new
            data = scratch.members[child]
            if child.startswith("xl/tables/"):
                data = re.sub(
                    rb'(<table\b[^>]*?\bid=")\d+', rb"\g<1>%d" % next_table, data, count=1
                )
                data = _free_table_name(data, names_taken)
                data = _remap_dxf_attrs(data, dxf_map)
                next_table += 1
            plan.edited[new] = data
            plan.added.append(new)
            kind = _content_type(scratch.content_types, child)
            if kind:
                package.types = _add_override(package.types, new, kind)
            else:
                package.types = _add_default(package.types, scratch.content_types, child)
        for child in [scratch_part, *renamed]:
            rels_name = _rels_name(child)
            if rels_name not in scratch.members:
                continue
            target = _rels_name(part if child == scratch_part else renamed[child])
            plan.edited[target] = _retarget(scratch.members[rels_name].decode(), child, renamed)
            if target not in names or target in plan.removed:
                plan.added.append(target)
            plan.removed.discard(target)
    return new_entries, new_rels


def _edit_workbook(
    package: _Package,
    plan: _Plan,
    placing: _Placing,
    scratch: _Scratch,
    new_entries: dict[str, str],
) -> None:
    """workbook.xml: sheet list, defined names, active tab, calculation on open."""
    workbook, sheets, order = package.workbook, package.sheets, placing.order
    replaced, shown = placing.replaced, placing.shown
    active = _active_tab(workbook)
    rewritten = {o.spec.name.lower() for o in placing.outputs if isinstance(o, _Rewritten)}
    position = {id(entry): i for i, entry in enumerate(order)}
    titles_new = [(e.name if isinstance(e, _Sheet) else e.spec.name) for e in order]
    elements = [e.xml if isinstance(e, _Sheet) else new_entries[e.spec.name] for e in order]
    block = _SHEETS.search(workbook)
    assert block is not None
    workbook = workbook[: block.start(1)] + "".join(elements) + workbook[block.end(1) :]
    old_to_new = {i: position[id(s)] for i, s in enumerate(sheets)}
    # A rewritten input sheet keeps every name it had; an engine sheet gives way to the
    # new sheet's own (its print area and titles), and keeps the names a user gave it.
    scratch_titles = list(scratch.parts)
    local = []
    redefined: dict[str, set[str]] = {}
    for attrs_text, body in _defined_names(scratch.workbook):
        attrs = _attrs(attrs_text)
        if "localSheetId" not in attrs:
            continue
        title = scratch_titles[int(attrs["localSheetId"])]
        if title.lower() in rewritten:
            continue
        redefined.setdefault(title.lower(), set()).add(attrs.get("name", "").lower())
        matching = next(i for i, t in enumerate(titles_new) if t.lower() == title.lower())
        attrs_text = re.sub(r'localSheetId="\d+"', f'localSheetId="{matching}"', attrs_text)
        local.append(f"<definedName{attrs_text}>{body}</definedName>")
    replaced_old = {
        i: redefined.get(s.name.lower(), set())
        for i, s in enumerate(sheets)
        if s in replaced.values() and s.name.lower() not in rewritten
    }
    workbook = _rewrite_defined_names(workbook, old_to_new, replaced_old, local)
    shown_index = next(
        (i for i, t in enumerate(titles_new) if shown and t.lower() == shown.lower()), None
    )
    if shown_index is None and 0 <= active < len(sheets):
        shown_index = old_to_new[active]
    workbook = _set_views(workbook, shown_index, old_to_new)
    workbook = _full_calc_on_load(workbook)
    package.workbook = workbook
    plan.edited["xl/workbook.xml"] = workbook.encode("utf-8")
    if shown is not None:
        heads = package.heads
        for sheet in sheets:
            if sheet not in replaced.values() and _TAB_SELECTED.search(heads.get(sheet.part, b"")):
                plan.heads[sheet.part] = _chain(plan.heads.get(sheet.part), _unselect)


def _finish_parts(
    package: _Package,
    plan: _Plan,
    new_rels: list[tuple[str, str, str]],
    strings: _Strings,
) -> None:
    """Relationships, content types, shared strings, the calculation chain."""
    names = package.names
    if CALC_CHAIN in names:  # Excel rebuilds it; a stale one points at replaced cells
        plan.removed.add(CALC_CHAIN)
        package.types = _drop_override(package.types, CALC_CHAIN)
        package.workbook_rels = _drop_relationships(package.workbook_rels, REL_CALC_CHAIN)
    workbook_rels_bytes = _add_relationships(package.workbook_rels.encode(), new_rels)
    plan.edited["xl/_rels/workbook.xml.rels"] = workbook_rels_bytes
    plan.edited["[Content_Types].xml"] = package.types.encode("utf-8")
    if strings.added or SST_PART in names:
        if SST_PART not in names:
            _add_workbook_part(
                plan.edited, SST_PART, strings.xml().encode(), "rIdSst", REL_SST, CT_SST
            )
            plan.added.append(SST_PART)
        else:
            plan.edited[SST_PART] = strings.xml().encode("utf-8")


def _edit_project(plan: _Plan, placing: _Placing, codes: _Codes, *, doors: bool) -> None:
    """The VBA project with a document module for every sheet, in the new order, and
    with `doors` the rebalancer's own modules; a project it cannot edit stays as it was."""
    project, order = codes.project, placing.order
    charts = {codes.of[id(e)] for e in order if _is_chart(e)}
    extra = _door_modules() if doors else ()
    try:
        edited = project.with_sheet_modules([codes.of[id(e)] for e in order], extra, charts)
    except (ValueError, OSError):  # ProjectNotEditable too: left as it was
        edited = project.original
        if doors:
            plan.notes.append(
                "the workbook's VBA project holds forms or a layout xl-rebalancer does "
                "not edit, so the rebalancer's macros were not added to it"
            )
    if edited != project.original or codes.fresh:
        plan.edited[VBA_PART] = edited
    if codes.fresh:
        plan.added.append(VBA_PART)
        plan.edited["xl/_rels/workbook.xml.rels"] = _add_relationships(
            plan.edited["xl/_rels/workbook.xml.rels"],
            [("rIdVBA", REL_VBA, "vbaProject.bin")],
        )


def _finish_docs(package: _Package, plan: _Plan, *, macro_enabled: bool) -> None:
    """The content types of the parts the package ends with, and the document
    properties: no stale list of sheet titles, the time of this save."""
    archive, names = package.archive, package.names
    plan.edited["[Content_Types].xml"] = _fix_content_types(
        plan.edited["[Content_Types].xml"],
        set(names) - plan.removed | set(plan.added),
        macro_enabled,
    )
    if "docProps/app.xml" in names:
        plan.edited["docProps/app.xml"] = _drop_titles(_text(archive, "docProps/app.xml")).encode()
    if "docProps/core.xml" in names:
        plan.edited["docProps/core.xml"] = _touch_core(_text(archive, "docProps/core.xml")).encode()


def _engine_titles(
    archive: zipfile.ZipFile, workbook: str, sheets: list[_Sheet], outputs: Sequence[Any]
) -> list[Any]:
    """Engine sheets under titles no sheet of the user's has (workbook/engine_sheets.py)."""
    from .engine_sheets import MARKER, is_output, ownership, renamed, title_for

    marked = set()
    for attrs_text, _ in _defined_names(workbook):
        attrs = _attrs(attrs_text)
        local = attrs.get("localSheetId", "")
        is_mark = attrs.get("name", "").lower() == MARKER.lower() and local.isdigit()
        if is_mark and int(local) < len(sheets):
            marked.add(sheets[int(local)].name)
    creator = None
    if "docProps/core.xml" in archive.namelist():
        found = re.search(
            r"<dc:creator\b[^>]*>([^<]*)</dc:creator>", _text(archive, "docProps/core.xml")
        )
        creator = unescape(found.group(1)) if found else None
    engine = ownership(marked, creator)
    titles = [sheet.name for sheet in sheets]
    out = []
    for output in outputs:
        if not isinstance(output, _Rewritten) and is_output(output.spec):
            title = title_for(output.spec.name, titles, engine)
            output = replace(output, spec=renamed(output.spec, title))
        out.append(output)
    return out
