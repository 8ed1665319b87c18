"""Wash-sale matching order, through the command line (Treas. Reg. §1.1091-1(b), (c))."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.tax.helpers import household, lot, run, sheet

D = dt.date
DAY = D(2026, 6, 30)


def test_same_day_losses_wash_in_the_order_the_sold_shares_were_bought(tmp_path: Path):
    # Reg. §1.1091-1(b), (c); Fairmark, "Wash Sale Matching Rules": when two blocks are
    # sold at once, the replacement shares wash the loss of the block bought first.
    # Lot "A" (bought 2024) loses $10/share, lot "B" (bought 2022) $20/share; lot "R",
    # 50 shares bought ten days ago and kept, replaces 50 of the 200 shares sold: it
    # takes 50 × $20 = $1,000 of B's loss, not $500 of A's (ids sort the other way).
    book = household(
        tmp_path / "order.xlsx",
        lots=[
            lot("Taxable", "X", "A", D(2024, 6, 1), 100, 6000),
            lot("Taxable", "X", "B", D(2022, 3, 1), 100, 7000),
            lot("Taxable", "X", "R", D(2026, 6, 20), 50, 2450, lock="lock"),
            lot("Taxable", "Y", "Y1", D(2020, 1, 2), 75, 7500),
        ],
        # X 250 × $50 = 12,500 and Y 7,500: X at 2,500 / 20,000 sells A and B.
        targets={"X": 0.125, "Y": 0.875},
        prices={"X": 50.0, "Y": 100.0},
        valuation=DAY,
        allow_wash_sales=True,
        lot_method="hifo",
    )
    run("rebalance", book)
    sells = {r["LotId"]: r for r in sheet(book, "Trades") if r["Action"] == "SELL"}
    assert set(sells) == {"A", "B"}
    assert sells["B"]["RealizedGain"] == -1000.0  # -2,000 + 1,000 disallowed
    assert "1,000.00" in sells["B"]["Reason"] and "wash sale" in sells["B"]["Reason"]
    assert sells["A"]["RealizedGain"] == -1000.0  # all of A's loss stands
    assert "wash sale" not in sells["A"]["Reason"]
    log = [r["Message"] for r in sheet(book, "Log")]
    # R (bought 2026-06-20) tacks on the 1,582 days B was held: 2026-06-20 less 1,582
    # days is 2022-02-19 (B's 2022-03-01 less the 10 days R came before the sale).
    assert any(
        "add 1,000.00 to the basis of" in m and "lot R" in m and "2022-02-19" in m for m in log
    ), log


def test_a_loss_moved_into_a_lot_the_same_run_sells_stays_in_its_basis(tmp_path: Path):
    # IRC §1091(d): the disallowed loss is the replacement's basis, and §1223(3) tacks
    # the sold shares' holding period on. Lot A (100 sh, basis 5,000, 2020) sells at $45
    # for -500; lot R (100 sh, basis 4,200) was bought ten days ago and replaces it, and
    # the run sells R too (target: all cash). R's sale carries the 500: basis 4,700, a
    # -200 long-term loss (A's period tacked on), and the year nets -200, not +300.
    book = household(
        tmp_path / "ar.xlsx",
        lots=[
            lot("Taxable", "X", "A", D(2020, 3, 2), 100, 5000),
            lot("Taxable", "X", "R", D(2026, 6, 20), 100, 4200),
        ],
        targets={"CASH": 1.0},
        prices={"X": 45.0},
        valuation=DAY,
        allow_wash_sales=True,
    )
    run("rebalance", book)
    sells = {r["LotId"]: r for r in sheet(book, "Trades") if r["Action"] == "SELL"}
    assert set(sells) == {"A", "R"}
    assert sells["A"]["RealizedGain"] == 0  # all 500 disallowed
    assert (sells["R"]["CostBasis"], sells["R"]["RealizedGain"]) == (4700, -200)
    assert sells["R"]["Term"] == "LT"
    summary = {r["Key"]: r["Value"] for r in sheet(book, "Summary")}
    assert summary["Year net capital gain (loss)"] == -200
    assert summary["Year net LT, carryover included"] == -200
    rows = {
        r["Source"].split(", lot ")[-1]: r for r in sheet(book, "Realized") if "lot" in r["Source"]
    }
    assert (rows["R"]["Proceeds"], rows["R"]["CostBasis"], rows["R"]["GainLoss"]) == (
        4500,
        4700,
        -200,
    )
    assert rows["R"]["Part"] == "II"
