"""Headless recalculation (issue 10): formulas and our worksheet functions computed without
Excel, stored as cached values, checked against hand-worked values, against the engine
called directly, and against LibreOffice's own recalculation."""

from __future__ import annotations

import datetime as dt
import shutil
import zipfile
from pathlib import Path

import pytest
import xlrebalancer_udfs as u
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.formula import ArrayFormula
from openpyxl.worksheet.table import Table

from tests.libreoffice import convert, needs_libreoffice
from xl_rebalancer.cli import main
from xl_rebalancer.demo import DASHBOARD, KEY_FIGURES, dynamic_cells
from xl_rebalancer.excel.headless import _argument
from xl_rebalancer.workbook.package import dynamic_arrays, mark_dynamic_arrays, ribbon_relationships


def _cli(*args: str) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _hand_book(path: Path) -> Path:
    """Numbers small enough to work by hand (the expected values are in the test)."""
    wb = Workbook()
    data = wb.active
    data.title = "Data"
    data.append(["Symbol", "Value", "Weight"])
    for row in [("VTI", 600, 0.5), ("BND", 300, 0.3), ("VXUS", 100, 0.2)]:
        data.append(row)
    data["D1"] = "Double"
    for r in range(2, 5):
        data[f"D{r}"] = "=Hold[[#This Row],[Value]]*2"
    data.add_table(Table(displayName="Hold", ref="A1:D4"))
    data["F1"] = dt.date(2024, 1, 31)
    wb.defined_names["Rate"] = DefinedName("Rate", attr_text="Data!$C$2")
    d = wb.create_sheet("Dash")
    d["A1"] = "=SUM(Data!B2:B4)"  # 1000
    d["A2"] = "=SUMPRODUCT(Hold[Value],Hold[Weight])"  # 300 + 90 + 20 = 410
    d["A3"] = '=INDEX(Data!B2:B4,MATCH("BND",Data!A2:A4,0))'  # 300
    d["A4"] = '=_xlfn.XLOOKUP("VXUS",Hold[Symbol],Hold[Value])'  # 100
    d["A5"] = "=SUM(Hold[Double])"  # 2000, through formulas on another sheet
    d["A6"] = "=SUM(Data!B:B)*Rate"  # 1000 x 0.5
    d["A7"] = "=Data!F1+1"  # 2024-02-01 as a serial: 45323
    d["A8"] = "=SUM(_xlfn.ANCHORARRAY(C1))"  # weights of the spill: 0.6 + 0.3 + 0.1
    d["A9"] = "=ROWS(_xlfn.ANCHORARRAY(C1))"  # header + 3 rows
    d["A10"] = '=IF(A1>999,"big","small")'
    d["A11"] = "=1/0"
    # Stored as one cell: the spill grows to C1:D4 when computed.
    d["C1"] = ArrayFormula("C1", "=xlrb_weights(Data!A2:B4)")
    # A legacy (Ctrl+Shift+Enter) array keeps its range: the 3 results, then #N/A.
    d["F1"] = ArrayFormula("F1:F4", "=Data!B2:B4*2")
    # A dynamic array with something in its way shows #SPILL!.
    d["H1"] = ArrayFormula("H1", "=xlrb_weights(Data!A2:B4)")
    d["H3"] = "in the way"
    # Not computable: an unknown function, a circular pair, and a cell reading one.
    d["K1"] = "=NOSUCHFUNCTION(1)"
    d["K2"] = "=K3+1"
    d["K3"] = "=K2+1"
    d["K4"] = "=K1*2"
    d["K5"] = "=[1]Other!A1"  # a link to another workbook
    d["A12"] = '=INDIRECT("Data!B2")'  # a constant text reference is a plain reference
    wb.save(path)
    mark_dynamic_arrays(path, {"Dash": {"C1", "H1"}})
    return path


def test_hand_worked_values_and_what_is_left_for_excel(tmp_path: Path):
    book = _hand_book(tmp_path / "hand.xlsx")
    assert dynamic_arrays(book) == {"Dash": {"C1", "H1"}}
    out = tmp_path / "out.xlsx"
    text = _cli("recalc", book, "--out", out)
    assert "Recalculated 18 of 23 formula cells; 5 left for Excel" in text

    values = load_workbook(out, data_only=True)
    d = values["Dash"]
    assert [d[f"A{r}"].value for r in range(1, 8)] == [1000, 410, 300, 100, 2000, 500, 45323]
    assert d["A8"].value == pytest.approx(1.0)
    assert d["A9"].value == 4
    assert d["A10"].value == "big"
    assert d["A11"].value == "#DIV/0!"
    assert d["A12"].value == 600
    assert [[c.value for c in row] for row in d["C1:D4"]] == [
        ["Symbol", "Weight"],
        ["VTI", 0.6],
        ["BND", 0.3],
        ["VXUS", 0.1],
    ]
    assert [d[f"F{r}"].value for r in range(1, 5)] == [1200, 600, 200, "#N/A"]
    assert d["H1"].value == "#SPILL!" and d["H2"].value is None
    assert [values["Data"][f"D{r}"].value for r in range(2, 5)] == [1200, 600, 200]

    # Not computed: no cached value (never a wrong one), formula kept, listed in the Log.
    formulas = load_workbook(out)
    for cell, formula in {"K1": "=NOSUCHFUNCTION(1)", "K2": "=K3+1", "K3": "=K2+1"}.items():
        assert d[cell].value is None
        assert formulas["Dash"][cell].value == formula
    log = [row for row in values["Log"].iter_rows(min_row=2, values_only=True)]
    listed = {(r[2], r[3]): r[4] for r in log if r[1] == "warning"}
    assert "unsupported function NOSUCHFUNCTION" in listed[("Dash", "K1")]
    assert "circular reference" in listed[("Dash", "K2")]
    assert "circular reference" in listed[("Dash", "K3")]
    assert "reads Dash!K1" in listed[("Dash", "K4")]
    assert "another workbook" in listed[("Dash", "K5")]
    assert "#SPILL!: H3 is in the way" in listed[("Dash", "H1")]
    # Excel is asked to recalculate on open, to fill in what we could not.
    assert formulas.calculation.fullCalcOnLoad
    # The spill is still a dynamic array, now covering its result.
    assert dynamic_arrays(out) == {"Dash": {"C1", "H1"}}
    assert formulas["Dash"]["C1"].value.ref == "C1:D4"

    # Run again: the Log's earlier recalculation rows are replaced, not repeated.
    _cli("recalc", out)
    again = load_workbook(out, data_only=True)["Log"]
    assert again.max_row == values["Log"].max_row


def test_a_block_that_shrinks_clears_its_old_cells(tmp_path: Path):
    book = _hand_book(tmp_path / "hand.xlsx")
    _cli("recalc", book)
    wb = load_workbook(book)
    wb["Data"].delete_rows(4)  # VXUS gone: the spill is one row shorter
    wb["Data"].tables["Hold"].ref = "A1:D3"
    wb["Dash"]["C1"].value.text = "=xlrb_weights(Data!A2:B3)"
    wb["Dash"]["A13"] = '=COUNTIF(C1:C10,"VXUS")'  # the old last row must read as blank
    wb.save(book)
    mark_dynamic_arrays(book, {"Dash": {"C1", "H1"}})
    _cli("recalc", book)
    d = load_workbook(book, data_only=True)["Dash"]
    assert [[c.value for c in row] for row in d["C1:D4"]] == [
        ["Symbol", "Weight"],
        ["VTI", pytest.approx(600 / 900)],
        ["BND", pytest.approx(300 / 900)],
        [None, None],
    ]
    assert d["A9"].value == 3
    assert d["A13"].value == 0


def test_filled_down_formulas_share_one_compiled_pattern(monkeypatch: pytest.MonkeyPatch):
    """Cells equal in R1C1 form share one compiled function (issue 25), each reading its
    own cells: relative, absolute and mixed references, another sheet, whole columns, and
    a first row where two different references read the same cell (=A1+$A$1). Expected
    values are closed forms of the row number, not the engine's own output."""
    from xl_rebalancer.formulas import recalc

    compiled: list[str] = []
    real = recalc._compile

    def counted(parser, text, sheet, known):
        compiled.append(text)
        return real(parser, text, sheet, known)

    monkeypatch.setattr(recalc, "_compile", counted)
    n = 60
    wb = Workbook()
    ws = wb.active
    ws.title = "Grid"
    other = wb.create_sheet("Other sheet")
    other["B2"] = 3
    for r in range(1, n + 1):
        ws[f"A{r}"] = r
        ws[f"B{r}"] = r * 0.5
        ws[f"C{r}"] = f"=A{r}*B{r}" if r == 1 else f"=C{r - 1}+A{r}*B{r}"
        ws[f"D{r}"] = f"=SUMPRODUCT(A{r}:B{r},A{r}:B{r})"
        ws[f"E{r}"] = f"=A{r}+$A$1"
        ws[f"F{r}"] = f"=SUM($A$1:A{r})"
        ws[f"G{r}"] = f"=ROW(A{r})*'Other sheet'!$B$2"
        ws[f"H{r}"] = f"=B$1*$A{r}"
        ws[f"I{r}"] = "=COUNT(A:A)"
        ws[f"J{r}"] = f'=IF(MOD(A{r},2)=0,"even","odd")'
    result = recalc.recalculate(wb)
    assert not result.uncomputed
    # One compile per column, and one more where row 1 differs (C) or cannot stand for
    # the rest (E: A1 and $A$1 are the same cell there): not one per cell.
    assert len(compiled) == 10
    values = {cell: v for (_, cell), v in result.values.items()}
    for r in range(1, n + 1):
        assert values[f"C{r}"] == pytest.approx(r * (r + 1) * (2 * r + 1) / 12)
        assert values[f"D{r}"] == pytest.approx(1.25 * r * r)
        assert values[f"E{r}"] == r + 1
        assert values[f"F{r}"] == r * (r + 1) / 2
        assert values[f"G{r}"] == 3 * r
        assert values[f"H{r}"] == 0.5 * r
        assert values[f"I{r}"] == n
        assert values[f"J{r}"] == ("even" if r % 2 == 0 else "odd")


@pytest.mark.parametrize(
    "text",
    [
        "=A1+B1*C1",
        '=IF(A1>1,B1/C1,"low")',
        "=IFERROR(A1/C1,-1)",
        "=SUM(A1:C1)+SUM(1,2)",
        "=ISBLANK(C1)",
        '=A1&"-"&TEXT(B1,"0.00")',
        "=IF(ISERROR(B1),0,B1)",
        "=SUMPRODUCT(A1:C1,A1:C1)",
        "=MAX(A1:C1)-MIN(A1,B1)",
        "=A1:C1*2",
        "=INDEX(A1:C1,2)+INDEX(A1:C1,1,MATCH(4,A1:C1,0))",
    ],
)
def test_a_compiled_formula_called_directly_gives_what_formulas_gives(text: str):
    """The direct call of a compiled formula's steps (recalc._Direct, issue 25) against
    the `formulas` package's own DispatchPipe on the same inputs: numbers, a blank, text,
    an error and a division by zero."""
    import formulas
    import numpy as np
    from formulas.ranges import Ranges
    from schedula import EMPTY

    from xl_rebalancer.formulas import recalc

    known = frozenset(formulas.get_functions())
    for row in ([2.0, 3.0, 4.0], [1.0, "x", EMPTY], [0.5, 6.0, 0.0]):
        direct, problem = recalc._compile(formulas.Parser(), text, "S", known)
        assert problem is None and isinstance(direct, recalc._Direct)
        pipe = formulas.Parser().ast(text, context={"sheet": "S"})[1].compile()
        assert list(direct.inputs) == list(pipe.inputs)

        def args(values=row, pipe=pipe):
            out = []
            for name in pipe.inputs:
                ref = name.split("!")[1]
                first = "ABC".index(ref[0])
                last = "ABC".index(ref.split(":")[-1][0])
                cells = np.array([values[first : last + 1]], dtype=object)
                out.append(Ranges().push(name, cells))
            return out

        got, want = direct(*args()), pipe(*args())
        assert str(np.asarray(got, dtype=object).tolist()) == str(
            np.asarray(want, dtype=object).tolist()
        )


def test_arguments_arrive_as_xlwings_passes_them():
    import numpy as np
    from schedula import EMPTY

    column = np.array([[1], [EMPTY], ["x"]], dtype=object)
    assert _argument(column, 2) == [[1.0], [None], ["x"]]
    assert _argument(column, None) == [1.0, None, "x"]
    assert _argument(np.array([[5]], dtype=object), None) == 5.0
    assert _argument(np.array([[5]], dtype=object), 2) == [[5.0]]
    assert _argument("VTI", 2) == [["VTI"]]
    assert _argument(EMPTY, None) is None


# -- the demo's Dashboard: our functions and ordinary formulas over the engine's sheets --


@pytest.fixture(scope="module")
def recalculated_demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from xl_rebalancer.app import run_engine
    from xl_rebalancer.demo import write_demo
    from xl_rebalancer.door import RunOptions

    folder = tmp_path_factory.mktemp("recalc-demo")
    book, prices = write_demo(folder)
    before = book.with_name("before.xlsm")
    shutil.copyfile(book, before)
    report = run_engine(book, "run", RunOptions(prices_file=prices, recalc=True))
    return {"book": book, "before": before, "report": report, "prices": prices}


def _table(ws, top_left: str, bottom_right: str) -> list[list]:
    return [[c.value for c in row] for row in ws[f"{top_left}:{bottom_right}"]]


def test_dashboard_values_are_the_engines(recalculated_demo: dict):
    book, report = recalculated_demo["book"], recalculated_demo["report"]
    result = report.result
    wb = load_workbook(book, data_only=True)
    dash = wb[DASHBOARD]
    drift = [r for r in result.drift]
    count = len(drift)
    labels = [r.asset_class or r.symbol for r in drift]
    assert [dash[f"A{r}"].value for r in range(2, 2 + count)] == labels
    assert [dash[f"B{r}"].value for r in range(2, 2 + count)] == pytest.approx(
        [r.value for r in drift]
    )
    # Our drift function, called directly on the engine's own values and targets, gives
    # the spilled block; and its weights and bands are the engine's Drift sheet's.
    holdings = [[label, r.value] for label, r in zip(labels, drift, strict=True)]
    targets = [[label, r.target_weight] for label, r in zip(labels, drift, strict=True)]
    direct = u.xlrb_drift(holdings, targets)
    block = _table(dash, "G2", f"L{2 + count}")
    assert block[0] == direct[0]
    for got, want, row in zip(block[1:], direct[1:], drift, strict=True):
        assert got[0] == want[0]
        assert got[1:5] == pytest.approx(want[1:5], abs=1e-12)
        assert got[5] is want[5]
        assert got[1:5] == pytest.approx([row.weight, row.target_weight, row.drift, row.band])
    assert _table(dash, "N2", f"P{2 + count}") == [
        [a if not isinstance(a, float) else pytest.approx(a) for a in line]
        for line in u.xlrb_weights(holdings, targets)
    ]

    figures = {
        label: dash[f"B{4 + count + i}"].value for i, (label, _, _) in enumerate(KEY_FIGURES)
    }
    trades = result.trades
    assert figures["Trades"] == len(trades)
    assert figures["Traded value"] == pytest.approx(sum(t.value for t in trades))
    assert figures["Estimated tax"] == pytest.approx(result.summary_value("Estimated tax"))
    assert figures["Realized on sells"] == pytest.approx(
        sum(t.realized_gain or 0 for t in trades if t.action == "SELL")
    )
    assert figures["Drift weights add to"] == pytest.approx(1.0)
    assert figures["Largest drift after"] == pytest.approx(
        result.summary_value("Largest drift after")
    )
    assert figures["Out of band (xlrb_drift)"] == sum(r.out_of_band for r in drift)
    assert figures["Household value"] == pytest.approx(sum(r.value for r in drift))

    # The first lot's gain and the wash-sale check, as the functions give them directly.
    lots = wb["TaxLots"]
    symbol, shares, basis, acquired = (lots[c].value for c in ("B2", "E2", "F2", "D2"))
    price = next(q.price for s, q in report.quotes.items() if s == symbol)
    lot_row = 4 + count + len(KEY_FIGURES) + 1
    valuation = dt.date(2026, 11, 20)
    gain, term = u.xlrb_lot_gain(float(shares), float(basis), acquired, price, valuation)[0]
    assert dash[f"B{lot_row}"].value == pytest.approx(gain, abs=0.01)
    assert dash[f"C{lot_row}"].value == term
    sheets = {
        name: [list(r) for r in wb[name].iter_rows(values_only=True)]
        for name in ("Transactions", "TaxLots", "Accounts", "Targets")
    }
    said = u.xlrb_wash_check(
        symbol,
        valuation,
        sheets["Transactions"],
        30,
        "sell",
        sheets["TaxLots"],
        sheets["Accounts"],
        sheets["Targets"],
        lots["C2"].value,
    )
    assert said == "clear"  # the demo's first lot was bought in 2019; nothing on record since
    assert dash[f"B{lot_row + 1}"].value == said


def test_every_formula_has_its_value_and_the_package_is_whole(recalculated_demo: dict):
    book, before = recalculated_demo["book"], recalculated_demo["before"]
    formulas, values = load_workbook(book), load_workbook(book, data_only=True)
    seen = 0
    for ws in formulas.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                text = getattr(cell.value, "text", cell.value)
                if isinstance(text, str) and text.startswith("="):
                    seen += 1
                    assert values[ws.title][cell.coordinate].value is not None, cell.coordinate
    report = recalculated_demo["report"]
    assert seen == report.recalculated.formulas and not report.recalculated.uncomputed
    # All computed: Excel keeps these values on open (no forced full recalculation), so a
    # machine without Python shows them too.
    assert not formulas.calculation.fullCalcOnLoad
    # Formulas, VBA and ribbon kept; the spills still dynamic arrays.
    # Every module reads back unchanged; the sheets the run added have their own
    # code-behind (tests/excel/test_vba.py).
    from tests.excel.test_vba import modules_of

    kept, now = modules_of(before), modules_of(book)
    assert all(now[name] == code for name, code in kept.items())
    with zipfile.ZipFile(before) as a, zipfile.ZipFile(book) as b:
        assert a.read("customUI/customUI14.xml") == b.read("customUI/customUI14.xml")
    assert ribbon_relationships(book) == ribbon_relationships(before)
    assert dynamic_arrays(book) == dynamic_cells(len(report.result.drift))
    log = load_workbook(book, data_only=True)["Log"]
    assert any(
        str(r[4]).startswith(f"Recalc: {seen} of {seen} formula cells")
        for r in log.iter_rows(values_only=True)
    )


def test_batch_recalculates_every_workbook(recalculated_demo: dict, tmp_path: Path):
    from xl_rebalancer.batch import BatchOptions, run_batch
    from xl_rebalancer.door import RunOptions

    books = []
    for name in ("a", "b"):
        books.append(tmp_path / f"{name}.xlsm")
        shutil.copyfile(recalculated_demo["before"], books[-1])
    run = RunOptions(prices_file=recalculated_demo["prices"], network=False, recalc=True)
    result = run_batch([str(b) for b in books], BatchOptions("rebalance", run, workers=1))
    assert [r.status for r in result.rows] == ["ok", "ok"]
    count = len(recalculated_demo["report"].result.drift)
    for book, row in zip(books, result.rows, strict=True):
        dash = load_workbook(book, data_only=True)[DASHBOARD]
        assert dash[f"B{4 + count}"].value == row.trades


@needs_libreoffice
@pytest.mark.libreoffice
def test_libreoffice_agrees_and_shows_our_values(recalculated_demo: dict, tmp_path: Path):
    book = recalculated_demo["book"]
    ours = load_workbook(book, data_only=True)[DASHBOARD]
    formulas = load_workbook(book)[DASHBOARD]
    # A viewer that never recalculates (LibreOffice's default for Excel files) shows the
    # values we stored, our functions' single-cell formulas included. LibreOffice
    # recomputes array formulas on every load whatever that setting says, so our
    # functions' spilled blocks are the exception there (docs/recalc.md, Limits).
    shown = convert(book, "xlsx", tmp_path / "shown", tmp_path / "lo1", recalc=False)
    viewed = load_workbook(shown, data_only=True)[DASHBOARD]
    blocks = set()
    for row in formulas.iter_rows():
        for cell in row:
            if isinstance(cell.value, ArrayFormula):
                blocks |= {c.coordinate for line in formulas[cell.value.ref] for c in line}
    wash = next(c for c in formulas["B"] if "xlrb_wash_check" in str(c.value))
    assert viewed[wash.coordinate].value == ours[wash.coordinate].value == "clear"
    for row in formulas.iter_rows():
        for cell in row:
            if cell.coordinate in blocks:
                continue
            mine = ours[cell.coordinate].value
            if isinstance(mine, float):
                assert viewed[cell.coordinate].value == pytest.approx(mine), cell.coordinate
            elif mine is not None:
                assert viewed[cell.coordinate].value == mine, cell.coordinate

    # LibreOffice's own recalculation of the ordinary formulas gives the same numbers.
    # Left out: cells calling our functions or reading their blocks (LibreOffice cannot
    # run them), and XLOOKUP (LibreOffice 7.4 lacks it; checked against the engine above).
    recalculated = convert(book, "xlsx", tmp_path / "recalc", tmp_path / "lo2")
    theirs = load_workbook(recalculated, data_only=True)[DASHBOARD]
    compared = 0
    for row in formulas.iter_rows():
        for cell in row:
            text = getattr(cell.value, "text", cell.value)
            if not (isinstance(text, str) and text.startswith("=")):
                continue
            if any(word in text.upper() for word in ("XLRB_", "ANCHORARRAY", "XLOOKUP")):
                continue
            mine, lo = ours[cell.coordinate].value, theirs[cell.coordinate].value
            if isinstance(mine, float):
                assert lo == pytest.approx(mine, rel=1e-12, abs=1e-9), (cell.coordinate, text)
            else:
                assert lo == mine, (cell.coordinate, text)
            compared += 1
    assert compared >= 5 * 4 + 6


def test_text_results_with_control_characters_are_escaped_as_excel_does(tmp_path: Path):
    """="a"&CHAR(11)&"b" is text with a vertical tab, which XML 1.0 cannot carry: Excel
    writes it as _x000B_ (ECMA-376 Part 1, 22.9.2.19 ST_Xstring), and a literal
    "_x0041_" as _x005F_x0041_ so it reads back as typed. Raw, the sheet would not be
    well-formed and Excel would offer to repair the file."""
    import zipfile
    from xml.etree import ElementTree

    wb = Workbook()
    ws = wb.active
    ws.title = "Dash"
    ws["A1"] = '="a"&CHAR(11)&"b"'
    ws["A2"] = '="_x0041_"&"z"'
    ws["A3"] = '="tab"&CHAR(9)&"ok"'
    ws["A4"] = '="<&>"'
    book = tmp_path / "control.xlsx"
    wb.save(book)
    _cli("recalc", book)
    with zipfile.ZipFile(book) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    root = ElementTree.fromstring(sheet)  # well-formed, or this raises
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    values = {c.get("r"): c.findtext("m:v", namespaces=ns) for c in root.iter(f"{{{ns['m']}}}c")}
    assert values["A1"] == "a_x000B_b"
    assert values["A2"] == "_x005F_x0041_z"
    assert values["A3"] == "tab\tok"
    assert values["A4"] == "<&>"
    assert b"\x0b" not in sheet


def test_a_save_without_recalc_makes_excel_compute_on_open(recalculated_demo: dict, tmp_path):
    """After `run --recalc` the demo is stamped as computed (no fullCalcOnLoad). A later
    save without --recalc drops the formulas' cached values (openpyxl keeps none), so it
    must ask Excel to compute on open, or Excel would show blank or stale results."""
    import zipfile

    def calc_pr(path: Path) -> str:
        with zipfile.ZipFile(path) as z:
            text = z.read("xl/workbook.xml").decode()
        return text[text.index("<calcPr") : text.index(">", text.index("<calcPr")) + 1]

    book = recalculated_demo["book"]
    assert 'fullCalcOnLoad="1"' not in calc_pr(book)
    again = tmp_path / "again.xlsm"
    _cli("drift", book, "--prices", recalculated_demo["prices"], "--out", again)
    assert 'fullCalcOnLoad="1"' in calc_pr(again)
    recalculated = tmp_path / "recalculated.xlsm"
    _cli("recalc", again, "--out", recalculated)
    assert 'fullCalcOnLoad="1"' not in calc_pr(recalculated)


def test_a_filled_down_formulas_tokens_are_its_own():
    """Tokens reused from a formula of the same shape (recalc._Workbook._tokens) are the
    tokenizer's own for every formula, digits in names, numbers, text and functions."""
    from openpyxl.formula.tokenizer import Tokenizer

    from xl_rebalancer.formulas.recalc import _Workbook

    book = _Workbook(Workbook(), {}, {})
    formulas = [
        "=A1+B1",
        "=A10+B10",
        "=SUM($A$1:A123)*1.5",
        "=SUM($A$1:A9)*22.25",
        '=IF(C7>0,"lot 7"&D7,LOG10(E7))',
        '=IF(C88>0,"lot 123"&D88,LOG10(E88))',
        "=IMLOG2(A1)+IMLOG10(A2)",
        "=IMLOG10(A1)+IMLOG10(A2)",
        "=1E+5*A1",
        "=0E+5*A2",  # a digit's value decides how 1E+5 tokenizes: never reused
        "=Sheet2!B3-'My 2 Sheet'!C4",
        "=Sheet9!B30-'My 7 Sheet'!C44",
        "= A1 + 2",
        "= A10 + 3",
    ]
    for text in formulas * 2:
        expected = [(t.type, t.subtype, t.value) for t in Tokenizer(text).items]
        assert book._tokens(text) == expected, text


def test_ranges_made_from_numbers_are_the_ones_formulas_reads_from_text():
    """recalc._range against formulas' Ranges.get_range on the A1 text of the same area."""
    import random

    from formulas.ranges import Ranges

    from xl_rebalancer.formulas.references import area
    from xl_rebalancer.formulas.values import _range

    rng = random.Random(7)
    titles = ["Grid", "My Sheet", "O'Brien", "Trades", "a.b", "2024", "A1", "Ünï-x"]
    for _ in range(3000):
        title = rng.choice(titles)
        c1, r1 = rng.randint(1, 16000), rng.randint(1, 1_000_000)
        c2 = min(c1 + rng.choice([0, 0, 1, 5]), 16384)
        r2 = min(r1 + rng.choice([0, 0, 1, 100]), 1_048_576)
        text = area(title, c1, r1, c2, r2).replace("$", "")
        assert _range(title, c1, r1, c2, r2) == Ranges.get_range(text), text
