"""The write gate: a new package is read back before it replaces the user's workbook.

Every Excel-written workbook once came out of our first save with a style sheet that
was not XML, while every test passed: the tests only ever saw our own template. So no
save trusts itself. Before the rename that replaces the user's file (writer's atomic
write), the new package is checked as Excel would meet it:

- every XML part parses;
- every internal relationship points at a part that exists;
- every part has a content type, and no two part names differ only in case (OPC part
  names are case-insensitive: Excel refuses such a package);
- sheet names, defined names (per scope), table names and table ids are unique;
- the input sheets the workbook had still read.

Only what the save added is counted: a defect the user's own file already had is not
ours to refuse over. A part copied across unchanged (same name, size and CRC-32 as in
the source) parsed before and is not parsed again, so the gate costs what the edited
parts cost, whatever the user keeps beside the portfolio.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Collection
from pathlib import Path
from xml.parsers import expat

NS_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
_CHUNK = 1 << 20
_HEAD = 1 << 16


class PackageDamaged(Exception):
    """The new package would not open cleanly; the message says what is wrong."""


def _parse(archive: zipfile.ZipFile, name: str, head_only: bool = False) -> None:
    """Stream one part through expat; refuse a DTD as the reader does. `head_only`: the
    part is the source's with its head patched (a sheet's codeName, its tab selection),
    the rest byte for byte the source's, which parsed there: read up to its cells."""
    parser = expat.ParserCreate()

    def doctype(*_: object) -> None:
        raise PackageDamaged(f"{name} declares a DTD")

    parser.StartDoctypeDeclHandler = doctype
    try:
        with archive.open(name) as stream:
            while chunk := stream.read(_HEAD if head_only else _CHUNK):
                parser.Parse(chunk, False)
                if head_only:
                    return
            parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise PackageDamaged(f"{name} is not well-formed XML ({exc})") from None


def _is_xml(name: str, kind: str | None) -> bool:
    lowered = name.lower()
    if lowered.endswith((".xml", ".rels", ".vml")):
        return True
    return kind is not None and (kind.endswith("+xml") or kind.endswith("/xml"))


def _root(archive: zipfile.ZipFile, name: str) -> object:
    from defusedxml import ElementTree

    return ElementTree.fromstring(archive.read(name))


def _identical(path: Path, other: Path) -> set[str]:
    """Parts the two packages hold with the same name, size and CRC-32."""
    with zipfile.ZipFile(path) as one, zipfile.ZipFile(other) as two:
        before = {i.filename: (i.file_size, i.CRC) for i in two.infolist()}
        return {
            i.filename for i in one.infolist() if before.get(i.filename) == (i.file_size, i.CRC)
        }


def defects(path: Path, same: Collection[str] = (), heads: Collection[str] = ()) -> list[str]:
    """What is wrong with the package at `path`, one sentence each. Parts in `same` (held
    unchanged by the package it is compared with) are not parsed: their verdict is the
    same in both; of parts in `heads` (the same but for a patched head), the head is."""
    from defusedxml import ElementTree

    problems: list[str] = []
    with zipfile.ZipFile(path) as archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        names = [i.filename for i in infos]
        by_lower: dict[str, str] = {}
        for name in names:
            other = by_lower.setdefault(name.lower(), name)
            if other != name:
                problems.append(f"two parts differ only in case: {other} and {name}")
        present = set(by_lower)
        if "[content_types].xml" not in present:
            return [*problems, "no [Content_Types].xml"]
        try:
            _parse(archive, by_lower["[content_types].xml"])
            types = ElementTree.fromstring(archive.read(by_lower["[content_types].xml"]))
        except PackageDamaged as exc:
            return [*problems, str(exc)]
        defaults = {
            d.get("Extension", "").lower(): d.get("ContentType")
            for d in types.iter(f"{{{NS_CT}}}Default")
        }
        overrides = {
            o.get("PartName", "").lstrip("/").lower(): o.get("ContentType")
            for o in types.iter(f"{{{NS_CT}}}Override")
        }
        for name in overrides:
            if name not in present:
                problems.append(f"[Content_Types].xml names a part that is not there: /{name}")
        for name in names:
            if name == "[Content_Types].xml":
                continue
            # By the text after the last dot: `_rels/.rels` has the extension rels
            # (posixpath.splitext takes `.rels` for a hidden file's name).
            extension = posixpath.basename(name).rsplit(".", 1)[-1].lower()
            kind = overrides.get(name.lower()) or defaults.get(extension)
            if kind is None:
                problems.append(f"{name} has no content type")
            if name in same or not _is_xml(name, kind):
                continue
            try:
                _parse(archive, name, head_only=name in heads)
            except PackageDamaged as exc:
                problems.append(str(exc))
        problems += _relationship_defects(archive, names, present)
        problems += _name_defects(archive, present)
    return problems


def _relationship_defects(
    archive: zipfile.ZipFile, names: list[str], present: set[str]
) -> list[str]:
    from .package import NS_PKG_REL

    problems = []
    for name in names:
        if not name.endswith(".rels"):
            continue
        folder = posixpath.dirname(posixpath.dirname(name))
        try:
            root = _root(archive, name)
        except Exception:  # reported as not well-formed already
            continue
        ids: set[str] = set()
        for rel in root.iter(f"{{{NS_PKG_REL}}}Relationship"):  # type: ignore[attr-defined]
            rid = rel.get("Id", "")
            if rid in ids:
                problems.append(f"{name}: relationship id {rid} is used twice")
            ids.add(rid)
            if rel.get("TargetMode") == "External":
                continue
            target = rel.get("Target", "")
            part = (
                target.lstrip("/")
                if target.startswith("/")
                else posixpath.normpath(posixpath.join(folder, target))
            )
            if part.lower() not in present:
                problems.append(f"{name}: {rid} points at {part}, which is not in the package")
    return problems


def _name_defects(archive: zipfile.ZipFile, present: set[str]) -> list[str]:
    """Sheets, defined names and tables: Excel repairs a package with two of one name."""
    from .package import NS_MAIN

    problems: list[str] = []
    if "xl/workbook.xml" not in present:
        return problems
    try:
        workbook = _root(archive, "xl/workbook.xml")
    except Exception:
        return problems
    titles: set[str] = set()
    for sheet in workbook.iter(f"{{{NS_MAIN}}}sheet"):  # type: ignore[attr-defined]
        title = sheet.get("name", "").lower()
        if title in titles:
            problems.append(f"two sheets are named {sheet.get('name')}")
        titles.add(title)
    defined: set[tuple[str, str]] = set()
    for name in workbook.iter(f"{{{NS_MAIN}}}definedName"):  # type: ignore[attr-defined]
        key = (name.get("name", "").lower(), name.get("localSheetId", ""))
        if key in defined:
            problems.append(f"the defined name {name.get('name')} is there twice")
        defined.add(key)
    tables: dict[str, str] = {}
    ids: dict[str, str] = {}
    workbook_names = {name for name, scope in defined if scope == ""}
    for part in sorted(present):
        if not (part.startswith("xl/tables/") and part.endswith(".xml")):
            continue
        try:
            table = _root(archive, part)
        except Exception:
            continue
        display = (table.get("displayName") or table.get("name") or "").lower()  # type: ignore[attr-defined]
        number = table.get("id", "")  # type: ignore[attr-defined]
        if display in tables:
            problems.append(f"two tables are named {display} ({tables[display]} and {part})")
        if number in ids:
            problems.append(f"two tables have the id {number} ({ids[number]} and {part})")
        tables.setdefault(display, part)
        ids.setdefault(number, part)
        if display in workbook_names:  # a table's name must differ from every one
            problems.append(f"the table name {display} is also a defined name")
    return problems


def check_save(new: Path, source: Path | None, heads: Collection[str] = ()) -> None:
    """Raise PackageDamaged when `new` has a defect `source` (the file it replaces, if
    any) did not have. `heads`: parts copied from the source with only their head patched."""
    if source is not None and source.exists():
        same = _identical(new, source)
        found = defects(new, same, heads)
        if found:
            already = set(defects(source, same, heads))
            found = [p for p in found if p not in already]
    else:
        found = defects(new)
    if found:
        more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
        raise PackageDamaged("; ".join(found[:3]) + more)


def check_inputs(new: Path, source: Path) -> None:
    """Every input sheet the source had still reads, with the same rows counted."""
    from ..errors import WorkbookError
    from .rows import read_raw_sheets

    try:
        before = read_raw_sheets(source)
    except WorkbookError:
        return  # the source did not read either: nothing of ours to compare
    try:
        after = read_raw_sheets(new)
    except WorkbookError as exc:
        raise PackageDamaged(f"the input sheets no longer read ({exc})") from None
    lost = [name for name in before if name not in after]
    if lost:
        raise PackageDamaged(f"the sheet(s) {', '.join(lost)} are no longer found")
