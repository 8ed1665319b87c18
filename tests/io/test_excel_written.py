"""Workbooks Excel wrote, taken through `init --into`, `import` and `rebalance`.

The corpus is XlsxWriter's comparison files (tests/data/excel-written, BSD 2-Clause,
LICENSE-XlsxWriter.txt beside them): XlsxWriter's own tests compare its output with
these, which Excel itself wrote, so they carry Excel's spelling of styles, themes,
charts, chart sheets, comments, tables, images and VBA projects. Every test here starts
from one of them, never from our template. The whole corpus runs in
benchmarks/corpus_run.py (figures in docs/reliability.md); a sample runs here.
"""

from __future__ import annotations

import io
import json
import random
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from lxml import etree
from openpyxl import load_workbook

from tests.conftest import REPO
from tests.io.corpus import CORPUS, parts, run_one, unparsed
from tests.libreoffice import convert, needs_libreoffice
from xl_rebalancer.workbook import schema as s
from xl_rebalancer.workbook.edits import SheetOutput
from xl_rebalancer.workbook.splice import splice_save
from xl_rebalancer.workbook.tables import FMT_BOOL

# The ten files the project's before-stop check attaches to, and the five Excel .xlsm.
NAMED = [
    "chart_axis21.xlsx",
    "chartsheet02.xlsx",
    "comment04.xlsx",
    "cond_format10.xlsx",
    "format25.xlsx",
    "hyperlink12.xlsx",
    "image14.xlsx",
    "protect08.xlsx",
    "table24.xlsx",
    "textbox05.xlsx",
    "macro01.xlsm",
    "macro02.xlsm",
    "button07.xlsm",
]
SAMPLE = sorted(random.Random(41).sample(sorted(p.name for p in CORPUS.glob("*.xlsx")), 12))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xl_rebalancer", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("name", NAMED + [n for n in SAMPLE if n not in NAMED])
def test_an_excel_written_workbook_attaches_imports_and_rebalances_clean(name: str, tmp_path: Path):
    outcome = run_one(CORPUS / name, tmp_path)
    assert outcome.status == "clean", f"{outcome.step}: {outcome.detail}"
    book = tmp_path / name
    with zipfile.ZipFile(book) as archive:
        sheets = archive.read("xl/workbook.xml").decode()
    for title in ("Holdings", "Targets", "Trades", "Summary", "Report"):
        assert f'name="{title}"' in sheets


def test_the_boolean_format_is_escaped_in_a_style_sheet_excel_wrote(tmp_path: Path):
    """The format `"TRUE";"TRUE";"FALSE"` went into styles.xml with bare quotes, so every
    workbook Excel wrote came out of the first save with a style sheet that is not XML
    (issue 41: 993 of 993). Excel's own style sheet has no such format yet."""
    source = CORPUS / "format25.xlsx"
    assert b"TRUE" not in parts(source)["xl/styles.xml"]
    spec = s.SheetSpec("Flags", (s.Column("Flag", "flag", number_format=FMT_BOOL),))
    dest = tmp_path / "out.xlsx"
    splice_save(source, dest, [SheetOutput(spec, [{"flag": True}])], macro_enabled=False, ribbon=[])
    styles = parts(dest)["xl/styles.xml"]
    root = etree.fromstring(styles)
    codes = [f.get("formatCode") for f in root.iter("{*}numFmt")]
    assert FMT_BOOL in codes
    assert b"&quot;TRUE&quot;" in styles


def init_into_refuses(book: Path, *phrases: str) -> None:
    """`init --into` stops with a sentence saying `phrases`, the file byte for byte as it was."""
    before = book.read_bytes()
    run = cli("init", "--into", str(book))
    assert run.returncode == 1
    said = " ".join((run.stdout + run.stderr).split())
    for phrase in phrases:
        assert phrase in said
    assert book.read_bytes() == before


def test_init_into_twice_changes_nothing_the_second_time(tmp_path: Path):
    book = tmp_path / "mine.xlsx"
    shutil.copyfile(CORPUS / "table24.xlsx", book)
    first = cli("init", "--into", str(book), "--json")
    assert first.returncode == 0, first.stdout + first.stderr
    assert json.loads(first.stdout)["changed"] is True
    attached = book.read_bytes()
    second = cli("init", "--into", str(book))
    assert second.returncode == 0
    assert "already has the rebalancer's sheets; nothing was changed" in second.stdout
    assert book.read_bytes() == attached


def test_a_sheet_of_the_users_under_an_input_sheets_name_is_refused_untouched(tmp_path: Path):
    """A user's own `Holdings` sheet (no tblHoldings) is theirs: the command stops with a
    sentence and the file stays byte for byte as it was."""
    from openpyxl import load_workbook

    book = tmp_path / "mine.xlsx"
    wb = load_workbook(CORPUS / "format25.xlsx")
    wb.active.title = "Holdings"
    wb.save(book)
    init_into_refuses(
        book, "the sheet Holdings is not xl-rebalancer's", "rename your sheet Holdings"
    )


def test_init_into_an_excel_macro_workbook_adds_the_tab_and_keeps_its_macros(tmp_path: Path):
    from oletools.olevba import VBA_Parser

    book = tmp_path / "macro01.xlsm"
    shutil.copyfile(CORPUS / "macro01.xlsm", book)

    def modules(path: Path) -> dict[str, str]:
        parser = VBA_Parser(str(path))
        try:
            return {name: code for _, _, name, code in parser.extract_macros()}
        finally:
            parser.close()

    before = modules(book)
    run = cli("init", "--into", str(book))
    assert run.returncode == 0, run.stdout + run.stderr
    after = modules(book)
    for name, code in before.items():  # the user's modules, code and all
        assert after.get(name) == code
    for ours in ("XlRebalancer.bas", "xlwings.bas", "Dictionary.cls"):
        assert ours in after
    package = parts(book)
    assert "customUI/customUI14.xml" in package
    assert b"ui/extensibility" in package["_rels/.rels"]
    assert b"macroEnabled.main+xml" in package["[Content_Types].xml"]
    assert not unparsed(book)
    titles = etree.fromstring(package["xl/workbook.xml"])
    assert "xlwings.conf" in [t.get("name") for t in titles.iter("{*}sheet")]


def test_the_write_gate_keeps_the_workbook_when_the_new_package_is_broken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The escape bug put back: the save is read back before it replaces the file, the
    workbook is left exactly as it was and the bad package kept beside it."""
    from xl_rebalancer.workbook import splice_styles as splice

    book = tmp_path / "mine.xlsx"
    shutil.copyfile(CORPUS / "format25.xlsx", book)
    before = book.read_bytes()
    monkeypatch.setattr(splice, "xml_attr", lambda text: text.replace("&", "&amp;"))
    from click.testing import CliRunner

    from xl_rebalancer.cli import main

    result = CliRunner().invoke(main, ["init", "--into", str(book)])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "check of the file it was about to save failed" in said
    assert "xl/styles.xml is not well-formed XML" in said
    assert "the workbook is unchanged" in said
    assert book.read_bytes() == before
    kept = list(tmp_path.glob("mine.rejected-*.xlsx"))
    assert len(kept) == 1 and "xl/styles.xml" in parts(kept[0])


def test_a_mac_roman_vba_project_saves(tmp_path: Path):
    """Mac Excel writes its VBA projects in code page 10000 (Mac Roman), which Python
    calls mac_roman: every save of such a workbook stopped with LookupError."""
    from xl_rebalancer.excel.vbaproject import (
        Project,
        _dir_records,
        _pack,
        build_vba_project,
        compound_file,
        compress,
        decompress,
    )
    from xl_rebalancer.excel.vbaproject import _read_project as streams_of

    project = build_vba_project([])
    streams = streams_of(project)
    records = [
        (rid, (10000).to_bytes(2, "little") if rid == 0x03 else body)
        for rid, body in _dir_records(decompress(streams["VBA/dir"]))
    ]
    streams["VBA/dir"] = compress(_pack(records))
    mac = compound_file(streams)
    edited = Project(mac).with_sheet_modules(["Sheet1"])
    assert Project(edited).codepage == "mac_roman"
    assert "Sheet1" in Project(edited).module_names


def test_a_chart_sheet_gets_a_chart_module_and_survives_recalc_and_import(tmp_path: Path):
    from oletools.olevba import VBA_Parser

    book = tmp_path / "chartsheet02.xlsx"
    shutil.copyfile(CORPUS / "chartsheet02.xlsx", book)
    outcome = run_one(book, tmp_path / "run")
    assert outcome.status == "clean", outcome.detail
    run = tmp_path / "run" / "chartsheet02.xlsx"
    recalc = cli("recalc", str(run))
    assert recalc.returncode == 0, recalc.stdout + recalc.stderr
    assert not unparsed(run)
    # As a macro workbook: the chart sheet's module has the chart's base class.
    xlsm = tmp_path / "charts.xlsm"
    shutil.copyfile(CORPUS / "chartsheet02.xlsx", xlsm)
    assert cli("init", "--into", str(xlsm)).returncode == 0
    parser = VBA_Parser(str(xlsm))
    try:
        bases = {
            name: code.split("VB_Base = ")[1].split("\n")[0].strip().strip('"')
            for _, _, name, code in parser.extract_macros()
            if "VB_Base" in code
        }
    finally:
        parser.close()
    assert "0{00020821-0000-0000-C000-000000000046}" in bases.values()  # a chart's


def test_a_model_portfolio_file_replaces_the_targets(tmp_path: Path):
    """A model file keeps what the user set beside a kept line's weight."""
    from openpyxl import load_workbook

    book = tmp_path / "mine.xlsx"
    shutil.copyfile(CORPUS / "format25.xlsx", book)
    assert cli("init", "--into", str(book)).returncode == 0
    first = tmp_path / "model.csv"
    first.write_text("Symbol,Weight\nVTI,60\nBND,40\n")
    assert cli("import", str(book), str(first)).returncode == 0
    wb = load_workbook(book)
    ws = wb["Targets"]
    ws["D2"] = 0.02  # BandAbs on VTI's row, typed by the user
    wb.save(book)
    second = tmp_path / "model2.csv"
    second.write_text("AssetClass,TargetWeight\nUS Stocks,70%\nBonds,30%\n")
    mixed = cli("import", str(book), str(second))
    assert mixed.returncode == 0, mixed.stdout + mixed.stderr
    third = tmp_path / "model3.csv"
    third.write_text("Ticker,Allocation\nVTI,0.5\nVXUS,0.2\nBND,0.29\n")
    short = cli("import", str(book), str(third))
    assert short.returncode == 1
    assert "the weights add up to 99.00%, not 100%" in " ".join(
        (short.stdout + short.stderr).split()
    )
    fourth = tmp_path / "model4.csv"
    fourth.write_text("Symbol,Weight\nVTI,55%\nVXUS,15%\nBND,30%\n")
    shutil.copyfile(CORPUS / "format25.xlsx", book)
    assert cli("init", "--into", str(book)).returncode == 0
    assert cli("import", str(book), str(first)).returncode == 0
    wb = load_workbook(book)
    wb["Targets"]["D2"] = 0.02
    wb.save(book)
    run = cli("import", str(book), str(fourth), "--json")
    assert run.returncode == 0, run.stdout
    answer = json.loads(run.stdout)
    assert {c["kind"] for c in answer["changes"]} == {"added", "changed"}
    assert answer["backup"]
    rows = list(load_workbook(book)["Targets"].iter_rows(min_row=2, values_only=True))
    weights = {r[0]: (r[2], r[3]) for r in rows if r[0]}
    assert weights == {"VTI": (0.55, 0.02), "BND": (0.30, None), "VXUS": (0.15, None)}
    log = [r[-1] for r in load_workbook(book)["Log"].iter_rows(values_only=True)]
    assert any("model4.csv" in str(text) for text in log)


def test_every_xml_part_of_an_attached_workbook_parses_with_lxml(tmp_path: Path):
    book = tmp_path / "image14.xlsx"
    shutil.copyfile(CORPUS / "image14.xlsx", book)
    assert cli("init", "--into", str(book)).returncode == 0
    with zipfile.ZipFile(book) as archive:
        for name in archive.namelist():
            if name.endswith((".xml", ".rels")):
                etree.parse(io.BytesIO(archive.read(name)))


# --- workbooks LibreOffice saved -------------------------------------------------------


@needs_libreoffice
def test_workbooks_libreoffice_saved_attach_import_and_rebalance_clean(tmp_path: Path):
    """LibreOffice's spelling differs from Excel's (no codeNames, its own extLst, styles
    with every attribute spelled out): Excel's files saved again by LibreOffice go the
    same way as Excel's own."""
    profile = tmp_path / "profile"
    for name in ("chart_axis21.xlsx", "table24.xlsx", "comment04.xlsx"):
        saved = convert(CORPUS / name, "xlsx", tmp_path / "lo", profile)
        outcome = run_one(saved, tmp_path / "run" / name)
        assert outcome.status == "clean", f"{name}: {outcome.step}: {outcome.detail}"


@needs_libreoffice
def test_a_libreoffice_saved_macro_workbook_keeps_each_sheets_module(tmp_path: Path):
    """LibreOffice saves no codeName: the sheet's module (MySheet1, of the sheet named
    Sheet1) is matched to it, not dropped for a new empty one."""
    from oletools.olevba import VBA_Parser

    saved = convert(
        CORPUS / "macro02.xlsm", "xlsm:Calc MS Excel 2007 VBA XML", tmp_path / "lo", tmp_path / "p"
    )
    book = tmp_path / "macro02.xlsm"
    shutil.copyfile(saved, book)
    run = cli("init", "--into", str(book))
    assert run.returncode == 0, run.stdout + run.stderr
    parser = VBA_Parser(str(book))
    try:
        names = [name for _, _, name, _ in parser.extract_macros()]
    finally:
        parser.close()
    assert "MySheet1.cls" in names and "Module1.bas" in names
    sheet = parts(book)["xl/worksheets/sheet1.xml"]
    assert b'codeName="MySheet1"' in sheet


@needs_libreoffice
def test_an_attached_and_rebalanced_excel_workbook_opens_in_libreoffice(tmp_path: Path):
    outcome = run_one(CORPUS / "chart_axis21.xlsx", tmp_path / "run")
    assert outcome.status == "clean", outcome.detail
    pdf = convert(tmp_path / "run" / "chart_axis21.xlsx", "pdf", tmp_path / "pdf", tmp_path / "p")
    assert pdf.stat().st_size > 10_000


# --- the user's own sheets under the engine's names --------------------------------------


def household_with_trades(source: Path, tmp_path: Path) -> Path:
    """The corpus household attached to `source`, with a model it is far from."""
    outcome = run_one(source, tmp_path / "run")
    assert outcome.status == "clean", outcome.detail
    book = tmp_path / "run" / source.name
    model = tmp_path / "model.csv"
    model.write_text("Symbol,Weight\nVTI,30%\nVXUS,40%\nBND,30%\n")
    assert cli("import", str(book), str(model)).returncode == 0
    return book


def test_a_users_own_summary_sheet_survives_every_run(tmp_path: Path):
    """A user's `Summary` (and `report`, in any case) stays theirs: the engine writes its
    sheets beside them, marked, and finds its own again on the next run and in
    export-orders, whatever the save path (splice, or the --recalc rewrite)."""
    from openpyxl import load_workbook

    source = tmp_path / "mine.xlsx"
    wb = load_workbook(CORPUS / "format25.xlsx")
    wb.active.title = "Summary"
    wb.active["A1"] = "my own summary"
    wb.create_sheet("report")["B2"] = "my own report"
    wb.create_sheet("Trades")["A1"] = "my trade journal"
    wb.save(source)
    book = household_with_trades(source, tmp_path)
    for extra in (["--recalc"], []):
        args = ["rebalance", str(book), "--prices", str(tmp_path / "run" / "prices.csv")]
        again = cli(*args, "--as-of", "2026-12-04", *extra)
        assert again.returncode == 0, again.stdout + again.stderr
    wb = load_workbook(book)
    assert wb["Summary"]["A1"].value == "my own summary"
    assert wb["report"]["B2"].value == "my own report"
    assert wb["Trades"]["A1"].value == "my trade journal"
    ours = [t for t in wb.sheetnames if "(rebalancer" in t]
    assert sorted(ours) == ["Report (rebalancer)", "Summary (rebalancer)", "Trades (rebalancer)"]
    assert "tblSummary" in wb["Summary (rebalancer)"].tables
    assert "_xlrb_engine" in wb["Summary (rebalancer)"].defined_names
    assert "_xlrb_engine" not in wb["Summary"].defined_names
    orders = cli("export-orders", str(book), "--out", str(tmp_path / "orders"), "--json")
    assert orders.returncode == 0, orders.stdout + orders.stderr
    assert json.loads(orders.stdout)["orders"]


def test_a_template_workbook_from_before_the_marks_keeps_replacing_its_sheets(tmp_path: Path):
    """A workbook our template made, run before engine sheets were marked, has unmarked
    engine sheets: they are still the engine's (the document's creator says so)."""
    from openpyxl import load_workbook

    run = cli("demo", str(tmp_path / "demo"))
    assert run.returncode == 0, run.stderr
    book = tmp_path / "demo" / "demo_household.xlsm"
    wb = load_workbook(book, keep_vba=True)
    for ws in wb.worksheets:
        ws.defined_names.pop("_xlrb_engine", None)
    wb.save(book)
    prices = next((tmp_path / "demo").glob("*.csv"))
    again = cli("rebalance", str(book), "--prices", str(prices))
    assert again.returncode == 0, again.stdout + again.stderr
    titles = load_workbook(book, read_only=True).sheetnames
    assert not [t for t in titles if "(rebalancer)" in t]


def test_repeated_runs_do_not_grow_the_shared_strings_and_keep_the_users_text(tmp_path: Path):
    """Each run's new text (the Log's times, say) went into the shared-string table
    beside the text of the sheets it replaced (385 -> 425 items over 11 runs): items no
    kept sheet refers to now take the new text, and the user's own text reads the same."""
    from openpyxl import load_workbook

    outcome = run_one(CORPUS / "autofilter00.xlsx", tmp_path / "run")
    assert outcome.status == "clean", outcome.detail
    book = tmp_path / "run" / "autofilter00.xlsx"
    prices = tmp_path / "run" / "prices.csv"

    def unique() -> int:
        root = etree.fromstring(parts(book)["xl/sharedStrings.xml"])
        return len(root)

    sizes = []
    for day in ("2026-12-04", "2026-12-05", "2026-12-06", "2026-12-07"):
        run = cli("rebalance", str(book), "--prices", str(prices), "--as-of", day)
        assert run.returncode == 0, run.stdout + run.stderr
        sizes.append(unique())
    assert max(sizes) - min(sizes) <= 2, sizes
    original = load_workbook(CORPUS / "autofilter00.xlsx")
    now = load_workbook(book)
    for ws in original.worksheets:
        assert [[c.value for c in row] for row in ws.iter_rows()] == [
            [c.value for c in row] for row in now[ws.title].iter_rows()
        ]
    log = [r[-1] for r in now["Log"].iter_rows(min_row=2, values_only=True)]
    assert any("valuation date 2026-12-07" in str(text) for text in log)


def test_an_engine_table_never_takes_a_name_the_user_has(tmp_path: Path):
    """A user's own table named tblTrades (on a sheet of theirs) and a workbook-level
    name tblDrift: the engine's tables take free names, the package keeps every name
    unique (the write gate would refuse it otherwise), and the next run finds its own."""
    from openpyxl import load_workbook
    from openpyxl.workbook.defined_name import DefinedName
    from openpyxl.worksheet.table import Table

    source = tmp_path / "mine.xlsx"
    wb = load_workbook(CORPUS / "table24.xlsx")
    ws = wb.create_sheet("Journal")
    ws.append(["Date", "Note"])
    ws.append(["2026-12-01", "bought"])
    ws.add_table(Table(displayName="tblTrades", ref="A1:B2"))
    wb.defined_names["tblDrift"] = DefinedName("tblDrift", attr_text="Journal!$A$1")
    wb.save(source)
    book = household_with_trades(source, tmp_path)
    prices = tmp_path / "run" / "prices.csv"
    run = cli("rebalance", str(book), "--prices", str(prices), "--as-of", "2026-12-04")
    assert run.returncode == 0, run.stdout + run.stderr
    wb = load_workbook(book)
    assert "tblTrades" in wb["Journal"].tables
    assert list(wb["Trades"].tables) == ["tblTrades_2"]
    assert list(wb["Drift"].tables) == ["tblDrift_2"]
    orders = cli("export-orders", str(book), "--out", str(tmp_path / "orders"), "--json")
    assert orders.returncode == 0 and json.loads(orders.stdout)["orders"]


def test_recalc_gives_excels_own_results_in_excels_own_types(tmp_path: Path):
    """Excel wrote formula_results01.xlsx with its computed results: a number, text, both
    booleans and every error value. `--recalc` computes them again and stores them as
    Excel did (t="str", t="b", t="e"): the sheet's XML comes back byte for byte."""
    book = tmp_path / "formula_results01.xlsx"
    shutil.copyfile(CORPUS / book.name, book)
    assert cli("init", "--into", str(book)).returncode == 0
    before = parts(book)["xl/worksheets/sheet1.xml"]
    run = cli("recalc", str(book))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Recalculated 12 of 12 formula cells" in run.stdout
    assert parts(book)["xl/worksheets/sheet1.xml"] == before


def _formulas_book(path: Path) -> Path:
    """A sheet of the user's, as XlsxWriter builds it: formulas (a sum, text, a dynamic
    array that spills), a text box and a picture (which openpyxl cannot keep)."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Notes")
    for row, value in enumerate((3, 1, 2)):
        ws.write_number(row, 0, value)
    ws.write_formula("B1", "=SUM(A1:A3)", None, 0)
    ws.write_dynamic_array_formula("C1", "=SORT(A1:A3)", None, 0)
    ws.write_formula("D1", '="total "&B1', None, "")
    ws.insert_textbox("F2", "kept by the user")
    ws.insert_image(
        "F10", str(REPO / "docs" / "images" / "report.png"), {"x_scale": 0.2, "y_scale": 0.2}
    )
    wb.close()
    return path


def test_recalc_computes_the_users_formulas_and_keeps_their_text_boxes_and_pictures(
    tmp_path: Path,
):
    """--recalc is spliced too: openpyxl only computes; the user's text box and picture
    (which a whole rewrite through openpyxl would lose) stay byte for byte, and only the
    cells whose values changed are edited: the sum, the text, and SORT's spill."""
    source = _formulas_book(tmp_path / "notes.xlsx")
    outcome = run_one(source, tmp_path / "run")
    assert outcome.status == "clean", outcome.detail
    book = tmp_path / "run" / "notes.xlsx"
    before = parts(book)
    prices = tmp_path / "run" / "prices.csv"
    run = cli("rebalance", str(book), "--prices", str(prices), "--as-of", "2026-12-04", "--recalc")
    assert run.returncode == 0, run.stdout + run.stderr
    after = parts(book)
    for name in before:
        if name.startswith(("xl/drawings/", "xl/media/")):
            assert after[name] == before[name], name
    assert not unparsed(book)
    values = load_workbook(book, data_only=True)["Notes"]
    assert [values[c].value for c in ("B1", "C1", "C2", "C3", "D1")] == [6, 1, 2, 3, "total 6"]
    sheet = after["xl/worksheets/sheet1.xml"]
    assert b'<f t="array" ref="C1:C3">' in sheet
    # Outside the cells the run computed, the user's sheet is as it was.
    cells = re.compile(rb"<sheetData>.*</sheetData>|<dimension [^>]*>", re.S)
    assert cells.sub(b"", sheet) == cells.sub(b"", before["xl/worksheets/sheet1.xml"])
    formulas = load_workbook(book)
    assert not formulas.calculation.fullCalcOnLoad  # all computed: Excel keeps the values


# --- workbooks XlsxWriter built ----------------------------------------------------------


def _xlsxwriter_book(path: Path) -> Path:
    """What a script of the user's might build with XlsxWriter: formats, a formula, a
    table, a chart, a picture, a comment, a defined name, a hidden sheet and, for .xlsm,
    the VBA project of a workbook Excel wrote (macro01.xlsm's)."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    money = wb.add_format({"num_format": '"$"#,##0.00', "bold": True})
    ws = wb.add_worksheet("Budget")
    ws.write_row(0, 0, ["Month", "Spend"])
    for row, (month, spend) in enumerate((("Jan", 1200.5), ("Feb", 980.25), ("Mar", 1410)), 1):
        ws.write(row, 0, month)
        ws.write_number(row, 1, spend, money)
    ws.write_formula(4, 1, "=SUM(B2:B4)", money, 3590.75)
    ws.add_table(
        "D1:E3", {"name": "tblBudget", "columns": [{"header": "Item"}, {"header": "Cost"}]}
    )
    ws.write_comment("A1", "kept by the user")
    chart = wb.add_chart({"type": "column"})
    chart.add_series({"values": "=Budget!$B$2:$B$4", "categories": "=Budget!$A$2:$A$4"})
    ws.insert_chart("G2", chart)
    ws.insert_image(
        "G20", str(REPO / "docs" / "images" / "report.png"), {"x_scale": 0.2, "y_scale": 0.2}
    )
    wb.define_name("Total", "=Budget!$B$5")
    hidden = wb.add_worksheet("Notes")
    hidden.write(0, 0, "a hidden sheet of the user's")
    hidden.hide()
    if path.suffix == ".xlsm":
        with zipfile.ZipFile(CORPUS / "macro01.xlsm") as archive:
            vba = path.with_name("vbaProject.bin")
            vba.write_bytes(archive.read("xl/vbaProject.bin"))
        wb.add_vba_project(str(vba))
    wb.close()
    return path


@pytest.mark.parametrize("suffix", [".xlsx", ".xlsm"])
def test_a_workbook_xlsxwriter_built_attaches_imports_and_rebalances_clean(
    suffix: str, tmp_path: Path
):
    source = _xlsxwriter_book(tmp_path / f"built{suffix}")
    outcome = run_one(source, tmp_path / "run")
    assert outcome.status == "clean", f"{outcome.step}: {outcome.detail}"


def test_a_users_table_under_an_input_tables_name_is_refused_untouched(tmp_path: Path):
    """A table of the user's named tblHoldings (on their own sheet, with their own
    columns) made init --into skip Holdings without a word, and every later command
    pointed at the user's sheet."""
    from openpyxl import Workbook
    from openpyxl.worksheet.table import Table

    book = tmp_path / "mine.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.title = "MyPositions"
    ws.append(["Fund", "Value"])
    ws.append(["VTI", 1000])
    ws.add_table(Table(displayName="tblHoldings", ref="A1:B2"))
    wb.save(book)
    init_into_refuses(book, "the table tblHoldings on your sheet MyPositions", "rename your table")


def test_init_into_leaves_a_workbook_open_in_excel_or_read_only_alone(tmp_path: Path):
    for case in ("open", "read-only"):
        book = tmp_path / f"{case}.xlsx"
        shutil.copyfile(CORPUS / "table24.xlsx", book)
        if case == "open":
            (tmp_path / f"~${book.name}").write_bytes(b"owner")
        else:
            book.chmod(0o444)
        init_into_refuses(book, "open in Excel" if case == "open" else "read-only")


def test_two_saves_in_one_second_keep_two_backups():
    """Backups were named to the second, and a second import in the same second
    overwrote the first one's: the workbook's state before both was lost."""
    import datetime as dt
    import tempfile

    from xl_rebalancer.door import backup_path, is_backup

    with tempfile.TemporaryDirectory() as folder:
        book = Path(folder) / "book.xlsm"
        stamp = dt.datetime(2026, 12, 7, 4, 12, 54)
        first = backup_path(book, stamp, "import")
        first.write_bytes(b"the state before the first import")
        second = backup_path(book, stamp, "import")
        assert second != first and second.name == "book.before-import-20261207-041254-2.xlsm"
        assert is_backup(first) and is_backup(second)
