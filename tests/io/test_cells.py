"""The package reader (workbook/cells.py) against openpyxl's read-only reader, the one it
replaces: the same values, row shapes and blanks for cells as Excel, LibreOffice and
other writers lay them out (ECMA-376 Part 1, 18.3.1.4 c, 18.4.8 si, 18.8.30 numFmt,
18.17.4 dates; the 1904 calendar of 18.2.28 workbookPr), then the real workbooks the
project writes and reads."""

from __future__ import annotations

import datetime as dt
import warnings
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from xl_rebalancer.errors import WorkbookError
from xl_rebalancer.workbook.cells import (
    Package,
    column_letter,
    column_number,
    is_date_format,
    range_bounds,
    serial_to_datetime,
)

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
ROOT = Path(__file__).resolve().parents[2]

STYLES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="{MAIN}"><numFmts count="5">
<numFmt numFmtId="164" formatCode="dd/mm/yyyy"/>
<numFmt numFmtId="165" formatCode="[h]:mm:ss"/>
<numFmt numFmtId="166" formatCode="&quot;Days &quot;0"/>
<numFmt numFmtId="167" formatCode="[Red]#,##0.00;[Blue]-#,##0.00"/>
<numFmt numFmtId="168" formatCode="[$-409]mmmm d, yyyy"/>
</numFmts><fonts count="1"><font><sz val="11"/></font></fonts>
<fills count="1"><fill><patternFill patternType="none"/></fill></fills>
<borders count="1"><border/></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="8"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>
<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="167" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="20" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="168" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
</cellXfs></styleSheet>"""

# Shared strings: plain, rich runs, a phonetic guide (not part of the text), an edge
# space, an escaped underscore, an empty item.
STRINGS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="{MAIN}" count="7" uniqueCount="7"><si><t>Symbol</t></si>
<si><r><t>Bold</t></r><r><rPr><b/></rPr><t xml:space="preserve"> part</t></r></si>
<si><t>東京</t><rPh sb="0" eb="2"><t>トウキョウ</t></rPh></si>
<si><t xml:space="preserve"> VTI </t></si><si><t>a_x005F_x0041_b</t></si><si><t/></si>
<si><t>Shares</t></si></sst>"""

SHEET = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<x:worksheet xmlns:x="{MAIN}"><x:dimension ref="A1"/><x:sheetData>
<x:row r="1"><x:c r="A1" t="s"><x:v>0</x:v></x:c><x:c r="B1" t="s"><x:v>6</x:v></x:c>
<x:c r="C1" t="inlineStr"><x:is><x:t>Date</x:t></x:is></x:c></x:row>
<x:row r="2"><x:c r="A2" t="s"><x:v>1</x:v></x:c><x:c r="B2"><x:v>12</x:v></x:c>
<x:c r="C2" s="1"><x:v>45292</x:v></x:c><x:c r="D2" s="2"><x:v>45292.75</x:v></x:c>
<x:c r="E2" s="3"><x:v>1.5</x:v></x:c><x:c r="F2" s="4"><x:v>7</x:v></x:c>
<x:c r="G2" s="5"><x:v>-3.25</x:v></x:c><x:c r="H2" s="6"><x:v>0.5</x:v></x:c>
<x:c r="I2" s="7"><x:v>45000</x:v></x:c></x:row>
<x:row r="4"><x:c r="A4" t="s"><x:v>2</x:v></x:c><x:c r="B4" t="b"><x:v>1</x:v></x:c>
<x:c r="C4" t="e"><x:v>#N/A</x:v></x:c><x:c r="D4" t="str"><x:f>A4&amp;"x"</x:f>
<x:v>東京x</x:v></x:c><x:c r="E4"><x:f>1/0</x:f></x:c><x:c r="F4"><x:v>1E-3</x:v></x:c>
<x:c r="G4" t="d"><x:v>2024-03-01</x:v></x:c><x:c r="H4" t="d"><x:v>2024-03-01T10:30:00</x:v>
</x:c></x:row>
<x:row><x:c t="s"><x:v>3</x:v></x:c><x:c t="s"><x:v>4</x:v></x:c><x:c t="s"><x:v>5</x:v></x:c>
<x:c t="inlineStr"><x:is><x:r><x:t>in</x:t></x:r><x:r><x:t>line</x:t></x:r></x:is></x:c>
<x:c><x:v></x:v></x:c></x:row>
<x:row r="6"/>
<x:row r="7"><x:c r="C7" s="1"><x:v>59</x:v></x:c><x:c r="D7" s="1"><x:v>61</x:v></x:c>
<x:c r="F7" s="1"><x:v>3000000</x:v></x:c></x:row>
</x:sheetData></x:worksheet>"""


def package(path: Path, *, date1904: bool = False, sheet: str = SHEET, title: str = "Lots") -> Path:
    """A workbook written as Excel lays it out (prefixed names as some writers use)."""
    pr = '<workbookPr date1904="1"/>' if date1904 else "<workbookPr/>"
    members = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
            'openxmlformats.org/package/2006/content-types"><Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/><Override '
            'PartName="/xl/book.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/'
            'sheets/lots.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
            'styles+xml"/><Override PartName="/xl/strings.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG}">'
            f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/book.xml"/>'
            "</Relationships>"
        ),
        # The main part and the sheet under names other than Excel's usual ones: found
        # by their relationships, as the packaging rules say.
        "xl/book.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" '
            f'xmlns:r="{REL}">{pr}<sheets><sheet name="{title}" sheetId="1" r:id="rId1"/>'
            "</sheets></workbook>"
        ),
        "xl/_rels/book.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG}">'
            f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="sheets/lots.xml"/>'
            f'<Relationship Id="rId2" Type="{REL}/styles" Target="styles.xml"/>'
            f'<Relationship Id="rId3" Type="{REL}/sharedStrings" Target="/xl/strings.xml"/>'
            "</Relationships>"
        ),
        "xl/sheets/lots.xml": sheet,
        "xl/styles.xml": STYLES,
        "xl/strings.xml": STRINGS,
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text.encode("utf-8"))
    return path


def openpyxl_rows(path: Path, title: str, min_row: int, min_col: int, max_col: int | None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = load_workbook(path, read_only=True, data_only=True, keep_links=False)
        try:
            ws = book[title]
            ws.reset_dimensions()
            rows = ws.iter_rows(min_row=min_row, min_col=min_col, max_col=max_col, values_only=True)
            return [tuple(row) for row in rows]
        finally:
            book.close()


def our_rows(path: Path, title: str, min_row: int, min_col: int, max_col: int | None):
    with Package(path) as book:
        return list(book.rows(title, min_row, min_col, max_col))


WINDOWS = [(1, 1, None), (1, 1, 9), (2, 2, 5), (3, 3, 3), (1, 4, None), (7, 1, 12)]


@pytest.mark.parametrize("date1904", [False, True])
def test_every_kind_of_cell_reads_as_openpyxl_reads_it(tmp_path: Path, date1904: bool) -> None:
    book = package(tmp_path / "cells.xlsx", date1904=date1904)
    for window in WINDOWS:
        assert our_rows(book, "Lots", *window) == openpyxl_rows(book, "Lots", *window), window
    # And what that is, spelt out where it matters to the portfolio's columns.
    rows = our_rows(book, "Lots", 1, 1, None)
    epoch = dt.datetime(1904, 1, 1) if date1904 else dt.datetime(1899, 12, 30)
    assert rows[0] == ("Symbol", "Shares", "Date")
    assert rows[1][:4] == (
        "Bold part",
        12,
        epoch + dt.timedelta(days=45292),
        epoch + dt.timedelta(days=45292, hours=18),
    )
    assert rows[1][4] == dt.timedelta(hours=36)  # [h]:mm:ss is a duration
    assert rows[1][5:8] == (7, -3.25, dt.time(12, 0))  # "Days "0 and [Red] are not dates
    assert rows[2] == ()  # row 3 is missing: a blank row keeps the numbering
    assert rows[3][:8] == (
        "東京",  # the phonetic guide is not text
        True,
        "#N/A",
        "東京x",
        None,  # a formula without a saved result reads blank...
        0.001,
        dt.date(2024, 3, 1),
        dt.datetime(2024, 3, 1, 10, 30),
    )
    assert rows[4] == (" VTI ", "a_x0041_b", "", "inline", None)
    assert rows[5] == ()


def test_formulas_without_a_saved_result_are_noted(tmp_path: Path) -> None:
    book = package(tmp_path / "cells.xlsx")
    uncalculated: set[str] = set()
    with Package(book) as opened:
        list(opened.rows("Lots", 1, 1, None, uncalculated))
    assert uncalculated == {"E4"}  # ...and is noted, so the reader can say why


def test_the_1900_calendars_phantom_leap_day(tmp_path: Path) -> None:
    """Excel counts 29 February 1900, which never was (ECMA-376 Part 1, 18.17.4.1):
    serial 59 is 28 February 1900, 61 is 1 March; openpyxl and Python agree on both."""
    rows = our_rows(package(tmp_path / "cells.xlsx"), "Lots", 7, 3, 6)
    assert rows[0] == (dt.datetime(1900, 2, 28), dt.datetime(1900, 3, 1), None, "#VALUE!")


def test_cell_addresses() -> None:
    assert [column_letter(n) for n in (1, 26, 27, 52, 703, 16384)] == [
        "A",
        "Z",
        "AA",
        "AZ",
        "AAA",
        "XFD",
    ]
    assert all(column_number(column_letter(n)) == n for n in range(1, 16385))
    assert range_bounds("B2:D40") == (2, 2, 4, 40)
    assert range_bounds("$A$1") == (1, 1, 1, 1)
    with pytest.raises(ValueError):
        range_bounds("Prices!A1")


def test_date_formats_as_openpyxl_tells_them() -> None:
    from openpyxl.styles.numbers import BUILTIN_FORMATS
    from openpyxl.styles.numbers import is_date_format as theirs

    codes = [*BUILTIN_FORMATS.values(), '"Days "0', "[Red]0.00", "[$-409]d-mmm", "0_m", "\\d0"]
    assert [is_date_format(c) for c in codes] == [theirs(c) for c in codes]
    assert serial_to_datetime(0.25, dt.datetime(1899, 12, 30)) == dt.time(6)


def test_the_projects_own_workbooks_read_the_same(household: tuple[Path, Path]) -> None:
    """The template, and the demo household after a run (its engine sheets spliced in,
    the long ones written as sheet XML by tables.write_table)."""
    from xl_rebalancer.app import run_engine
    from xl_rebalancer.door import RunOptions

    book, prices = household
    run_engine(book, "rebalance", RunOptions(prices_file=prices))
    for source in (ROOT / "workbook_template.xlsm", book):
        with Package(source) as opened:
            titles = opened.titles
        assert {"Holdings", "TaxLots"} <= set(titles)
        assert source != book or {"Trades", "Realized", "Log"} <= set(titles)
        for title in titles:
            ours = our_rows(source, title, 1, 1, None)
            assert ours == openpyxl_rows(source, title, 1, 1, None), (source.name, title)


def test_damaged_packages_are_workbook_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(WorkbookError, match="not a readable Excel workbook"):
        Package(junk)
    broken = package(tmp_path / "broken.xlsx", sheet="<worksheet><sheetData><row>")
    with Package(broken) as opened, pytest.raises(SyntaxError):
        list(opened.rows("Lots"))


def test_a_damaged_sheet_is_named_and_nothing_else_is_said(tmp_path: Path) -> None:
    """A text cell pointing past the shared-string table (a damaged or hand-edited file):
    the run stops with the file and the sheet named, not a traceback."""
    from xl_rebalancer.workbook.rows import read_raw_sheets

    broken = SHEET.replace('<x:c r="A1" t="s"><x:v>0</x:v>', '<x:c r="A1" t="s"><x:v>99</x:v>')
    book = package(tmp_path / "damaged.xlsx", sheet=broken, title="TaxLots")
    with pytest.raises(WorkbookError, match=r"damaged\.xlsx: sheet TaxLots cannot be read"):
        read_raw_sheets(book)
