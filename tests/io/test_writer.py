"""The writer keeps everything that is not an engine sheet: VBA, ribbon, formulas, names."""

from __future__ import annotations

import gc
import sys
import zipfile
from pathlib import Path

from defusedxml import ElementTree
from openpyxl import load_workbook
from openpyxl.workbook.defined_name import DefinedName

from tests.conftest import TWO_FUNDS, TWO_FUNDS_SETTINGS, sha256
from xl_rebalancer.app import run_engine
from xl_rebalancer.door import RunOptions
from xl_rebalancer.excel.template import build_workbook
from xl_rebalancer.workbook import schema as s
from xl_rebalancer.workbook.cells import Package
from xl_rebalancer.workbook.package import NS_MAIN, REL_UI, REL_VBA
from xl_rebalancer.workbook.writer import SheetOutput, WorkbookEdit, save_workbook

# An opaque stand-in for a compiled VBA project: the writer must carry it byte for byte.
VBA = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 8
RIBBON = (
    b'<customUI xmlns="http://schemas.microsoft.com/office/2009/07/customui">'
    b'<ribbon><tabs><tab id="xlr" label="Rebalancer"><group id="g" label="Run">'
    b'<button id="b" label="Rebalance" onAction="RebalanceClick"/></group></tab></tabs>'
    b"</ribbon></customUI>"
)


def _macro_book(tmp_path: Path) -> Path:
    return build_workbook(
        tmp_path / "macro.xlsm",
        TWO_FUNDS,
        settings=TWO_FUNDS_SETTINGS,
        vba_project=VBA,
        ribbon_xml=RIBBON,
    )


def _rels(archive: zipfile.ZipFile, name: str) -> set[tuple[str, str]]:
    root = ElementTree.fromstring(archive.read(name))
    return {(r.get("Type"), r.get("Target")) for r in root}


def _assert_vba_and_ribbon(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        assert archive.read("xl/vbaProject.bin") == VBA
        assert archive.read("customUI/customUI14.xml") == RIBBON
        assert (REL_UI[1], "customUI/customUI14.xml") in _rels(archive, "_rels/.rels")
        assert (REL_VBA, "vbaProject.bin") in {
            (t, target.rsplit("/", 1)[-1])
            for t, target in _rels(archive, "xl/_rels/workbook.xml.rels")
        }
        types = archive.read("[Content_Types].xml").decode()
        assert "macroEnabled.main+xml" in types
        assert 'PartName="/xl/vbaProject.bin"' in types


def test_vba_and_ribbon_survive_a_run(tmp_path: Path):
    book = _macro_book(tmp_path)
    _assert_vba_and_ribbon(book)
    run_engine(book, "rebalance")
    _assert_vba_and_ribbon(book)
    run_engine(book, "rebalance")  # and a second save on top of the first
    _assert_vba_and_ribbon(book)
    assert {"Drift", "Trades", "Summary", "Log"} <= set(load_workbook(book).sheetnames)


def test_user_sheets_formulas_and_names_survive(tmp_path: Path):
    book = _macro_book(tmp_path)
    wb = load_workbook(book, keep_vba=True)
    notes = wb.create_sheet("My Notes")
    notes["A1"] = "Total trades"
    notes["B1"] = "=COUNTA(Trades!A:A)-1"
    notes["A2"] = 42
    notes["A2"].number_format = "0.0%"
    wb.defined_names["MyRate"] = DefinedName("MyRate", attr_text="'My Notes'!$A$2")
    wb.save(book)
    run_engine(book, "rebalance")
    wb = load_workbook(book, keep_vba=True)
    assert wb["My Notes"]["B1"].value == "=COUNTA(Trades!A:A)-1"
    assert wb["My Notes"]["A2"].number_format == "0.0%"
    assert "MyRate" in wb.defined_names
    assert [c.value for c in wb["Holdings"][2]][:3] == ["Brokerage", "AAA", 100]
    _assert_vba_and_ribbon(book)


def test_engine_sheets_are_tables_replaced_whole(tmp_path: Path):
    book = _macro_book(tmp_path)
    run_engine(book, "rebalance")
    first = len(load_workbook(book)["Log"]["A"])
    run_engine(book, "rebalance")
    wb = load_workbook(book)
    assert len(wb["Log"]["A"]) == first, "Log was appended to instead of replaced"
    with Package(book) as package:
        tables = package.tables()
    for name in ("Drift", "Trades", "Summary", "Log"):
        assert [t.name for t in tables[name]] == [f"tbl{name}"]
        assert wb[name].freeze_panes == "A2"
    trades = wb["Trades"]
    headers = [c.value for c in trades[1]]
    assert headers == s.TRADES.headers
    value_col = headers.index("Value") + 1
    assert trades.cell(row=2, column=value_col).number_format == s.FMT_MONEY
    drift = wb["Drift"]
    assert drift.cell(row=2, column=s.DRIFT.headers.index("Weight") + 1).number_format == s.FMT_PCT
    assert drift._charts, "the Drift sheet carries its chart"


def test_out_leaves_input_untouched(tmp_path: Path):
    book = _macro_book(tmp_path)
    before = sha256(book)
    out = tmp_path / "sub" / "result.xlsm"
    run_engine(book, "rebalance", RunOptions(out=out))
    assert sha256(book) == before
    assert "Trades" in load_workbook(out).sheetnames
    _assert_vba_and_ribbon(out)
    leftovers = [p for p in tmp_path.rglob(".~*") if not p.name.startswith(".~xlreb.")]
    assert not leftovers, "temporary files left behind"


def test_text_that_looks_like_a_formula_stays_text(tmp_path: Path):
    book = _macro_book(tmp_path)
    rows = [
        {"key": '=HYPERLINK("http://x","click")', "value": "+1"},
        {"key": "@SUM(A1)", "value": "-2"},
    ]
    save_workbook(book, WorkbookEdit(sheets=[SheetOutput(s.SUMMARY, rows)]))
    ws = load_workbook(book)["Summary"]
    assert ws["A2"].data_type == "s" and ws["A2"].value.startswith("=HYPERLINK")
    with zipfile.ZipFile(book) as archive:
        parts = {n: archive.read(n).decode() for n in archive.namelist() if n.endswith(".xml")}
    # Stored as text in the shared-string table, as Excel stores text; in no sheet a formula.
    assert '<t>=HYPERLINK("http://x","click")</t>' in parts["xl/sharedStrings.xml"]
    sheets = [t for n, t in parts.items() if n.startswith("xl/worksheets/sheet")]
    assert not any("<f>HYPERLINK" in t or "<f>SUM(A1)" in t for t in sheets)


def test_plain_xlsx_stays_xlsx(tmp_path: Path):
    book = build_workbook(tmp_path / "plain.xlsx", TWO_FUNDS, settings=TWO_FUNDS_SETTINGS)
    run_engine(book, "rebalance")
    with zipfile.ZipFile(book) as archive:
        assert "macroEnabled" not in archive.read("[Content_Types].xml").decode()
    assert "Trades" in load_workbook(book).sheetnames


def test_text_is_stored_in_a_shared_string_table_as_excel_writes_it(tmp_path: Path):
    """openpyxl writes inline strings, which Excel moves into xl/sharedStrings.xml on its
    next save; the writer stores them there already, and every text reads back exactly."""
    import re

    book = _macro_book(tmp_path)
    texts = [
        "  leading and trailing  ",
        "a & b < c > d",
        "line\nbreak",
        "tab\there",
        "same",
        "same",
    ]
    rows = [{"key": t, "value": i} for i, t in enumerate(texts)]
    save_workbook(book, WorkbookEdit(sheets=[SheetOutput(s.SUMMARY, rows)]))
    ws = load_workbook(book)["Summary"]
    assert [ws.cell(row=r, column=1).value for r in range(2, 2 + len(texts))] == texts
    with zipfile.ZipFile(book) as archive:
        names = archive.namelist()
        sheets = [archive.read(n).decode() for n in names if n.startswith("xl/worksheets/sheet")]
        sst = archive.read("xl/sharedStrings.xml").decode()
        types = archive.read("[Content_Types].xml").decode()
        rels = archive.read("xl/_rels/workbook.xml.rels").decode()
    assert not any('t="inlineStr"' in sheet for sheet in sheets)
    count = sum(len(re.findall(r'<c [^>]*t="s"', sheet)) for sheet in sheets)
    unique = len(re.findall(r"<si>", sst))
    assert f'count="{count}" uniqueCount="{unique}"' in sst
    assert sst.count("<t>same</t>") == 1
    assert "sharedStrings+xml" in types and "sharedStrings.xml" in rels


def test_deferred_rows_are_the_sheet_xml_openpyxl_writes(tmp_path: Path):
    """A table's rows written from values straight into the package (tables.DeferredRows,
    the splice's path for long engine sheets) against the same rows made as openpyxl
    cells, saved by openpyxl and then given shared strings as the package rewrite does:
    the same <sheetData>, cell for cell, for every kind of value the engine writes."""
    import datetime as dt
    import io
    import re

    from openpyxl import Workbook

    from xl_rebalancer.workbook.package import _share_strings
    from xl_rebalancer.workbook.shared_strings import _Strings
    from xl_rebalancer.workbook.tables import DeferredRows, write_table

    spec = s.SheetSpec(
        "Mixed",
        (
            s.Column("Text", "text"),
            s.Column("Money", "money", number_format=s.FMT_MONEY),
            s.Column("Shares", "shares", number_format=s.FMT_SHARES),
            s.Column("Weight", "weight", number_format=s.FMT_PCT),
            s.Column("When", "when"),
            s.Column("Flag", "flag"),
            s.Column("Note", "note"),
        ),
    )
    long = "a reason long enough to wrap in its column, " * 3
    rows = [
        {"text": "VTI", "money": 1234.5, "shares": 10, "weight": 0.25, "flag": True},
        {"text": " edge ", "money": -0.0, "shares": 1 / 3, "when": dt.date(2026, 12, 1)},
        {"text": "AT&T <B>", "money": 1e17, "when": dt.datetime(2026, 12, 1, 9, 30, 15)},
        {"text": "=HYPERLINK(1)", "note": long, "flag": False, "weight": -1.5},
        {"text": "", "note": "two\nlines & a\rreturn", "shares": 2**40},
        {"text": "VTI", "money": 1900, "when": dt.date(1900, 1, 15)},
    ]

    def sheet_data(xml: bytes | str) -> str:
        text = xml.decode("utf-8") if isinstance(xml, bytes) else xml
        return text[text.index("<sheetData>") : text.index("</sheetData>")]

    def styles_spelt(xml: str, book: Workbook) -> str:
        """Style ids as what they stand for: the two workbooks number them apart."""
        return re.sub(r' s="(\d+)"', lambda m: f' s="{book._cell_styles[int(m[1])]}"', xml)

    # Made as openpyxl cells, saved, strings moved into the table.
    wb = Workbook()
    ws = wb.active
    ws.title = spec.name
    write_table(ws, spec, rows)
    buffer = io.BytesIO()
    wb.save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    _share_strings(members)
    expected = styles_spelt(sheet_data(members["xl/worksheets/sheet1.xml"]), wb)
    table = ElementTree.fromstring(members["xl/sharedStrings.xml"])
    expected_strings = [
        "".join(t.text or "" for t in si.iter(f"{{{NS_MAIN}}}t"))
        for si in table.iter(f"{{{NS_MAIN}}}si")
    ]
    # Kept as values and written straight: the same workbook's style ids, no remapping.
    wb = Workbook()
    ws = wb.active
    ws.title = spec.name
    deferred = DeferredRows()
    write_table(ws, spec, rows, deferred=deferred)
    buffer = io.BytesIO()
    wb.save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        header = sheet_data(archive.read("xl/worksheets/sheet1.xml"))
    strings = _Strings(None)
    header = strings.share(header)
    body = deferred.xml({i: i for i in range(len(wb._cell_styles))}, strings.add)
    assert styles_spelt(header + body, wb) == expected
    ours = ElementTree.fromstring(strings.xml())
    assert [
        "".join(t.text or "" for t in si.iter(f"{{{NS_MAIN}}}t"))
        for si in ours.iter(f"{{{NS_MAIN}}}si")
    ] == expected_strings
    assert re.search(r'<row r="5" ht="\d+" customHeight="1">', body)  # the wrapped note


def test_deferred_rows_escape_what_openpyxl_refuses():
    """A control character in an engine value (a name pasted from a web page) is written
    as Excel's _xHHHH_ escape (ECMA-376 Part 1, 22.9.2.19), not an unreadable sheet."""
    from xl_rebalancer.workbook.shared_strings import _Strings
    from xl_rebalancer.workbook.tables import DeferredRows

    rows = DeferredRows(rows=[[("bell\x07", 0)]], letters=["A"])
    strings = _Strings(None)
    assert rows.xml({}, strings.add) == '<row r="2"><c r="A2" t="s"><v>0</v></c></row>'
    assert strings.added == ["bell_x0007_"]


def test_cell_text_is_escaped_as_the_standard_library_escapes_it():
    """package.xml_text against xml.sax.saxutils.escape on text without control
    characters or _xHHHH_ look-alikes (those are Excel's escapes, tested elsewhere)."""
    import random
    from xml.sax.saxutils import escape

    from xl_rebalancer.workbook.package import xml_text

    rng = random.Random(5)
    alphabet = "ab &<>\"';=_x0Ü€\t\n"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        if "_x" in text:
            continue
        assert xml_text(text) == escape(text), repr(text)


def test_a_full_save_leaves_nothing_for_the_garbage_collector_to_complain_about(
    tmp_path: Path, monkeypatch
):
    """openpyxl keeps a macro workbook's VBA parts in a ZipFile over a BytesIO. Left to
    the cyclic collector, the buffer could be finalized first and the ZipFile's finalizer
    then wrote "Exception ignored ... I/O operation on closed file" to stderr, in Excel's
    Python or a batch worker, long after the save that left it."""
    book = _macro_book(tmp_path)
    complaints: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: complaints.append(u.exc_value))
    for _ in range(2):
        gc.collect()
        gc.disable()  # as the command line runs (cli.run), so the cycle outlives the save
        try:
            save_workbook(book, WorkbookEdit(recalc=True), tmp_path / "out.xlsm")
        finally:
            gc.enable()
    gc.collect()
    assert complaints == []
    _assert_vba_and_ribbon(tmp_path / "out.xlsm")
