"""The Report sheet: one printed page whose figures add up to the run's own sheets."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from xl_rebalancer.app import RunOptions, run_engine
from xl_rebalancer.io.report import LARGEST_TRADES


def block(ws: Any, title: str) -> list[dict[str, Any]]:
    """The rows under a block title, read from the sheet as a user sees it."""
    found = [c for row in ws.iter_rows() for c in row if c.value == title]
    assert len(found) == 1, title
    top, left = found[0].row, found[0].column
    header = [ws.cell(row=top + 1, column=left + i).value for i in range(8)]
    width = next((i for i, h in enumerate(header) if h is None and i), len(header))
    rows = []
    row = top + 2
    while ws.cell(row=row, column=left).value is not None:
        values = [ws.cell(row=row, column=left + i).value for i in range(width)]
        if not isinstance(values[-1], int | float) and values[1] is None:
            break  # the block's note
        rows.append(dict(zip(header[:width], values, strict=True)))
        row += 1
    return rows


def table(ws: Any) -> list[dict[str, Any]]:
    values = list(ws.iter_rows(values_only=True))
    return [dict(zip(values[0], r, strict=False)) for r in values[1:] if r[0] is not None]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    from xl_rebalancer.demo import write_demo

    folder = tmp_path_factory.mktemp("report")
    book, prices = write_demo(folder)
    report = run_engine(book, "rebalance", RunOptions(prices_file=prices))
    return book, report


def test_report_adds_up_to_the_summary_trades_and_accounts(demo_run):
    book, _ = demo_run
    wb = load_workbook(book)
    ws = wb["Report"]
    summary = {r["Key"]: r["Value"] for r in table(wb["Summary"])}
    trades = table(wb["Trades"])

    classes = block(ws, "By asset class")
    assert sum(r["Before"] for r in classes) == pytest.approx(summary["Total value before"])
    assert sum(r["After"] for r in classes) == pytest.approx(summary["Total value after"])
    assert sum(r["Before %"] for r in classes) == pytest.approx(1.0)
    assert sum(r["Target %"] for r in classes) == pytest.approx(1.0)
    drift = {r["AssetClass"]: r for r in table(wb["Drift"])}
    for row in classes:
        assert row["After %"] == pytest.approx(drift[row["Asset class"]]["PostTradeWeight"])

    accounts = block(ws, "By account")
    sheet_accounts = {r["Account"]: r for r in table(wb["Accounts"])}
    assert {r["Account"] for r in accounts} == set(sheet_accounts)
    assert sum(r["Before"] for r in accounts) == pytest.approx(summary["Total value before"])
    assert sum(r["After"] for r in accounts) == pytest.approx(summary["Total value after"])
    assert sum(r["Cash after"] for r in accounts) == pytest.approx(summary["Cash after"])
    for row in accounts:
        # At unchanged prices an account's value moves only by its trading costs.
        costs = sum(t["EstCost"] for t in trades if t["Account"] == row["Account"])
        assert row["After"] == pytest.approx(row["Before"] - costs, abs=0.01)
        assert row["Type"] == sheet_accounts[row["Account"]]["Type"]

    figures = {r[None]: r["Amount"] for r in block(ws, "Tax and costs of the proposal")}
    # A negative tax (a harvest) is shown as a positive "Estimated tax saved".
    tax = figures.get("Estimated tax", -figures.get("Estimated tax saved", 0.0))
    assert tax == pytest.approx(summary["Estimated tax"])
    assert figures["Turnover"] == pytest.approx(summary["Turnover"])
    assert figures["Realized long-term gain"] == pytest.approx(summary["Realized LT gain"])

    largest = block(ws, "Largest trades")
    expected = sorted(trades, key=lambda t: -abs(t["Value"]))[:LARGEST_TRADES]
    assert [(r["Account"], r["Symbol"], r["Value"]) for r in largest] == [
        (t["Account"], t["Symbol"], t["Value"]) for t in expected
    ]
    harvest = block(ws, "Losses available to harvest")
    losses = [r["Loss"] for r in harvest]
    assert losses == sorted(losses, reverse=True)
    assert losses[0] == max(r["UnrealizedLoss"] for r in table(wb["TaxHarvest"]))


def test_workbook_opens_on_the_report_printed_on_one_page(demo_run):
    book, _ = demo_run
    wb = load_workbook(book, keep_vba=True)
    ws = wb["Report"]
    assert wb.active.title == "Report"
    assert [w.title for w in wb.worksheets if w.sheet_view.tabSelected] == ["Report"]
    assert wb.sheetnames[0] == "Report"
    setup = ws.page_setup
    assert (setup.orientation, setup.fitToWidth, setup.fitToHeight) == ("landscape", 1, 1)
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    # Two native charts, each labelled by its block's first column.
    charts = ws._charts
    assert len(charts) == 2
    assert [len(c.series) for c in charts] == [3, 2]
    # A second run replaces the page in place and keeps it first.
    work = book.with_name("again.xlsm")
    shutil.copy(book, work)
    run_engine(work, "rebalance", RunOptions(prices_file=book.with_name("demo_prices.csv")))
    assert load_workbook(work).sheetnames.count("Report") == 1


def test_other_commands_open_on_their_own_sheet(demo_run):
    book, _ = demo_run
    for command, sheet in (("drift", "Drift"), ("harvest", "TaxHarvest")):
        work = book.with_name(f"{command}.xlsm")
        shutil.copy(book, work)
        run_engine(work, command, RunOptions(prices_file=book.with_name("demo_prices.csv")))
        wb = load_workbook(work)
        assert wb.active.title == sheet
        assert [w.title for w in wb.worksheets if w.sheet_view.tabSelected] == [sheet]
