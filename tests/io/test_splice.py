"""Saving a run rewrites only the engine's parts of the package (workbook/splice.py): the
user's sheets, pictures, pivot tables, connections and custom XML leave byte for byte,
and the engine's sheets come out as the full openpyxl rewrite would write them."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.io.package_parts import add_number_sheet, add_user_parts
from tests.libreoffice import convert, needs_libreoffice
from xl_rebalancer.workbook import schema as s
from xl_rebalancer.workbook.package import _sheet_parts
from xl_rebalancer.workbook.splice import splice_save
from xl_rebalancer.workbook.splice_parts import NotSpliceable
from xl_rebalancer.workbook.splice_styles import _canonical

ENGINE = {sheet.name for sheet in s.OUTPUT_SHEETS}
# Package-wide parts a run must edit: the sheet list, relationships and content types of
# the new parts, formats and text of the engine's cells, the modified date, the sheets'
# VBA document modules.
WORKBOOK_PARTS = {
    "xl/workbook.xml",
    "xl/_rels/workbook.xml.rels",
    "[Content_Types].xml",
    "xl/styles.xml",
    "xl/sharedStrings.xml",
    "docProps/core.xml",
    "xl/vbaProject.bin",
}


def run(*args: str, full: bool = False) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if full:
        env["XL_REBALANCER_FULL_SAVE"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "xl_rebalancer", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


def parts(book: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(book) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


def engine_parts(book: Path) -> set[str]:
    """The engine sheets' parts with everything they relate to (tables, drawings, charts)."""
    with zipfile.ZipFile(book) as archive:
        names = set(archive.namelist())
        owned: set[str] = set()
        for title, part in _sheet_parts(archive).items():
            if title not in ENGINE:
                continue
            todo = [part]
            while todo:
                current = todo.pop()
                owned.add(current)
                folder, name = current.rsplit("/", 1)
                rels = f"{folder}/_rels/{name}.rels"
                if rels not in names:
                    continue
                owned.add(rels)
                for target in re.findall(rb'Target="([^"]+)"', archive.read(rels)):
                    text = target.decode()
                    absolute = (
                        text.lstrip("/")
                        if text.startswith("/")
                        else os.path.normpath(f"{folder}/{text}")
                    )
                    if absolute not in owned:
                        todo.append(absolute)
    return owned


def test_parts_the_engine_does_not_own_leave_byte_for_byte(household: tuple[Path, Path]):
    book, prices = household
    added = add_user_parts(book)
    before = parts(book)
    owned_before = engine_parts(book)

    done = run("rebalance", str(book), "--prices", str(prices))
    assert done.returncode == 0, done.stderr
    after = parts(book)
    owned_after = engine_parts(book)
    kept = set(before) - owned_before - WORKBOOK_PARTS
    assert set(added) <= kept
    changed = sorted(p for p in kept if after.get(p) != before[p])
    assert not changed, changed
    # Only the engine's parts and the package-wide ones were written.
    assert set(after) - set(before) <= owned_after | WORKBOOK_PARTS
    # The workbook still points at the pivot cache, the connection and the custom XML.
    workbook = after["xl/workbook.xml"].decode()
    assert '<pivotCache xmlns:r="' in workbook and 'name="Notes"' in workbook
    assert b"connections.xml" in after["xl/_rels/workbook.xml.rels"]
    assert b"customXml/item1.xml" in after["_rels/.rels"]
    types = after["[Content_Types].xml"].decode()
    for part in ("xl/connections.xml", "xl/pivotTables/pivotTable1.xml"):
        assert f'PartName="/{part}"' in types
    # Excel computes on open what may read the replaced sheets; its old calc chain is gone.
    assert 'fullCalcOnLoad="1"' in workbook
    wb = load_workbook(book, keep_vba=True)
    assert wb.sheetnames[0] == "Report" and wb.active.title == "Report"
    assert wb["Notes"]["B3"].value == 20
    assert run("validate", str(book)).returncode == 0


@needs_libreoffice
@pytest.mark.libreoffice
def test_libreoffice_opens_a_spliced_workbook_with_picture_and_pivot(
    household: tuple[Path, Path], tmp_path: Path
):
    book, prices = household
    add_user_parts(book)
    assert run("rebalance", str(book), "--prices", str(prices)).returncode == 0
    converted = convert(book, "xlsx", tmp_path / "lo-out", tmp_path / "lo")
    wb = load_workbook(converted)
    assert {"Notes", "Trades", "Report"} <= set(wb.sheetnames)
    assert wb["Notes"]["A3"].value == "Bob"


def _dump(book: Path) -> dict[str, Any]:
    """What a user sees of each sheet: values, formats, widths, print setup, tables,
    charts, code names; run times and the journal's hashes set aside."""
    wb = load_workbook(book, keep_vba=True)
    out: dict[str, Any] = {"order": wb.sheetnames, "active": wb.active.title}
    for ws in wb.worksheets:
        cells = {}
        for row in ws.iter_rows():
            label = row[0].value if row else None
            for c in row:
                if c.value is None and not c.has_style:
                    continue
                value = c.value
                if isinstance(value, dt.datetime) or ws.title == "Log":
                    value = "(time or hash)"
                elif (
                    ws.title == "Summary"
                    and isinstance(label, str)
                    and ("second" in label.lower() or "run at" in label.lower())
                ):
                    value = "(run time)"
                elif hasattr(value, "text"):  # an array formula
                    value = (type(value).__name__, value.text, value.ref)
                cells[c.coordinate] = (
                    value,
                    c.number_format,
                    c.font.b,
                    c.font.i,
                    c.font.sz,
                    c.font.name,
                    c.font.color.rgb if c.font.color is not None else None,
                    c.fill.fgColor.rgb,
                    c.alignment.wrap_text,
                    c.alignment.vertical,
                    c.border.bottom.style,
                    c.protection.locked,
                )
        out[ws.title] = {
            "cells": cells,
            "widths": {k: v.width for k, v in ws.column_dimensions.items()},
            "heights": {k: v.height for k, v in ws.row_dimensions.items() if v.height},
            "print": (ws.print_area, ws.print_title_rows, ws.page_setup.orientation),
            "code": ws.sheet_properties.codeName,
            "tables": sorted((t.displayName, t.ref) for t in ws.tables.values()),
            "charts": len(ws._charts),
            "freeze": ws.freeze_panes,
            "validations": len(ws.data_validations.dataValidation),
        }
    return out


def test_the_splice_writes_what_the_full_rewrite_writes(household: tuple[Path, Path]):
    """Two saves of the same run: spliced, and rewritten whole by openpyxl (the path kept
    for commands that edit input sheets). The workbooks must read the same."""
    book, prices = household
    full = book.with_name("full.xlsm")
    shutil.copyfile(book, full)
    for target, whole in ((book, False), (full, True)):
        done = run(
            "rebalance", str(target), "--prices", str(prices), "--as-of", "2026-11-27", full=whole
        )
        assert done.returncode == 0, done.stderr
    spliced, rewritten = _dump(book), _dump(full)
    assert spliced["order"] == rewritten["order"]
    assert spliced["active"] == rewritten["active"] == "Report"
    for title in rewritten["order"]:
        assert spliced[title] == rewritten[title], title


def test_repeated_runs_do_not_grow_the_style_sheet(household: tuple[Path, Path]):
    book, prices = household

    def counts() -> dict[str, int]:
        styles = parts(book)["xl/styles.xml"].decode()
        return {
            kind: len(re.findall(rf"<{kind}\b", styles))
            for kind in ("numFmt", "font", "fill", "border", "xf", "dxf")
        }

    sizes = []
    for _ in range(3):
        assert run("rebalance", str(book), "--prices", str(prices)).returncode == 0
        sizes.append(counts())
    assert sizes[1] == sizes[2]
    assert len(_sheet_parts(zipfile.ZipFile(book))) == len(load_workbook(book).sheetnames)


def test_formats_excel_spells_differently_are_the_same_format():
    """Excel writes `<b/>` and apply flags where openpyxl writes `<b val="1"/>` and
    pivotButton/quotePrefix defaults: reused, not added again after each Excel save."""
    assert _canonical('<font><b/><sz val="11"/><name val="Calibri"/></font>') == _canonical(
        '<font><name val="Calibri"/><b val="1"/><sz val="11"/></font>'
    )
    assert _canonical(
        '<xf numFmtId="4" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    ) == _canonical(
        '<xf numFmtId="4" fontId="0" fillId="0" borderId="0" pivotButton="0" '
        'quotePrefix="0" xfId="0"/>'
    )
    assert _canonical("<font><b/></font>") != _canonical("<font><i/></font>")


def test_a_big_user_sheet_is_streamed_across(household: tuple[Path, Path]):
    book, prices = household
    part = add_number_sheet(book, "History", rows=20_000, cols=20)
    with zipfile.ZipFile(book) as archive:
        before = archive.getinfo(part)
    done = run("rebalance", str(book), "--prices", str(prices))
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(book) as archive:
        after = archive.getinfo(part)
    assert (after.CRC, after.file_size) == (before.CRC, before.file_size)
    wb = load_workbook(book, read_only=True)
    assert wb["History"]["T20000"].value == pytest.approx(20_000 * 0.25 + 19)


def _prefixed_styles(book: Path) -> None:
    """The style sheet with an `x:` prefix on every element, as some generators write it."""
    members = parts(book)
    text = members["xl/styles.xml"].decode()
    head, _, body = text.partition("<styleSheet")
    body = "<styleSheet" + body
    body = re.sub(r"<(/?)([A-Za-z]\w*)\b", r"<\1x:\2", body)
    body = body.replace('xmlns="', 'xmlns:x="', 1)
    members["xl/styles.xml"] = (head + body).encode()
    tmp = book.with_name("tmp.zip")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in members.items():
            out.writestr(name, data)
    tmp.replace(book)


def test_a_package_it_cannot_splice_is_rewritten_whole(household: tuple[Path, Path]):
    from xl_rebalancer.workbook.outputs import log_sheet

    book, prices = household
    _prefixed_styles(book)
    with pytest.raises(NotSpliceable):
        splice_save(book, book.with_name("x.xlsm"), [log_sheet([])], macro_enabled=True, ribbon=[])
    done = run("rebalance", str(book), "--prices", str(prices))
    assert done.returncode == 0, done.stderr
    wb = load_workbook(book, keep_vba=True)
    assert wb["Trades"].max_row > 1 and wb.sheetnames[0] == "Report"
