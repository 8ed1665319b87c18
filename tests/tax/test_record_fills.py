"""What `record-fills` books is what the run proposed, through the command line:
rebalance, then record-fills of the proposal as executed.

- Average cost (Reg. §1.1012-1(e); IRS Pub. 564 Table 3): the sale's basis is the
  average, and the shares kept keep the rest of the position's basis.
- A replacement buy (IRC §1091(d), §1223(3)): the lot takes the disallowed loss in its
  basis (WashAdjustment) and the tacked holding start, as the Trades row said.
- WashAdjustment is inside CostBasis (docs/workbook.md): a sale's basis is CostBasis,
  the adjustment not added twice.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.tax.helpers import household, lot, pub_564_table_3, run, schwab_example, sheet

D = dt.date


def test_pub_564_table_3_average_basis_is_what_record_fills_books(tmp_path: Path):
    # Pub. 564 Table 3: 410 shares costing $9,100; 210 sold at $32 have an average basis
    # of $4,660.98 (the oldest 160 + 50 would be $5,000); the 200 kept have $4,439.02.
    book = pub_564_table_3(tmp_path / "average.xlsx")
    run("rebalance", book)
    proposed = sum(r["CostBasis"] for r in sheet(book, "Trades") if r["Action"] == "SELL")
    assert proposed == pytest.approx(4660.98, abs=0.01)
    run("record-fills", book, "--date", "2009-10-01")
    sales = [r for r in sheet(book, "Transactions") if r["Action"] == "SELL"]
    assert sum(r["CostBasis"] for r in sales) == pytest.approx(4660.98, abs=0.01)
    assert sum(r["RealizedGain"] for r in sales) == pytest.approx(6720 - 4660.98, abs=0.01)
    kept = sheet(book, "TaxLots")
    assert sum(r["Shares"] for r in kept) == 200
    assert sum(r["CostBasis"] for r in kept) == pytest.approx(4439.02, abs=0.01)


def test_schwab_replacement_lot_is_booked_with_the_loss_and_tacked_holding(tmp_path: Path):
    # Schwab, "Understanding the wash-sale rule": 20 shares bought at $100 on 6/14, sold
    # at $90 on 6/15 (-$200), 10 bought back at $92 in this run 15 days later: the new
    # lot's basis is 920 + 100 and its holding period runs from 6/29 (6/30 less the one
    # day the sold shares were held: the brokers' tacking).
    book = schwab_example(tmp_path / "schwab.xlsx")
    run("rebalance", book)
    (buy,) = [t for t in sheet(book, "Trades") if t["Action"] == "BUY"]
    assert buy["CostBasis"] == 1020 and buy["HoldingStart"].date() == D(2026, 6, 29)
    run("record-fills", book, "--date", "2026-06-30")
    (booked,) = sheet(book, "TaxLots")
    assert (booked["Shares"], booked["CostBasis"], booked["WashAdjustment"]) == (10, 1020, 100)
    assert booked["Acquired"].date() == D(2026, 6, 30)
    assert booked["HoldingStart"].date() == D(2026, 6, 29)


def test_wash_adjustment_inside_cost_basis_is_not_added_twice(tmp_path: Path):
    # A lot with basis 1,200, of which 200 is a disallowed loss moved in (IRC §1091(d);
    # docs/workbook.md: WashAdjustment is already added to CostBasis), sold for 900: a
    # loss of 300 in the proposal and in the books, not 500.
    book = household(
        tmp_path / "inside.xlsx",
        lots=[lot("Taxable", "X", "X1", D(2024, 3, 1), 10, 1200, wash_adjustment=200)],
        targets={"CASH": 1.0},
        prices={"X": 90.0},
        valuation=D(2026, 6, 30),
    )
    run("rebalance", book)
    (sell,) = sheet(book, "Trades")
    assert (sell["CostBasis"], sell["RealizedGain"]) == (1200, -300)
    run("record-fills", book, "--date", "2026-06-30")
    (sale,) = [r for r in sheet(book, "Transactions") if r["Action"] == "SELL"]
    assert (sale["CostBasis"], sale["RealizedGain"]) == (1200, -300)


def test_a_replacement_lot_sold_in_the_same_run_is_booked_with_the_loss_it_took(
    tmp_path: Path,
):
    # IRC §1091(d), §1223(3), the A/R household: lot A (basis 5,000, 2020) sells at $45
    # for -500, washed into lot R (basis 4,200, bought ten days ago), which the run also
    # sells: R's sale is booked at basis 4,700, a -200 long-term loss, as proposed.
    book = household(
        tmp_path / "ar.xlsx",
        lots=[
            lot("Taxable", "X", "A", D(2020, 3, 2), 100, 5000),
            lot("Taxable", "X", "R", D(2026, 6, 20), 100, 4200),
        ],
        targets={"CASH": 1.0},
        prices={"X": 45.0},
        valuation=D(2026, 6, 30),
        allow_wash_sales=True,
    )
    run("rebalance", book)
    run("record-fills", book, "--date", "2026-06-30")
    sales = {r["Acquired"].date(): r for r in sheet(book, "Transactions")}
    r_sale = sales[D(2026, 6, 20)]
    assert (r_sale["CostBasis"], r_sale["RealizedGain"], r_sale["Term"]) == (4700, -200, "LT")
    # A's 500 is disallowed: booked as a gain of 0, its Form 8949 row code W.
    assert (sales[D(2020, 3, 2)]["CostBasis"], sales[D(2020, 3, 2)]["RealizedGain"]) == (5000, 0)
    run("realized", book)
    rows = sheet(book, "Realized")
    (a_row,) = [r for r in rows if r["DateAcquired"] and r["DateAcquired"].date() == D(2020, 3, 2)]
    assert (a_row["Proceeds"], a_row["CostBasis"], a_row["Code"]) == (4500, 5000, "W")
    assert (a_row["Adjustment"], a_row["GainLoss"]) == (500, 0)
    totals = [r for r in rows if r["Description"].startswith("Total")]
    assert sum(r["GainLoss"] for r in totals) == -200
