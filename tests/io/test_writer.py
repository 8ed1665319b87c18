"""The writer keeps everything that is not an engine sheet: VBA, ribbon, formulas, names."""

from __future__ import annotations

import zipfile
from pathlib import Path

from defusedxml import ElementTree
from openpyxl import load_workbook
from openpyxl.workbook.defined_name import DefinedName

from tests.conftest import TWO_FUNDS, TWO_FUNDS_SETTINGS, sha256
from xl_rebalancer.app import RunOptions, run_engine
from xl_rebalancer.excel.template import build_workbook
from xl_rebalancer.io import schema as s
from xl_rebalancer.io.package import REL_UI, REL_VBA, read_tables
from xl_rebalancer.io.writer import SheetOutput, WorkbookEdit, save_workbook

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
    tables = read_tables(book)
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
