"""The Report sheet: one printed page whose figures add up to the run's own sheets."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from xl_rebalancer.app import run_engine
from xl_rebalancer.door import RunOptions
from xl_rebalancer.report.page import ACCOUNT_TYPES, LARGEST_TRADES


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
    """The demo household rebalanced as a user does it: `xl-rebalancer demo FOLDER`."""
    folder = tmp_path_factory.mktemp("report") / "demo"
    run = subprocess.run(
        [sys.executable, "-m", "xl_rebalancer", "demo", str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    return folder / "demo_household.xlsm", None


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
    assert sum(r["Value"] for r in accounts) == pytest.approx(summary["Total value before"])
    assert sum(r["Cash before"] for r in accounts) == pytest.approx(summary["Cash before"])
    assert sum(r["Cash after"] for r in accounts) == pytest.approx(summary["Cash after"])
    for row in accounts:
        # What changes in a rebalance is what each account sells and buys (its value
        # moves only by its trading costs, so "before and after" bars were identical).
        mine = [t for t in trades if t["Account"] == row["Account"]]
        assert row["Sold"] == pytest.approx(sum(t["Value"] for t in mine if t["Action"] == "SELL"))
        assert row["Bought"] == pytest.approx(sum(t["Value"] for t in mine if t["Action"] == "BUY"))
        # Types in words for the client; the Accounts sheet keeps its codes.
        assert row["Type"] == ACCOUNT_TYPES[sheet_accounts[row["Account"]]["Type"]]
        assert "_" not in row["Type"]
    assert sum(r["Sold"] for r in accounts) == pytest.approx(summary["Sells"])

    figures = {r[None]: r["Amount"] for r in block(ws, "Tax and costs of the proposal")}
    # A negative tax (a harvest) is shown as a positive "Estimated tax saved".
    tax = figures.get("Estimated tax", -figures.get("Estimated tax saved", 0.0))
    assert tax == pytest.approx(summary["Estimated tax"])
    assert figures["Share of the portfolio traded"] == pytest.approx(summary["Turnover"])
    assert figures["Deposit or withdrawal"] == pytest.approx(abs(summary["Cash flow"]))
    assert figures["Realized long-term gain"] == pytest.approx(summary["Realized LT gain"])

    largest = block(ws, "Largest trades")
    expected = sorted(trades, key=lambda t: -abs(t["Value"]))[:LARGEST_TRADES]
    assert [(r["Account"], r["Symbol"], r["Value"]) for r in largest] == [
        (t["Account"], t["Symbol"], t["Value"]) for t in expected
    ]
    harvest = block(ws, "Losses available to harvest")
    losses = [r["Loss"] for r in harvest]
    assert losses == sorted(losses, reverse=True)
    sheet = {r["LotId"]: r for r in table(wb["TaxHarvest"])}
    assert losses[0] == max(r["UnrealizedLoss"] for r in sheet.values())
    # The page says what the TaxHarvest sheet says (it said "blocked" for every lot the
    # sheet called "clear", the text "clear" being true in Python).
    for row in harvest:
        assert row["Wash sale"] == sheet[row["Lot"]]["WashSale"]
    assert "clear" in {r["Wash sale"] for r in harvest}


def test_amounts_carry_the_currency_sign_and_stand_off_the_next_column(demo_run):
    book, _ = demo_run
    wb = load_workbook(book)
    ws = wb["Report"]
    subtitle = ws["A2"].value
    assert "$322,031.50 before" in subtitle and "estimated tax saved $1,110.00" in subtitle
    title = next(c for row in ws.iter_rows() for c in row if c.value == "By asset class")
    amount = ws.cell(row=title.row + 2, column=title.column + 1)
    assert amount.number_format == '"$"#,##0.00_);[Red]-"$"#,##0.00_)'
    # A text right after a figure is indented, so "1,110.00blocked" no longer touches.
    title = next(
        c for row in ws.iter_rows() for c in row if c.value == "Losses available to harvest"
    )
    assert ws.cell(row=title.row + 2, column=title.column + 5).alignment.indent == 1
    # The sheets' money keeps a parenthesis' width on its right ("6,085.00IJR-1").
    trades = wb["Trades"]
    header = [c.value for c in trades[1]]
    assert trades.cell(row=2, column=header.index("Value") + 1).number_format.endswith("_)")


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
    # Two native charts, each labelled by its block's first column; the accounts' one
    # shows what they sell and buy.
    charts = ws._charts
    assert len(charts) == 2
    assert [len(c.series) for c in charts] == [3, 2]
    title = next(c for row in ws.iter_rows() for c in row if c.value == "By account")
    header = [ws.cell(row=title.row + 1, column=title.column + i).value for i in range(7)]
    shown = [ws[s.tx.strRef.f.split("!")[1].replace("$", "")].value for s in charts[1].series]
    assert shown == ["Sold", "Bought"] and set(shown) <= set(header)
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


def test_a_household_on_hold_says_so_on_its_report(demo_run, tmp_path):
    """Settings do_not_trade: the page a client receives says the household is on hold,
    not only that nothing is proposed (the firm trial's held client read as if the plan
    had simply found nothing to do)."""
    book, _ = demo_run
    held = tmp_path / "held.xlsm"
    shutil.copyfile(book, held)
    prices = book.with_name("demo_prices.csv")
    wb = load_workbook(held, keep_vba=True)
    ws = wb["Settings"]
    row = next(c.row for c in ws["A"] if c.value == "do_not_trade")
    ws.cell(row=row, column=2, value=True)
    wb.save(held)
    report = run_engine(held, "rebalance", RunOptions(prices_file=prices))
    assert not report.result.trades
    texts = [c.value for r in load_workbook(held)["Report"].iter_rows() for c in r if c.value]
    assert any(isinstance(t, str) and "on hold (do_not_trade)" in t for t in texts), texts
