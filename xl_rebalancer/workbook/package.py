"""Zip-level facts about an OOXML package that openpyxl either hides or loses.

openpyxl cannot list tables in read-only mode and drops the ribbon (customUI)
relationship from `_rels/.rels` when it saves, so both are handled here on the raw
package, parsed with defusedxml because the workbook is untrusted input.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from defusedxml import ElementTree

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
NS_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
REL_TABLE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/table"
REL_UI = (
    "http://schemas.microsoft.com/office/2006/relationships/ui/extensibility",
    "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility",
)
REL_VBA = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
CT_VBA = "application/vnd.ms-office.vbaProject"
VBA_PART = "xl/vbaProject.bin"
RIBBON_PART = "customUI/customUI14.xml"
CT_RELS = "application/vnd.openxmlformats-package.relationships+xml"
CT_XLSM_MAIN = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
CT_XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
# The deterministic timestamp used when the template is normalized.
FIXED_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class TableRef:
    name: str
    ref: str


def _rels(archive: zipfile.ZipFile, part: str) -> list[tuple[str, str, str]]:
    """Relationships of a part as (Id, Type, absolute target)."""
    folder, name = posixpath.split(part)
    rels_name = posixpath.join(folder, "_rels", name + ".rels")
    if rels_name not in archive.namelist():
        return []
    return relationships(archive.read(rels_name), folder)


def relationships(rels_xml: bytes, folder: str) -> list[tuple[str, str, str]]:
    """A .rels part's internal relationships as (Id, Type, absolute target), targets
    resolved against the folder of the part they belong to."""
    root = ElementTree.fromstring(rels_xml)
    out = []
    for rel in root.findall(f"{{{NS_PKG_REL}}}Relationship"):
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External":
            continue
        absolute = (
            target.lstrip("/")
            if target.startswith("/")
            else posixpath.normpath(posixpath.join(folder, target))
        )
        out.append((rel.get("Id", ""), rel.get("Type", ""), absolute))
    return out


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet title → its part name, in workbook order."""
    names = set(archive.namelist())
    if "xl/workbook.xml" not in names:
        return {}
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    targets = {rid: target for rid, _, target in _rels(archive, "xl/workbook.xml")}
    out = {}
    for sheet in workbook.iter(f"{{{NS_MAIN}}}sheet"):
        part = targets.get(sheet.get(f"{{{NS_REL}}}id", ""))
        if part and part in names:
            out[sheet.get("name", "")] = part
    return out


# A cell whose formula is a dynamic array carries cell metadata (cm) pointing at the
# XLDAPR entry of xl/metadata.xml; openpyxl drops both, so they are read and written here.
_DYNAMIC_CELL = re.compile(
    rb'<c\b[^>]*?\br="([A-Z]+[0-9]+)"[^>]*?\bcm="[0-9]+"[^>]*>\s*<f\b[^>]*\bt="array"'
)
_DYNAMIC_CELL_CM_FIRST = re.compile(
    rb'<c\b[^>]*?\bcm="[0-9]+"[^>]*?\br="([A-Z]+[0-9]+)"[^>]*>\s*<f\b[^>]*\bt="array"'
)
REL_METADATA = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sheetMetadata"
CT_METADATA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheetMetadata+xml"
METADATA_PART = "xl/metadata.xml"
METADATA_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<metadata xmlns="{NS_MAIN}" '
    'xmlns:xda="http://schemas.microsoft.com/office/spreadsheetml/2017/dynamicarray">'
    '<metadataTypes count="1"><metadataType name="XLDAPR" minSupportedVersion="120000" '
    'copy="1" pasteAll="1" pasteValues="1" merge="1" splitFirst="1" rowColShift="1" '
    'clearFormats="1" clearComments="1" assign="1" coerce="1" cellMeta="1"/></metadataTypes>'
    '<futureMetadata name="XLDAPR" count="1"><bk><extLst>'
    '<ext uri="{bdbb8cdc-fa1e-496e-a857-3c3f30c029c3}">'
    '<xda:dynamicArrayProperties fDynamic="1" fCollapsed="0"/></ext></extLst></bk>'
    "</futureMetadata>"
    '<cellMetadata count="1"><bk><rc t="1" v="0"/></bk></cellMetadata></metadata>'
).encode()


def dynamic_arrays(path: str | Path) -> dict[str, set[str]]:
    """Anchor cells of dynamic-array (spilling) formulas, per sheet title."""
    out: dict[str, set[str]] = {}
    with zipfile.ZipFile(path) as archive:
        # Excel writes cell metadata only with its metadata part; without one, no sheet
        # (100,000 lots included) is decompressed on the way to every save.
        if METADATA_PART not in archive.namelist():
            return out
        for title, part in _sheet_parts(archive).items():
            data = archive.read(part)
            if b' cm="' not in data:
                continue
            cells = {m.decode() for m in _DYNAMIC_CELL.findall(data)}
            cells |= {m.decode() for m in _DYNAMIC_CELL_CM_FIRST.findall(data)}
            if cells:
                out[title] = cells
    return out


def mark_dynamic_arrays(path: str | Path, cells: dict[str, set[str]]) -> None:
    """Make the array formulas at `cells` (per sheet title) dynamic arrays, in place:
    what Excel 365 writes for a formula that spills."""
    path = Path(path)
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
        parts = _sheet_parts(archive)
    _install_cached(members, parts, {t: {} for t in cells}, cells)
    tmp = path.with_name(path.name + ".tmp")
    _write_members(tmp, members, list(members))
    tmp.replace(path)


_FORMULA_CELL = re.compile(
    r'<c r="(?P<ref>[A-Z]+[0-9]+)"(?P<attrs>[^>]*)>(?P<f><f\b[^>]*/>|<f\b[^>]*>[^<]*</f>)'
    r"(?:<v>[^<]*</v>|<v\s*/>)?</c>"
)
_ATTR = re.compile(r'\s(?:t|cm)="[^"]*"')


def _cached_xml(value: object) -> tuple[str, str]:
    """(cell type attribute, <v> text) of a computed value."""
    if hasattr(value, "code"):  # formulas/values.CellError
        return ' t="e"', xml_text(str(value))
    if isinstance(value, bool):
        return ' t="b"', "1" if value else "0"
    if isinstance(value, int | float):
        text = repr(float(value))
        return "", text[:-2] if text.endswith(".0") else text
    return ' t="str"', xml_text(str(value))


# Characters XML 1.0 cannot carry at all (a text result of ="a"&CHAR(11)&"b" has one).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Text that already reads like an escape: its underscore is escaped so it reads back as is.
_LOOKS_ESCAPED = re.compile("_(?=x[0-9A-Fa-f]{4}_)")


def xml_text(text: str) -> str:
    """Text for a cell value as Excel writes it (ECMA-376 Part 1, 22.9.2.19 ST_Xstring):
    a character XML cannot hold becomes _xHHHH_, a literal "_xHHHH_" keeps its meaning
    as _x005F_xHHHH_, then &, < and > are escaped. Raw control characters would make the
    sheet XML ill-formed, and Excel would offer to repair the file."""
    text = _LOOKS_ESCAPED.sub("_x005F_", text)
    text = _NOT_XML.sub(lambda m: f"_x{ord(m.group()):04X}_", text)
    # What xml.sax.saxutils.escape does; importing it pulls in urllib.request and
    # http.client, 0.05 s of every save's first call.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xml_attr(text: str) -> str:
    """`xml_text` for an attribute value in double quotes: a number format such as
    `"TRUE";"TRUE";"FALSE"` written with bare quotes ends the attribute early, and the
    whole style sheet stops being XML (every workbook Excel wrote came out so)."""
    return xml_text(text).replace('"', "&quot;")


def _install_cached(
    members: dict[str, bytes],
    parts: dict[str, str],
    values: dict[str, dict[str, object]],
    dynamic: dict[str, set[str]],
) -> None:
    """Write computed values into formula cells (<v> and t) and mark dynamic anchors
    (cm), on sheet XML as openpyxl writes it: one <c> per cell, formula then value."""
    marked = False
    for title, part in parts.items():
        cells, anchors = values.get(title, {}), dynamic.get(title, set())
        if not cells and not anchors:
            continue

        def patch(match: re.Match[str], cells: dict = cells, anchors: set = anchors) -> str:
            nonlocal marked
            ref = match.group("ref")
            if ref not in cells and ref not in anchors:
                return match.group(0)
            formula = match.group("f")
            dynamic_here = ref in anchors and 't="array"' in formula
            if ref not in cells and not dynamic_here:
                return match.group(0)
            attrs = _ATTR.sub("", match.group("attrs"))
            if dynamic_here:
                attrs += ' cm="1"'
                marked = True
            if ref not in cells:
                return f'<c r="{ref}"{attrs}>{formula}</c>'
            kind, text = _cached_xml(cells[ref])
            return f'<c r="{ref}"{attrs}{kind}>{formula}<v>{text}</v></c>'

        members[part] = _FORMULA_CELL.sub(patch, members[part].decode("utf-8")).encode("utf-8")
    if marked:
        _add_workbook_part(
            members, METADATA_PART, METADATA_XML, "rIdMeta", REL_METADATA, CT_METADATA
        )


def _add_workbook_part(
    members: dict[str, bytes], part: str, data: bytes, rel_id: str, rel_type: str, content: str
) -> None:
    """A part of the workbook (xl/…), related from workbook.xml and given its content type."""
    members[part] = data
    members["xl/_rels/workbook.xml.rels"] = _add_relationships(
        members["xl/_rels/workbook.xml.rels"], [(rel_id, rel_type, part.removeprefix("xl/"))]
    )
    types = members["[Content_Types].xml"].decode("utf-8")
    if f'PartName="/{part}"' not in types:
        at = types.rindex("</Types>")
        override = f'<Override PartName="/{part}" ContentType="{content}"/>'
        members["[Content_Types].xml"] = (types[:at] + override + types[at:]).encode("utf-8")


def _write_members(
    dest: Path, members: dict[str, bytes], names: list[str], fixed_time: bool = False
) -> None:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
        for name in names:
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME if fixed_time else _now())
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            out.writestr(info, members[name])


def ribbon_relationships(path: str | Path) -> list[tuple[str, str, str]]:
    """The package-level customUI relationships (Id, Type, Target) of a workbook.

    A ribbon part left without its relationship (openpyxl keeps only the 2006 type, so a
    user's own openpyxl script drops a customUI14 ribbon's) is related again, with the
    type its file name calls for.
    """
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if "_rels/.rels" not in names:
            return []
        root = ElementTree.fromstring(archive.read("_rels/.rels"))
        found = [
            (r.get("Id", ""), r.get("Type", ""), r.get("Target", ""))
            for r in root.findall(f"{{{NS_PKG_REL}}}Relationship")
            if r.get("Type") in REL_UI
        ]
    related = {target.lstrip("/") for _, _, target in found}
    for name in names:
        if name in related:
            continue
        if name == RIBBON_PART:
            found.append(("rIdRibbon", REL_UI[1], name))
        elif name == "customUI/customUI.xml":
            found.append(("rIdRibbon2006", REL_UI[0], name))
    return found


def rewrite_package(
    source: Path,
    dest: Path,
    *,
    ribbon: list[tuple[str, str, str]] | None = None,
    extra_parts: dict[str, bytes] | None = None,
    macro_enabled: bool = False,
    fixed_time: bool = False,
    vba_project: bytes | None = None,
    ribbon_xml: bytes | None = None,
    cached: dict[str, dict[str, object]] | None = None,
    dynamic: dict[str, set[str]] | None = None,
    replaced_parts: dict[str, bytes] | None = None,
    share_strings: bool = True,
    main_content_type: str | None = None,
) -> None:
    """Copy a package, restoring ribbon relationships and parts openpyxl dropped.

    Parameters
    ----------
    ribbon : customUI relationships to put back into `_rels/.rels` (targets must exist
        in the package or in `extra_parts`).
    extra_parts : parts to add where the package lacks them (customUI XML, images).
    macro_enabled : give the workbook part the .xlsm content type, which Excel checks
        against the file extension even when the package carries no VBA yet.
    fixed_time : stamp every member with one date, so the template is reproducible.
    vba_project : a compiled `vbaProject.bin` to install, with its relationship.
    ribbon_xml : a `customUI14.xml` ribbon to install, related from `_rels/.rels`.
    cached : per sheet title, computed values for formula cells (headless recalc).
    dynamic : per sheet title, array-formula anchors to mark as dynamic arrays.
    replaced_parts : parts whose bytes replace the package's own (an edited VBA project).
    share_strings : move the cells' inline strings into a shared-string table.
    main_content_type : the workbook part's content type instead (an add-in's).
    """
    extra_parts = dict(extra_parts or {})
    ribbon = list(ribbon or [])
    if vba_project is not None:
        extra_parts[VBA_PART] = vba_project
        macro_enabled = True
    if ribbon_xml is not None:
        extra_parts[RIBBON_PART] = ribbon_xml
        # customUI14.xml (Office 2010 and later) has the 2007 relationship type; the 2006
        # type is for the older customUI.xml.
        ribbon.append(("rIdRibbon", REL_UI[1], RIBBON_PART))
    with zipfile.ZipFile(source) as src:
        names = src.namelist()
        members = {name: src.read(name) for name in names}
        parts = _sheet_parts(src) if cached or dynamic else {}
    if parts:
        _install_cached(members, parts, cached or {}, dynamic or {})
        names += [n for n in members if n not in names]
    if share_strings:
        _share_strings(members)
        names += [n for n in members if n not in names]
    for name, data in (replaced_parts or {}).items():
        if name in members:
            members[name] = data
    for name, data in extra_parts.items():
        if name not in members:
            members[name] = data
            names.append(name)
    if ribbon:
        members["_rels/.rels"] = _add_relationships(members["_rels/.rels"], ribbon)
    if vba_project is not None:
        members["xl/_rels/workbook.xml.rels"] = _add_relationships(
            members["xl/_rels/workbook.xml.rels"], [("rIdVBA", REL_VBA, "vbaProject.bin")]
        )
    if macro_enabled or extra_parts:
        members["[Content_Types].xml"] = _fix_content_types(
            members["[Content_Types].xml"], set(members), macro_enabled
        )
    if main_content_type is not None:
        types = members["[Content_Types].xml"].decode("utf-8")
        for kind in (CT_XLSM_MAIN, CT_XLSX_MAIN):
            types = types.replace(f'ContentType="{kind}"', f'ContentType="{main_content_type}"')
        members["[Content_Types].xml"] = types.encode("utf-8")
    _write_members(dest, members, names, fixed_time)


REL_SST = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
CT_SST = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
SST_PART = "xl/sharedStrings.xml"
# A plain inline string cell as openpyxl writes it (rich text keeps its inline form).
_INLINE_CELL = re.compile(
    r'<c ((?:[a-z]+="[^"]*" )*?)t="inlineStr"((?: [a-z]+="[^"]*")*)>'
    r'<is><t(?: xml:space="preserve")?>([^<]*)</t></is></c>'
)


_EMPTY_INLINE = re.compile(r'<c ((?:[a-z]+="[^"]*" )*?)t="inlineStr"((?: [a-z]+="[^"]*")*)></c>')


def _share_strings(members: dict[str, bytes]) -> None:
    """Text cells as Excel writes them: indexes into one shared-string table.

    openpyxl writes every text cell as an inline string; Excel reads those but moves them
    into xl/sharedStrings.xml on its next save, so a workbook we wrote would differ from
    itself once opened. The text is moved as written (already XML-escaped)."""
    table: dict[str, int] = {}
    count = 0
    for name in [n for n in members if n.startswith("xl/worksheets/") and n.endswith(".xml")]:
        text = members[name].decode("utf-8")
        if 'inlineStr"' not in text:
            continue

        def shared(match: re.Match[str]) -> str:
            nonlocal count
            count += 1
            index = table.setdefault(match.group(3), len(table))
            return f'<c {match.group(1)}t="s"{match.group(2)}><v>{index}</v></c>'

        text = _INLINE_CELL.sub(shared, text)
        # An empty string is written as a typed cell with no text: Excel's blank cell.
        members[name] = _EMPTY_INLINE.sub(
            lambda m: f"<c {m.group(1).rstrip()}{m.group(2)}></c>", text
        ).encode("utf-8")
    if not table:
        return
    items = si_items(table)
    sst = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<sst xmlns="{NS_MAIN}" count="{count}" uniqueCount="{len(table)}">{items}</sst>'
    ).encode()
    _add_workbook_part(members, SST_PART, sst, "rIdSst", REL_SST, CT_SST)


def si_items(texts: Iterable[str]) -> str:
    """Shared-string items for already-escaped texts, keeping edge spaces as Excel does."""
    return "".join(
        f'<si><t xml:space="preserve">{t}</t></si>'
        if t[:1].isspace() or t[-1:].isspace()
        else f"<si><t>{t}</t></si>"
        for t in texts
    )


def _now() -> tuple[int, int, int, int, int, int]:
    import time

    return time.localtime()[:6]


def _add_relationships(rels_xml: bytes, wanted: list[tuple[str, str, str]]) -> bytes:
    root = ElementTree.fromstring(rels_xml)
    present = {(r.get("Type"), r.get("Target")) for r in root}
    used_ids = {r.get("Id") for r in root}
    text = rels_xml.decode("utf-8")
    additions = []
    for rel_id, rel_type, target in wanted:
        if (rel_type, target) in present:
            continue
        new_id = rel_id if rel_id not in used_ids else f"rIdUI{len(used_ids) + len(additions)}"
        additions.append(f'<Relationship Id="{new_id}" Type="{rel_type}" Target="{target}"/>')
    if not additions:
        return rels_xml
    close = text.rindex("</Relationships>")
    return (text[:close] + "".join(additions) + text[close:]).encode("utf-8")


def _fix_content_types(ct_xml: bytes, parts: set[str], macro_enabled: bool) -> bytes:
    """Give every part we add a content type; Excel refuses a package with an untyped part."""
    text = ct_xml.decode("utf-8")
    if macro_enabled:
        text = text.replace(f'ContentType="{CT_XLSX_MAIN}"', f'ContentType="{CT_XLSM_MAIN}"')
    root = ElementTree.fromstring(text.encode("utf-8"))
    defaults = {d.get("Extension", "").lower() for d in root.findall(f"{{{NS_CT}}}Default")}
    new_defaults, new_overrides = [], []
    if "xml" not in defaults:
        new_defaults.append('<Default Extension="xml" ContentType="application/xml"/>')
    if "png" not in defaults and any(p.endswith(".png") for p in parts):
        new_defaults.append('<Default Extension="png" ContentType="image/png"/>')
    # Some writers declare each .rels part by an Override and no Default for the
    # extension: a .rels we add would then have no content type.
    overridden = {
        o.get("PartName", "").lstrip("/").lower() for o in root.iter(f"{{{NS_CT}}}Override")
    }
    if "rels" not in defaults and any(
        p.endswith(".rels") and p.lower() not in overridden for p in parts
    ):
        new_defaults.append(f'<Default Extension="rels" ContentType="{CT_RELS}"/>')
    if VBA_PART in parts and f"/{VBA_PART}" not in text:
        new_overrides.append(f'<Override PartName="/{VBA_PART}" ContentType="{CT_VBA}"/>')
    if new_defaults:  # the schema wants every Default before the first Override
        at = text.index("<Override") if "<Override" in text else text.rindex("</Types>")
        text = text[:at] + "".join(new_defaults) + text[at:]
    if new_overrides:
        at = text.rindex("</Types>")
        text = text[:at] + "".join(new_overrides) + text[at:]
    return text.encode("utf-8")
