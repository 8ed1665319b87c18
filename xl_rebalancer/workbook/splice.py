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
"""

from __future__ import annotations

import datetime as dt
import io
import posixpath
import re
import shutil
import struct
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from html import unescape
from pathlib import Path
from typing import Any

from defusedxml import ElementTree

from .package import (
    _EMPTY_INLINE,
    _INLINE_CELL,
    CT_SST,
    NS_MAIN,
    NS_PKG_REL,
    NS_REL,
    REL_SST,
    REL_UI,
    REL_VBA,
    RIBBON_PART,
    SST_PART,
    VBA_PART,
    _add_relationships,
    _fix_content_types,
    _now,
    si_items,
    xml_attr,
)
from .tables import DeferredRows

REL_WORKSHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
REL_CALC_CHAIN = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/calcChain"
REL_CHARTSHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/chartsheet"
CALC_CHAIN = "xl/calcChain.xml"
_CHUNK = 1 << 20
# How far into a sheet part its sheetPr and sheetViews may lie (before <sheetData>).
_HEAD_LIMIT = 1 << 20


class NotSpliceable(Exception):
    """The package has a shape this module does not edit; rewrite the whole workbook."""


# --- reading the package ----------------------------------------------------------------


def _text(archive: zipfile.ZipFile, name: str) -> str:
    return archive.read(name).decode("utf-8")


def _rels_name(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def _absolute(folder: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(folder, target))


_RELATIONSHIP = re.compile(r"<Relationship\b[^>]*?/>|<Relationship\b[^>]*>\s*</Relationship>")
_ATTRIBUTE = re.compile(r'([\w:.-]+)\s*=\s*"([^"]*)"')


def _attrs(tag: str) -> dict[str, str]:
    return {k: unescape(v) for k, v in _ATTRIBUTE.findall(tag)}


def _relationships(text: str, owner: str) -> list[dict[str, str]]:
    """The relationships of a .rels part, with `part` set to the absolute internal target."""
    if f'xmlns="{NS_PKG_REL}"' not in text:
        raise NotSpliceable("relationships without the default namespace")
    folder = posixpath.dirname(owner)
    out = []
    for match in _RELATIONSHIP.finditer(text):
        attrs = _attrs(match.group(0))
        attrs["xml"] = match.group(0)
        if attrs.get("TargetMode") != "External":
            attrs["part"] = _absolute(folder, attrs.get("Target", ""))
        out.append(attrs)
    return out


def _owner_of(rels_name: str) -> str:
    """The part a .rels file belongs to (`_rels/.rels` belongs to the package root)."""
    folder, name = posixpath.split(rels_name)
    return posixpath.join(posixpath.dirname(folder), name.removesuffix(".rels"))


@dataclass
class _Sheet:
    xml: str  # the <sheet .../> element as written
    name: str
    rid: str
    part: str = ""
    rel_type: str = ""


_SHEETS = re.compile(r"<sheets>(.*?)</sheets>", re.S)
_SHEET = re.compile(r"<sheet\b[^>]*/>")


def _workbook_sheets(workbook: str, rels: list[dict[str, str]]) -> list[_Sheet]:
    block = _SHEETS.search(workbook)
    if block is None or f'xmlns="{NS_MAIN}"' not in workbook[: workbook.index("<sheets>")]:
        raise NotSpliceable("workbook.xml is not transitional SpreadsheetML")
    targets = {r["Id"]: r for r in rels}
    sheets = []
    for match in _SHEET.finditer(block.group(1)):
        attrs = _attrs(match.group(0))
        rid = next((v for k, v in attrs.items() if k.endswith(":id")), "")
        rel = targets.get(rid, {})
        sheets.append(
            _Sheet(
                match.group(0), attrs.get("name", ""), rid, rel.get("part", ""), rel.get("Type", "")
            )
        )
    return sheets


def _head(archive: zipfile.ZipFile, part: str) -> bytes:
    """The start of a sheet part, up to its cell data: where sheetPr and sheetViews are."""
    with archive.open(part) as stream:
        head = b""
        while len(head) < _HEAD_LIMIT:
            chunk = stream.read(1 << 16)
            if not chunk:
                break
            head += chunk
            if b"<sheetData" in head or b"</worksheet>" in head or b"</chartsheet>" in head:
                break
    return head


def _head_cut(head: bytes) -> int:
    """Where a head may be patched up to without cutting a tag or a character."""
    at = head.find(b"<sheetData")
    if at < 0:
        at = head.rfind(b">") + 1
    return at


_CODE_NAME = re.compile(rb'<sheetPr\b[^>]*?\bcodeName="([^"]*)"')
_TAB_SELECTED = re.compile(rb'\s+tabSelected="(?:1|true)"')


# --- styles -----------------------------------------------------------------------------

# Style lists in schema order with the element each holds.
_LISTS = (
    ("numFmts", "numFmt"),
    ("fonts", "font"),
    ("fills", "fill"),
    ("borders", "border"),
    ("cellXfs", "xf"),
    ("dxfs", "dxf"),
)
_DEFAULT_ATTRS = {("pivotButton", "0"), ("quotePrefix", "0")}
_BOOLEAN_ELEMENTS = {"b", "i", "strike", "outline", "shadow", "condense", "extend"}


def _list_span(styles: str, container: str) -> tuple[int, int, str] | None:
    """(start, end, inner text) of a style list, or None when the sheet lacks it."""
    match = re.search(rf"<{container}\b[^>]*?(?:/>|>(.*?)</{container}>)", styles, re.S)
    if match is None:
        return None
    return match.start(), match.end(), match.group(1) or ""


def _items(inner: str, element: str) -> list[str]:
    return re.findall(rf"<{element}\b[^>]*/>|<{element}\b[^>]*>.*?</{element}>", inner, re.S)


def _canonical(fragment: str) -> Any:
    """A style element's meaning, so formats written by Excel and by openpyxl compare
    equal (attribute order, default flags and `val="1"` on bold aside)."""
    try:
        element = ElementTree.fromstring(f'<w xmlns="{NS_MAIN}">{fragment}</w>')[0]
    except ElementTree.ParseError:
        return fragment
    return _canonical_element(element)


def _canonical_element(element: Any) -> tuple:
    tag = element.tag.rsplit("}", 1)[-1]
    attrs = {(k, v) for k, v in element.attrib.items() if (k, v) not in _DEFAULT_ATTRS}
    if tag in _BOOLEAN_ELEMENTS:
        attrs -= {("val", "1"), ("val", "true")}
    if tag == "xf":  # apply* flags matter for cell styles, not for how a cell looks
        attrs = {(k, v) for k, v in attrs if not k.startswith("apply")}
    children = tuple(sorted(_canonical_element(child) for child in element))
    return (tag, tuple(sorted(attrs)), (element.text or "").strip(), children)


_XF_REF = re.compile(r'\b(numFmtId|fontId|fillId|borderId|xfId)="(\d+)"')


@dataclass
class _StyleMerge:
    """The package's style sheet with the scratch workbook's formats added to it."""

    styles: str
    maps: dict[str, dict[int, int]] = field(default_factory=dict)

    def merge(self, scratch: str) -> str:
        text = self.styles
        if re.search(r"<\w+:styleSheet\b", text):
            raise NotSpliceable("a prefixed style sheet")
        for container, element in _LISTS:
            source = _list_span(scratch, container)
            items = _items(source[2], element) if source else []
            if container == "numFmts":
                text = self._merge_formats(text, items)
                continue
            if container == "cellXfs":
                items = [self._remap_xf(item) for item in items]
            text, self.maps[element] = _merge_list(text, container, element, items)
        return text

    def _merge_formats(self, text: str, items: list[str]) -> str:
        """Custom number formats are matched by their code; a new code gets a free id."""
        span = _list_span(text, "numFmts")
        present = _items(span[2], "numFmt") if span else []
        by_code = {}
        for item in present:
            attrs = _attrs(item)
            by_code[attrs.get("formatCode")] = int(attrs.get("numFmtId", "0"))
        free = max([163, *by_code.values()]) + 1
        mapping: dict[int, int] = {}
        added = []
        for item in items:
            attrs = _attrs(item)
            code, old = attrs.get("formatCode"), int(attrs.get("numFmtId", "0"))
            if code not in by_code:
                by_code[code] = free
                added.append(f'<numFmt numFmtId="{free}" formatCode="{xml_attr(code or "")}"/>')
                free += 1
            mapping[old] = by_code[code]
        self.maps["numFmt"] = mapping
        if not added:
            return text
        if span is None:
            at = re.search(r"<styleSheet\b[^>]*>", text)
            if at is None:
                raise NotSpliceable("no styleSheet element")
            block = f'<numFmts count="{len(added)}">{"".join(added)}</numFmts>'
            return text[: at.end()] + block + text[at.end() :]
        start, end, inner = span
        block = f'<numFmts count="{len(present) + len(added)}">{inner}{"".join(added)}</numFmts>'
        return text[:start] + block + text[end:]

    def _remap_xf(self, item: str) -> str:
        # A style sheet without cell styles has no entry 0 to point at (xfId is optional).
        styles = _list_span(self.styles, "cellStyleXfs")
        has_normal = styles is not None and bool(_items(styles[2], "xf"))

        def swap(match: re.Match[str]) -> str:
            name, value = match.group(1), int(match.group(2))
            if name == "xfId":  # the scratch workbook has only the Normal style
                return 'xfId="0"' if has_normal else ""
            if name == "numFmtId":
                value = self.maps["numFmt"].get(value, value)
            else:
                value = self.maps[name.removesuffix("Id")][value]
            return f'{name}="{value}"'

        return _XF_REF.sub(swap, item)


def _merge_list(
    text: str, container: str, element: str, items: list[str]
) -> tuple[str, dict[int, int]]:
    span = _list_span(text, container)
    present = _items(span[2], element) if span else []
    index = {}
    for i, item in enumerate(present):
        index.setdefault(_canonical(item), i)
    mapping: dict[int, int] = {}
    added: list[str] = []
    for i, item in enumerate(items):
        key = _canonical(item)
        if key not in index:
            index[key] = len(present) + len(added)
            added.append(item)
        mapping[i] = index[key]
    if not added:
        return text, mapping
    if span is None:
        if container != "dxfs":
            raise NotSpliceable(f"the style sheet has no {container}")
        after = max(text.find("</cellStyles>"), text.find("</cellXfs>"))
        if after < 0:
            raise NotSpliceable("no cellXfs")
        at = text.index(">", after) + 1
        return text[:at] + f'<dxfs count="{len(added)}">{"".join(added)}</dxfs>' + text[
            at:
        ], mapping
    start, end, inner = span
    opening = re.match(rf"<{container}\b[^>]*?(?=/?>)", text[start:end]).group(0)  # type: ignore[union-attr]
    opening = re.sub(r'\scount="\d+"', "", opening) + f' count="{len(present) + len(added)}"'
    return text[:start] + f"{opening}>{inner}{''.join(added)}</{container}>" + text[end:], mapping


# --- shared strings ---------------------------------------------------------------------

_SI = re.compile(r"<si>(.*?)</si>|<si/>", re.S)
_PLAIN_SI = re.compile(r'^<t(?: xml:space="preserve")?>([^<]*)</t>$')


@dataclass
class _Strings:
    """The package's shared-string table, with the engine sheets' text added to it."""

    text: str | None
    added: list[str] = field(default_factory=list)
    size: int = 0
    references: int = 0
    # The items the sheets that stay refer to (release): only those are looked up for
    # reuse and kept; every other item may take new text, so repeated runs do not grow
    # the table, and memory follows what the sheets use, not the table's size (a user's
    # table of 3 million strings). None: not known, every item kept and looked up.
    kept: set[int] | None = None
    reused: dict[int, str] = field(default_factory=dict)
    _index: dict[str, int] | None = None
    _next_free: int = 0

    def __post_init__(self) -> None:
        if self.text is None:
            return
        if re.search(r"<\w+:sst\b", self.text):
            raise NotSpliceable("a prefixed shared-string table")
        self.size = sum(1 for _ in _SI.finditer(self.text))
        count = re.search(r'<sst\b[^>]*?\bcount="(\d+)"', self.text)
        self.references = int(count.group(1)) if count else 0

    def release(self, kept: set[int]) -> None:
        """Every item outside `kept` (the items the sheets that stay refer to) may take
        new text."""
        self.kept = set(kept)

    def _lookup(self) -> dict[str, int]:
        """Plain text → item, for the items kept (all of them, before release)."""
        if self._index is None:
            self._index = {}
            if self.text is not None:
                for i, match in enumerate(_SI.finditer(self.text)):
                    if self.kept is not None and i not in self.kept:
                        continue
                    plain = _PLAIN_SI.match(match.group(1) or "")
                    if plain is not None:
                        self._index.setdefault(plain.group(1), i)
        return self._index

    def _take(self) -> int | None:
        """The lowest item no kept sheet uses and no new text has taken yet."""
        if self.kept is None:
            return None
        while self._next_free < self.size:
            slot = self._next_free
            self._next_free += 1
            if slot not in self.kept:
                return slot
        return None

    def add(self, text: str) -> int:
        """One more cell holding `text` (already XML-escaped): its index in the table."""
        index = self._lookup()
        found = index.get(text)
        if found is None:
            found = self._take()
            if found is None:
                found = self.size + len(self.added)
                self.added.append(text)
            else:
                self.reused[found] = text
            index[text] = found
        self.references += 1
        return found

    def share(self, sheet: str) -> str:
        def shared(match: re.Match[str]) -> str:
            index = self.add(match.group(3))
            return f'<c {match.group(1)}t="s"{match.group(2)}><v>{index}</v></c>'

        sheet = _INLINE_CELL.sub(shared, sheet)
        return _EMPTY_INLINE.sub(lambda m: f"<c {m.group(1).rstrip()}{m.group(2)}></c>", sheet)

    def forget(self, sheet: bytes) -> None:
        """A replaced sheet's references leave the table's total count."""
        self.references = max(0, self.references - len(re.findall(rb'\st="s"', sheet)))

    def _compacted(self) -> str:
        """The table with reused items given their new text and unused ones emptied."""
        assert self.text is not None and self.kept is not None
        kept = self.kept
        position = -1

        def item(match: re.Match[str]) -> str:
            nonlocal position
            position += 1
            if position in self.reused:
                return si_items([self.reused[position]])
            return match.group(0) if position in kept else "<si><t/></si>"

        return _SI.sub(item, self.text)

    def xml(self) -> str:
        items = si_items(self.added)
        unique = self.size + len(self.added)
        if self.text is not None and self.kept is not None:
            self.text = self._compacted()
        if self.text is None:
            return (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<sst xmlns="{NS_MAIN}" count="{self.references}" uniqueCount="{unique}">'
                f"{items}</sst>"
            )
        text = self.text
        opening = re.search(r"<sst\b[^>]*?(/?)>", text)
        if opening is None:
            raise NotSpliceable("no sst element")
        tag = re.sub(
            r'\s(?:count|uniqueCount)="\d+"', "", opening.group(0)[: -len(opening.group(1)) - 1]
        )
        tag += f' count="{self.references}" uniqueCount="{unique}">'
        if opening.group(1):  # <sst .../> : an empty table
            return text[: opening.start()] + tag + items + "</sst>" + text[opening.end() :]
        close = text.rindex("</sst>")
        return text[: opening.start()] + tag + text[opening.end() : close] + items + text[close:]


# --- the splice -------------------------------------------------------------------------


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
    # numbering is known (_plan); a sheet whose hook reads or styles its cells (charts,
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


def _free_name(wanted: str, taken: set[str]) -> str:
    """A part name no part has, compared without case (`taken` holds lowercased names):
    OPC part names are case-insensitive, and a new sheet1.xml beside a Sheet1.xml is a
    package Excel cannot open."""
    folder, name = posixpath.split(wanted)
    stem, ext = posixpath.splitext(name)
    stem = stem.rstrip("0123456789")
    number = 1
    while (candidate := posixpath.join(folder, f"{stem}{number}{ext}")).lower() in taken:
        number += 1
    taken.add(candidate.lower())
    return candidate


_OVERRIDE = re.compile(r'<Override\b[^>]*?PartName="([^"]*)"[^>]*?/>')
_DEFAULT = re.compile(r'<Default\b[^>]*?Extension="([^"]*)"[^>]*?/>')


def _content_type(types: str, part: str) -> str | None:
    for match in _OVERRIDE.finditer(types):
        if match.group(1).lstrip("/").lower() == part.lower():
            return _attrs(match.group(0)).get("ContentType")
    return None


@dataclass
class _Plan:
    """What the new package holds: edited small parts, parts gone, heads to patch."""

    edited: dict[str, bytes] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    heads: dict[str, Callable[[bytes], bytes]] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)
    # What the user should know of the save (a ribbon of their own kept, say).
    notes: list[str] = field(default_factory=list)


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


def _plan(
    archive: zipfile.ZipFile,
    outputs: Sequence[Any],
    *,
    macro_enabled: bool,
    ribbon: list[tuple[str, str, str]],
    doors: bool = False,
) -> _Plan:
    names = archive.namelist()
    for needed in (
        "[Content_Types].xml",
        "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels",
        "xl/styles.xml",
    ):
        if needed not in names:
            raise NotSpliceable(f"no {needed}")
    plan = _Plan()
    types = _text(archive, "[Content_Types].xml")
    workbook = _text(archive, "xl/workbook.xml")
    workbook_rels = _text(archive, "xl/_rels/workbook.xml.rels")
    rels = _relationships(workbook_rels, "xl/workbook.xml")
    sheets = _workbook_sheets(workbook, rels)
    heads = {sheet.part: _head(archive, sheet.part) for sheet in sheets if sheet.part in names}
    outputs = _engine_titles(archive, workbook, sheets, outputs)

    # Which engine sheets replace a sheet, which are new, and where each goes.
    by_name = {sheet.name.lower(): sheet for sheet in sheets}
    shown = next((o.spec.name for o in outputs if o.show), None)
    replaced: dict[str, _Sheet] = {}
    for output in outputs:
        old = by_name.get(output.spec.name.lower())
        if old is None:
            continue
        if old.rel_type != REL_WORKSHEET or old.part not in names:
            raise NotSpliceable(f"{old.name} is not a worksheet")
        replaced[output.spec.name] = old
    old_order = list(sheets)
    order: list[_Sheet | Any] = list(sheets)
    for output in outputs:
        if output.spec.name not in replaced:
            order.insert(0, output) if output.first else order.append(output)

    # Code names: every sheet keeps its own; a sheet without one (a new engine sheet, a
    # user's sheet written by a script) takes a free SheetN, as writer._code_names does.
    project = _project(archive) if macro_enabled and VBA_PART in names else None
    doors = doors and macro_enabled
    fresh_project = doors and VBA_PART not in names
    if fresh_project:
        workbook, project = _new_project(workbook)
    code_of: dict[int, str] = {}
    if project is not None:

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
        for entry in order:
            code = code_in(entry)
            if code is None:
                code = own.get(entry.name) if isinstance(entry, _Sheet) else None
                if code is None:
                    while f"sheet{number}" in taken_codes:
                        number += 1
                    taken_codes.add(f"sheet{number}")
                    code = f"Sheet{number}"
                if isinstance(entry, _Sheet) and entry not in replaced.values():
                    plan.heads[entry.part] = _add_code_name(code)
            code_of[id(entry)] = code
    code_names = {
        o.spec.name: code_of[id(replaced.get(o.spec.name, o))]
        for o in outputs
        if id(replaced.get(o.spec.name, o)) in code_of
    }
    active = _active_tab(workbook)
    if shown is None and 0 <= active < len(old_order):
        was = old_order[active]
        shown = next((n for n, o in replaced.items() if o is was), None)
    rewritten = {o.spec.name.lower() for o in outputs if isinstance(o, _Rewritten)}
    base = None
    if rewritten:
        base = _mini_package(archive, {n for n in rewritten if n in by_name})
    scratch = _scratch(outputs, code_names, shown, base)

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

    # The replaced sheets' own parts (tables, drawings, charts) go with them.
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
    taken = {n.lower() for n in set(names) - plan.removed}

    # Styles.
    merge = _StyleMerge(_text(archive, "xl/styles.xml"))
    plan.edited["xl/styles.xml"] = merge.merge(scratch.members["xl/styles.xml"].decode()).encode()
    xf_map, dxf_map = merge.maps["xf"], merge.maps["dxf"]

    # Table ids are unique across the workbook.
    # Table names too, and they must differ from every workbook-level defined name.
    table_ids = [0]
    names_taken = {
        _attrs(a).get("name", "").lower()
        for a, _ in _defined_names(workbook)
        if "localSheetId" not in _attrs(a)
    }
    for name in names:
        if name.startswith("xl/tables/") and name.endswith(".xml") and name not in plan.removed:
            head = archive.read(name)[:4096]
            found = re.search(rb'<table\b[^>]*?\bid="(\d+)"', head)
            if found:
                table_ids.append(int(found.group(1)))
            display = re.search(rb'<table\b[^>]*?\bdisplayName="([^"]*)"', head)
            if display:
                names_taken.add(unescape(display.group(1).decode("utf-8")).lower())
    next_table = max(table_ids) + 1

    # The engine sheets and their own parts, under free names.
    rel_ids = {r["Id"] for r in rels}
    new_entries: dict[str, str] = {}  # title -> <sheet> element
    new_rels: list[tuple[str, str, str]] = []
    sheet_ids = [int(_attrs(s.xml).get("sheetId", "0")) for s in sheets]
    next_sheet_id = max([0, *sheet_ids]) + 1
    for output in outputs:
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
            types = _add_override(types, part, _content_type(scratch.content_types, scratch_part))
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
                types = _add_override(types, new, kind)
            else:
                types = _add_default(types, scratch.content_types, child)
        for child in [scratch_part, *renamed]:
            rels_name = _rels_name(child)
            if rels_name not in scratch.members:
                continue
            target = _rels_name(part if child == scratch_part else renamed[child])
            plan.edited[target] = _retarget(scratch.members[rels_name].decode(), child, renamed)
            if target not in names or target in plan.removed:
                plan.added.append(target)
            plan.removed.discard(target)
    for part in plan.removed - set(plan.added):
        types = _drop_override(types, part)

    # workbook.xml: sheet list, defined names, active tab, calculation on open.
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
    plan.edited["xl/workbook.xml"] = workbook.encode("utf-8")
    if shown is not None:
        for sheet in sheets:
            if sheet not in replaced.values() and _TAB_SELECTED.search(heads.get(sheet.part, b"")):
                plan.heads[sheet.part] = _chain(plan.heads.get(sheet.part), _unselect)

    # Relationships, shared strings, the calculation chain, the VBA project.
    if CALC_CHAIN in names:  # Excel rebuilds it; a stale one points at replaced cells
        plan.removed.add(CALC_CHAIN)
        types = _drop_override(types, CALC_CHAIN)
        workbook_rels = _drop_relationships(workbook_rels, REL_CALC_CHAIN)
    workbook_rels_bytes = _add_relationships(workbook_rels.encode(), new_rels)
    plan.edited["xl/_rels/workbook.xml.rels"] = workbook_rels_bytes
    plan.edited["[Content_Types].xml"] = types.encode("utf-8")
    if strings.added or strings_text is not None:
        if strings_text is None:
            from .package import _add_workbook_part

            _add_workbook_part(
                plan.edited, SST_PART, strings.xml().encode(), "rIdSst", REL_SST, CT_SST
            )
            plan.added.append(SST_PART)
        else:
            plan.edited[SST_PART] = strings.xml().encode("utf-8")
    if doors:
        ribbon = _install_ribbon(plan, names, ribbon)
    if ribbon and "_rels/.rels" in names:
        plan.edited["_rels/.rels"] = _add_relationships(archive.read("_rels/.rels"), ribbon)
    if project is not None:
        charts = {code_of[id(e)] for e in order if _is_chart(e)}
        extra = _door_modules() if doors else ()
        try:
            edited = project.with_sheet_modules([code_of[id(e)] for e in order], extra, charts)
        except (ValueError, OSError):  # ProjectNotEditable too: left as it was
            edited = project.original
            if doors:
                plan.notes.append(
                    "the workbook's VBA project holds forms or a layout xl-rebalancer does "
                    "not edit, so the rebalancer's macros were not added to it"
                )
        if edited != project.original or fresh_project:
            plan.edited[VBA_PART] = edited
        if fresh_project:
            plan.added.append(VBA_PART)
            plan.edited["xl/_rels/workbook.xml.rels"] = _add_relationships(
                plan.edited["xl/_rels/workbook.xml.rels"],
                [("rIdVBA", REL_VBA, "vbaProject.bin")],
            )
    plan.edited["[Content_Types].xml"] = _fix_content_types(
        plan.edited["[Content_Types].xml"],
        set(names) - plan.removed | set(plan.added),
        macro_enabled,
    )
    if "docProps/app.xml" in names:
        plan.edited["docProps/app.xml"] = _drop_titles(_text(archive, "docProps/app.xml")).encode()
    if "docProps/core.xml" in names:
        plan.edited["docProps/core.xml"] = _touch_core(_text(archive, "docProps/core.xml")).encode()
    return plan


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


def _free_table_name(data: bytes, taken: set[str]) -> bytes:
    """An engine table named like a table or a defined name of the user's (Excel wants
    each unique in the workbook) takes the next free `name_2`; the engine finds its
    sheets by title first, so it still finds this one."""
    found = re.search(rb'<table\b[^>]*?\bdisplayName="([^"]*)"', data)
    if found is None:
        return data
    name = found.group(1).decode("utf-8")
    wanted, number = name, 2
    while wanted.lower() in taken:
        wanted = f"{name}_{number}"
        number += 1
    taken.add(wanted.lower())
    if wanted == name:
        return data
    for attr in (b"name", b"displayName"):
        data = re.sub(
            rb"(<table\b[^>]*?\b" + attr + rb'=")[^"]*"',
            rb"\g<1>" + wanted.encode() + b'"',
            data,
            count=1,
        )
    return data


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


# Sheets kept beside the replaced ones are read for the strings they use only up to this
# size in all: past it the table keeps every item (it grows by the new text of a run).
_STRING_SCAN_LIMIT = 64 << 20
_SHARED_CELL = re.compile(rb'<c\b[^>]*?\bt="s"[^>]*>(?:(?!</c>).)*?<v>(\d+)</v>', re.S)


def _kept_strings(archive: zipfile.ZipFile, parts: list[str]) -> set[int] | None:
    """The shared-string items the sheets that stay refer to, or None when they are too
    large to read on every save."""
    infos = [archive.getinfo(p) for p in parts if p in archive.NameToInfo]
    if sum(i.file_size for i in infos) > _STRING_SCAN_LIMIT:
        return None
    kept: set[int] = set()
    for info in infos:
        data = archive.read(info)
        if b't="s"' in data:
            kept.update(int(m) for m in _SHARED_CELL.findall(data))
    return kept


def _closure(part: str, all_rels: dict[str, list[dict[str, str]]]) -> set[str]:
    """A part and every part it reaches through internal relationships."""
    seen = {part}
    todo = [part]
    while todo:
        current = todo.pop()
        for rel in all_rels.get(_rels_name(current), []):
            target = rel.get("part")
            if target and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _scratch_rels(scratch: _Scratch) -> dict[str, list[dict[str, str]]]:
    return {
        name: _relationships(data.decode("utf-8"), _owner_of(name))
        for name, data in scratch.members.items()
        if name.endswith(".rels") and name != "_rels/.rels"
    }


def _retarget(rels: str, owner: str, renamed: dict[str, str]) -> bytes:
    folder = posixpath.dirname(owner)

    def swap(match: re.Match[str]) -> str:
        xml = match.group(0)
        attrs = _attrs(xml)
        if attrs.get("TargetMode") == "External":
            return xml
        target = _absolute(folder, attrs.get("Target", ""))
        new = renamed.get(target, target)
        return re.sub(r'Target="[^"]*"', f'Target="/{new}"', xml)

    return _RELATIONSHIP.sub(swap, rels).encode("utf-8")


_STYLE_ATTR = re.compile(r'(<(?:c|row)\b[^>]*?\bs=")(\d+)(")')
_COL_STYLE = re.compile(r'(<col\b[^>]*?\bstyle=")(\d+)(")')
_DXF_ATTR = re.compile(r'(\b\w*[dD]xfId=")(\d+)(")')


def _restyle(sheet: str, xfs: dict[int, int], dxfs: dict[int, int]) -> str:
    sheet = _STYLE_ATTR.sub(lambda m: f"{m.group(1)}{xfs[int(m.group(2))]}{m.group(3)}", sheet)
    sheet = _COL_STYLE.sub(lambda m: f"{m.group(1)}{xfs[int(m.group(2))]}{m.group(3)}", sheet)
    return _DXF_ATTR.sub(lambda m: f"{m.group(1)}{dxfs[int(m.group(2))]}{m.group(3)}", sheet)


def _remap_dxf_attrs(data: bytes, dxfs: dict[int, int]) -> bytes:
    text = data.decode("utf-8")
    return _DXF_ATTR.sub(
        lambda m: f"{m.group(1)}{dxfs[int(m.group(2))]}{m.group(3)}", text
    ).encode()


def _free_id(used: set[str]) -> str:
    number = len(used) + 1
    while f"rId{number}" in used:
        number += 1
    used.add(f"rId{number}")
    return f"rId{number}"


def _add_override(types: str, part: str, kind: str | None) -> str:
    if kind is None or _content_type(types, part) is not None:
        return types
    at = types.rindex("</Types>")
    return types[:at] + f'<Override PartName="/{part}" ContentType="{kind}"/>' + types[at:]


def _add_default(types: str, scratch_types: str, part: str) -> str:
    ext = posixpath.splitext(part)[1].lstrip(".").lower()
    present = {m.group(1).lower() for m in _DEFAULT.finditer(types)}
    if ext in present:
        return types
    for match in _DEFAULT.finditer(scratch_types):
        if match.group(1).lower() == ext:
            at = types.index("<Override") if "<Override" in types else types.rindex("</Types>")
            return types[:at] + match.group(0) + types[at:]
    raise NotSpliceable(f"no content type for {part}")


def _drop_override(types: str, part: str) -> str:
    return _OVERRIDE.sub(
        lambda m: "" if m.group(1).lstrip("/").lower() == part.lower() else m.group(0), types
    )


def _drop_relationships(rels: str, rel_type: str) -> str:
    return _RELATIONSHIP.sub(
        lambda m: "" if f'Type="{rel_type}"' in m.group(0) else m.group(0), rels
    )


_DEFINED_NAMES = re.compile(r"<definedNames\s*>(.*?)</definedNames>|<definedNames\s*/>", re.S)
_DEFINED_NAME = re.compile(r"<definedName\b([^>]*?)(?:/>|>(.*?)</definedName>)", re.S)


def _defined_names(workbook: str) -> list[tuple[str, str]]:
    block = _DEFINED_NAMES.search(workbook)
    if block is None:
        return []
    return [(m.group(1), m.group(2) or "") for m in _DEFINED_NAME.finditer(block.group(1) or "")]


def _rewrite_defined_names(
    workbook: str, old_to_new: dict[int, int], replaced: dict[int, set[str]], added: list[str]
) -> str:
    """Names scoped to a sheet follow it to its new position; a replaced sheet's built-in
    names (its print area and titles) and those the new sheet defines give way to the
    new sheet's, and the names a user gave it stay."""
    kept = []
    for attrs_text, body in _defined_names(workbook):
        attrs = _attrs(attrs_text)
        local = attrs.get("localSheetId")
        if local is not None:
            name = attrs.get("name", "").lower()
            if int(local) in replaced and (
                name.startswith("_xlnm.") or name in replaced[int(local)]
            ):
                continue
            new = old_to_new.get(int(local), int(local))
            attrs_text = re.sub(r'localSheetId="\d+"', f'localSheetId="{new}"', attrs_text)
        kept.append(f"<definedName{attrs_text}>{body}</definedName>")
    names = kept + added
    block = f"<definedNames>{''.join(names)}</definedNames>" if names else ""
    found = _DEFINED_NAMES.search(workbook)
    if found is not None:
        return workbook[: found.start()] + block + workbook[found.end() :]
    if not block:
        return workbook
    # Schema order: sheets, functionGroups, externalReferences, definedNames, calcPr, ...
    for closing in ("</externalReferences>", "</functionGroups>", "</sheets>"):
        at = workbook.find(closing)
        if at >= 0:
            at += len(closing)
            return workbook[:at] + block + workbook[at:]
    raise NotSpliceable("no sheets element")


def _active_tab(workbook: str) -> int:
    found = re.search(r'<workbookView\b[^>]*?\bactiveTab="(\d+)"', workbook)
    return int(found.group(1)) if found else 0


def _set_views(workbook: str, shown: int | None, old_to_new: dict[int, int]) -> str:
    def view(match: re.Match[str]) -> str:
        tag = match.group(0)
        first = re.search(r'\bfirstSheet="(\d+)"', tag)
        first_new = old_to_new.get(int(first.group(1)), 0) if first else 0
        if shown is not None:
            first_new = min(first_new, shown)
            if 'activeTab="' in tag:
                tag = re.sub(r'activeTab="\d+"', f'activeTab="{shown}"', tag)
            elif shown:
                tag = tag.replace("<workbookView", f'<workbookView activeTab="{shown}"', 1)
        if first:
            tag = re.sub(r'firstSheet="\d+"', f'firstSheet="{first_new}"', tag)
        return tag

    return re.sub(r"<workbookView\b[^>]*>", view, workbook, count=1)


def _full_calc_on_load(workbook: str) -> str:
    """Formulas on the user's sheets keep Excel's cached results, which may read the
    sheets just replaced: Excel is told to compute everything when it opens the file."""
    found = re.search(r"<calcPr\b[^>]*?/?>", workbook)
    if found is not None:
        tag = found.group(0)
        if "fullCalcOnLoad=" in tag:
            tag = re.sub(r'fullCalcOnLoad="[^"]*"', 'fullCalcOnLoad="1"', tag)
        else:
            tag = tag.replace("<calcPr", '<calcPr fullCalcOnLoad="1"', 1)
        return workbook[: found.start()] + tag + workbook[found.end() :]
    for marker in (
        "<oleSize",
        "<customWorkbookViews",
        "<pivotCaches",
        "<smartTagPr",
        "<smartTagTypes",
        "<webPublishing",
        "<fileRecoveryPr",
        "<webPublishObjects",
        "<extLst",
        "</workbook>",
    ):
        at = workbook.find(marker)
        if at >= 0:
            return workbook[:at] + '<calcPr fullCalcOnLoad="1"/>' + workbook[at:]
    raise NotSpliceable("no closing workbook tag")


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


def _unselect(head: bytes) -> bytes:
    return _TAB_SELECTED.sub(b"", head)


def _chain(
    first: Callable[[bytes], bytes] | None, second: Callable[[bytes], bytes]
) -> Callable[[bytes], bytes]:
    if first is None:
        return second
    return lambda head: second(first(head))


def _project(archive: zipfile.ZipFile) -> Any:
    """The VBA project, or None when it cannot be edited (forms: left exactly as is)."""
    from ..excel.vbaproject import Project

    try:
        return Project(archive.read(VBA_PART))
    except (ValueError, OSError):
        return None


def _drop_titles(app: str) -> str:
    """docProps/app.xml lists the sheets by title (TitlesOfParts, counted in HeadingPairs):
    a list that no longer matches the workbook is worse than none, and both are optional
    (Excel writes them anew on its next save)."""
    for element in ("HeadingPairs", "TitlesOfParts"):
        app = re.sub(rf"<{element}\b[^>]*?(?:/>|>.*?</{element}>)", "", app, flags=re.S)
    return app


def _touch_core(core: str) -> str:
    now = dt.datetime.now(tz=dt.UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"
    return re.sub(
        r"(<dcterms:modified\b[^>]*>)[^<]*(</dcterms:modified>)", rf"\g<1>{now}\g<2>", core
    )


# --- writing ----------------------------------------------------------------------------


def _write(archive: zipfile.ZipFile, dest: Path, plan: _Plan) -> None:
    """The new package: edited parts written, every other part streamed across as it was."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as out:
        for info in archive.infolist():
            name = info.filename
            if name in plan.removed:
                continue
            if name in plan.edited:
                out.writestr(_info(name, info), plan.edited[name])
                continue
            patch = plan.heads.get(name)
            if patch is None and _copy_raw(archive, info, out):
                continue
            target = _info(name, info)
            target.file_size = info.file_size
            with archive.open(info) as src, out.open(target, "w") as dst:
                if patch is not None:
                    head = b""
                    while b"<sheetData" not in head and len(head) < _HEAD_LIMIT:
                        chunk = src.read(1 << 16)
                        if not chunk:
                            break
                        head += chunk
                    cut = _head_cut(head)
                    dst.write(patch(head[:cut]))
                    dst.write(head[cut:])
                shutil.copyfileobj(src, dst, _CHUNK)
        present = set(archive.namelist())
        for name in dict.fromkeys(plan.added):
            if name not in present or name in plan.removed:
                out.writestr(_info(name, None), plan.edited[name])


def _copy_raw(source: zipfile.ZipFile, info: zipfile.ZipInfo, out: zipfile.ZipFile) -> bool:
    """Copy a member's compressed bytes as they are: a 400 MB sheet of the user's would
    otherwise be inflated and deflated again (4 s of a 5 s save). This is what zipfile
    itself does for a directory entry (ZipFile.mkdir), on its internal state; where that
    state differs (another Python) or the member is encrypted, False: copy by streaming."""
    if info.flag_bits & 0x1 or not hasattr(out, "start_dir") or out._writing:  # type: ignore[attr-defined]
        return False
    try:
        handle = source.fp
        assert handle is not None
        handle.seek(info.header_offset)
        header = handle.read(zipfile.sizeFileHeader)  # type: ignore[attr-defined]
        if len(header) != zipfile.sizeFileHeader or header[:4] != zipfile.stringFileHeader:  # type: ignore[attr-defined]
            return False
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        handle.seek(info.header_offset + len(header) + name_length + extra_length)
        copy = zipfile.ZipInfo(info.filename, date_time=info.date_time)
        copy.compress_type = info.compress_type
        copy.external_attr = info.external_attr
        copy.create_system = info.create_system
        copy.CRC, copy.compress_size, copy.file_size = (
            info.CRC,
            info.compress_size,
            info.file_size,
        )
        copy.flag_bits = info.flag_bits & ~0x08  # sizes are in the header: no descriptor
        with out._lock:  # type: ignore[attr-defined]
            out.fp.seek(out.start_dir)  # type: ignore[attr-defined,union-attr]
            copy.header_offset = out.fp.tell()  # type: ignore[union-attr]
            out._writecheck(copy)  # type: ignore[attr-defined]
            out._didModify = True  # type: ignore[attr-defined]
            out.fp.write(copy.FileHeader())  # type: ignore[union-attr]
            left = info.compress_size
            while left > 0:
                chunk = handle.read(min(_CHUNK, left))
                if not chunk:
                    raise zipfile.BadZipFile(f"{info.filename} is cut short")
                out.fp.write(chunk)  # type: ignore[union-attr]
                left -= len(chunk)
            out.filelist.append(copy)
            out.NameToInfo[copy.filename] = copy
            out.start_dir = out.fp.tell()  # type: ignore[attr-defined,union-attr]
    except AttributeError:
        return False
    return True


def _info(name: str, like: zipfile.ZipInfo | None) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=like.date_time if like is not None else _now())
    info.compress_type = like.compress_type if like is not None else zipfile.ZIP_DEFLATED
    info.external_attr = like.external_attr if like is not None else 0o600 << 16
    return info
