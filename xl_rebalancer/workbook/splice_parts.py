"""The package's small parts read and edited as text, for the splice (workbook/splice.py):
relationships, content types, workbook.xml's sheet list, defined names and views, the
heads of sheet parts, docProps.

Text, not a parsed tree, because Excel's own spelling must survive (a re-serialized
workbook.xml would lose the prefixes its `mc:Ignorable` names); a shape these helpers do
not recognise raises `NotSpliceable`. Kept apart from the splice's plan so that the plan
reads as its steps, and the shared strings, styles and VBA modules share these helpers.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape

from .package import NS_MAIN, NS_PKG_REL

REL_WORKSHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"


REL_CALC_CHAIN = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/calcChain"


REL_CHARTSHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/chartsheet"


CALC_CHAIN = "xl/calcChain.xml"


# How far into a sheet part its sheetPr and sheetViews may lie (before <sheetData>).
_HEAD_LIMIT = 1 << 20


class NotSpliceable(Exception):
    """The package has a shape this module does not edit; rewrite the whole workbook."""


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


_CODE_NAME = re.compile(rb'<sheetPr\b[^>]*?\bcodeName="([^"]*)"')


_TAB_SELECTED = re.compile(rb'\s+tabSelected="(?:1|true)"')


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


def _unselect(head: bytes) -> bytes:
    return _TAB_SELECTED.sub(b"", head)


def _chain(
    first: Callable[[bytes], bytes] | None, second: Callable[[bytes], bytes]
) -> Callable[[bytes], bytes]:
    if first is None:
        return second
    return lambda head: second(first(head))


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
