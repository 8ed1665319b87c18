"""Every workbook we write opens in LibreOffice, recalculates without errors and renders."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.conftest import REPO
from tests.libreoffice import convert, needs_libreoffice, render_png
from xl_rebalancer.app import run_engine
from xl_rebalancer.door import RunOptions

pytestmark = [needs_libreoffice, pytest.mark.libreoffice]

DASHBOARD = {
    "B1": "=COUNTA(Trades!A:A)-1",
    "B2": "=SUM(Trades!F:F)",
    "B3": '=INDEX(Summary!B:B,MATCH("Estimated tax",Summary!A:A,0))',
    "B4": '=SUMIF(Trades!C:C,"SELL",Trades!J:J)',
    "B5": "=SUM(Drift!D:D)",
}


def _pdf_pages(pdf: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf.read_bytes()))


def _page_text(pdf: Path, page: int) -> str:
    import subprocess

    return subprocess.run(
        ["pdftotext", "-f", str(page), "-l", str(page), str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_template_opens_and_renders(tmp_path: Path):
    pdf = convert(REPO / "workbook_template.xlsm", "pdf", tmp_path / "out", tmp_path / "lo")
    assert _pdf_pages(pdf) >= 10
    assert render_png(pdf, tmp_path / "out") or shutil.which("pdftoppm") is None


def test_demo_output_recalculates_and_renders(demo_files, tmp_path: Path):
    book, prices = demo_files
    work = tmp_path / "demo.xlsm"
    shutil.copyfile(book, work)
    report = run_engine(work, "rebalance", RunOptions(prices_file=prices))
    wb = load_workbook(work, keep_vba=True)
    ws = wb.create_sheet("Check")
    for cell, formula in DASHBOARD.items():
        ws[cell] = formula
    wb.save(work)

    recalculated = convert(work, "xlsx", tmp_path / "recalc", tmp_path / "lo")
    values = load_workbook(recalculated, data_only=True)["Check"]
    trades = report.result.trades
    assert values["B1"].value == len(trades)
    assert values["B2"].value == pytest.approx(sum(t.value for t in trades), abs=0.01)
    assert values["B3"].value == pytest.approx(report.result.summary_value("Estimated tax"))
    assert values["B4"].value == pytest.approx(
        sum(t.realized_gain or 0 for t in trades if t.action == "SELL"), abs=0.01
    )
    assert values["B5"].value == pytest.approx(1.0, abs=1e-9)
    errors = [
        (ws_.title, c.coordinate, c.value)
        for ws_ in load_workbook(recalculated, data_only=True).worksheets
        # The demo's own Dashboard calls our functions, which LibreOffice cannot run
        # (tests/test_recalc.py checks its ordinary formulas against LibreOffice).
        if ws_.title != "Dashboard"
        for row in ws_.iter_rows()
        for c in row
        if isinstance(c.value, str)
        and c.value.startswith("#")
        and c.value.endswith(("!", "?", "A"))
    ]
    assert not errors, errors

    pdf = convert(work, "pdf", tmp_path / "pdf", tmp_path / "lo")
    assert _pdf_pages(pdf) >= 10
    # The Report is the first sheet and prints on exactly one page.
    if shutil.which("pdftotext"):
        first, second = (_page_text(pdf, n) for n in (1, 2))
        assert "Rebalance proposal" in first and "Losses available to harvest" in first
        assert "By asset class" not in second and "Largest trades" not in second
    pngs = render_png(pdf, tmp_path / "pdf")
    assert all(p.stat().st_size > 1000 for p in pngs)
    with zipfile.ZipFile(work) as archive:
        assert any(n.startswith("xl/charts/chart") for n in archive.namelist())


def test_optimized_output_recalculates_and_renders(demo_files, tmp_path: Path):
    from tests.test_optimize import with_settings

    book, prices = demo_files
    work = with_settings(book, tmp_path / "opt.xlsm", strategy="max_sharpe")
    report = run_engine(work, "rebalance", RunOptions(prices_file=prices))
    wb = load_workbook(work, keep_vba=True)
    ws = wb.create_sheet("Check")
    ws["B1"] = '=SUMIF(OptimizedTargets!A:A,"<>Portfolio",OptimizedTargets!B:B)'
    ws["B2"] = '=INDEX(OptimizedTargets!F:F,MATCH("Portfolio",OptimizedTargets!A:A,0))'
    ws["B3"] = '=INDEX(Summary!B:B,MATCH("Tracking error after",Summary!A:A,0))'
    wb.save(work)
    recalculated = convert(work, "xlsx", tmp_path / "recalc", tmp_path / "lo")
    values = load_workbook(recalculated, data_only=True)["Check"]
    assert values["B1"].value == pytest.approx(1.0, abs=1e-9)
    assert values["B2"].value == pytest.approx(report.optimized.allocation.sharpe)
    assert values["B3"].value == pytest.approx(report.result.summary_value("Tracking error after"))
    pdf = convert(work, "pdf", tmp_path / "pdf", tmp_path / "lo")
    pngs = render_png(pdf, tmp_path / "pdf")
    assert pngs and all(p.stat().st_size > 1000 for p in pngs)


def test_apply_actions_output_opens_with_its_tables_and_totals(tmp_path: Path):
    """The rewritten TaxLots table (grown by the spin-off's new lot) opens in LibreOffice,
    and a SUM over its CostBasis column gives the basis the engine kept."""
    from tests.conftest import write_book
    from tests.test_apply_actions import BOOK, SETTINGS
    from xl_rebalancer.app import apply_corporate_actions

    work = write_book(tmp_path / "actions.xlsm", BOOK, SETTINGS)
    report = apply_corporate_actions(work)
    wb = load_workbook(work, keep_vba=True)
    ws = wb.create_sheet("Check")
    ws["A1"] = "=SUM(TaxLots!F:F)"
    ws["A2"] = "=COUNTA(TaxLots!C:C)-1"
    wb.save(work)
    recalculated = convert(work, "xlsx", tmp_path / "recalc", tmp_path / "lo")
    values = load_workbook(recalculated, data_only=True)["Check"]
    kept = sum(lot.cost_basis for lot in report.actions.lots)
    assert values["A1"].value == pytest.approx(kept) == pytest.approx(6356.00 - 2.34)
    assert values["A2"].value == len(report.actions.lots) == 2
    pdf = convert(work, "pdf", tmp_path / "pdf", tmp_path / "lo")
    pngs = render_png(pdf, tmp_path / "pdf")
    assert all(p.stat().st_size > 1000 for p in pngs)


def test_imported_and_filled_workbook_opens_with_its_tables(tmp_path: Path):
    """After import and record-fills (tables grown, a BrokerAccount and a Ref column added),
    LibreOffice opens the workbook and its sums over the rewritten tables match."""
    from tests.brokers.test_round_trip import FILES, start
    from xl_rebalancer.trading import import_files, record_fills

    work = start(tmp_path)
    import_files(work, [FILES / "ibkr_flex.xml", FILES / "statement.ofx"])
    run_engine(work, "rebalance")
    record_fills(work)
    wb = load_workbook(work, keep_vba=True)
    lots = [r for r in wb["TaxLots"].iter_rows(min_row=2, values_only=True) if r[0]]
    ws = wb.create_sheet("Check")
    ws["A1"] = "=SUM(TaxLots!E:E)"
    ws["A2"] = "=COUNTA(Transactions!A:A)-1"
    wb.save(work)
    recalculated = convert(work, "xlsx", tmp_path / "recalc", tmp_path / "lo")
    values = load_workbook(recalculated, data_only=True)["Check"]
    assert values["A1"].value == pytest.approx(sum(r[4] for r in lots))
    assert values["A2"].value >= 5
    pdf = convert(work, "pdf", tmp_path / "pdf", tmp_path / "lo")
    pngs = render_png(pdf, tmp_path / "pdf")
    assert all(p.stat().st_size > 1000 for p in pngs)
