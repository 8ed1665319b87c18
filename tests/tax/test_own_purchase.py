"""A lot's own purchase never washes its own sale (Rev. Rul. 56-602), through the
round trip a user makes: rebalance, record-fills, then harvest.

`record-fills` writes each buy twice, as the TaxLots lot and as its Transactions BUY
row. Rev. Rul. 56-602: the loss on shares sold out of a block is not washed by the
block's own purchase (the shares sold are not their own replacement); §1091 asks for
*other* substantially identical shares acquired within the window.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from openpyxl import load_workbook

from tests.tax.helpers import household, run, schwab_example, sheet

D = dt.date


def _move_on(book: Path, day: dt.date, price: float) -> None:
    """Ten days later the fund is down: a new valuation date and price."""
    wb = load_workbook(book)
    for row in wb["Settings"].iter_rows(min_row=2):
        if row[0].value == "valuation_date":
            row[1].value = day
    for row in wb["Prices"].iter_rows(min_row=2):
        if row[0].value == "X":
            row[1].value, row[2].value = price, day
    wb.save(book)


def test_rev_rul_56_602_a_lot_bought_through_record_fills_is_harvestable(tmp_path: Path):
    book = household(
        tmp_path / "own.xlsx",
        lots=[],
        targets={"X": 1.0},
        prices={"X": 50.0},
        valuation=D(2026, 6, 10),
        cash=5000.0,
        tlh_min_loss=0,
        tlh_min_loss_pct=0,
    )
    run("rebalance", book)
    run("record-fills", book, "--date", "2026-06-10")
    recorded = {r["Action"] for r in sheet(book, "Transactions")}
    assert recorded == {"BUY"} and len(sheet(book, "TaxLots")) == 1
    _move_on(book, D(2026, 6, 20), 40.0)
    run("harvest", book)
    (row,) = sheet(book, "TaxHarvest")
    assert (row["LotId"], row["UnrealizedLoss"]) == ("X-20260610", 1000)
    assert row["WashSale"] == "clear", row["BlockedBy"]
    assert row["EstTaxSaving"] > 0


def test_rev_rul_56_602_a_recorded_sale_is_not_washed_by_its_own_buy_row(tmp_path: Path):
    # Schwab's example (schwab.com/learn, "Understanding the wash-sale rule") as
    # record-fills leaves it: 20 shares bought at $100 (the BUY row; the lot is gone,
    # all sold), sold the next day at $90 (a $200 loss), 10 bought back 15 days later
    # in this run. The replacement is this run's BUY, not the sold shares' own purchase:
    # it takes $100 of the loss, and the year deducts the other $100.
    book = schwab_example(tmp_path / "schwab-own.xlsx", buy_row=True)
    run("rebalance", book)
    (buy,) = [t for t in sheet(book, "Trades") if t["Action"] == "BUY"]
    assert (buy["Shares"], buy["CostBasis"]) == (10, 1020)
    (sale,) = [r for r in sheet(book, "Realized") if r["Source"] == "Transactions row 3"]
    assert (sale["Code"], sale["Adjustment"], sale["GainLoss"]) == ("W", 100, -100)
    summary = {r["Key"]: r["Value"] for r in sheet(book, "Summary")}
    assert summary["Year net ST, carryover included"] == -100
