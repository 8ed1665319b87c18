"""A washed loss is deducted once: the part a replacement disallows leaves the year's
netting and is Form 8949's code W adjustment, through the command line.

Each case is a recorded loss sale (Transactions) that this run's BUY washes, with
`allow_wash_sales` TRUE, asserting the Summary's netted year and the Realized row
(Form 8949 instructions: (d) proceeds − (e) basis + (g) adjustment = (h)).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.tax.helpers import household, lot, run, schwab_example, sheet, summary

D = dt.date
DAY = D(2026, 6, 30)


def _sale(day: dt.date, symbol: str, shares: float, price: float, gain: float, **extra):
    return {
        "date": day,
        "account": "Taxable",
        "symbol": symbol,
        "action": "SELL",
        "shares": shares,
        "price": price,
        "realized_gain": gain,
        **extra,
    }


def _recorded(book: Path) -> dict:
    return next(r for r in sheet(book, "Realized") if r["Source"] == "Transactions row 2")


def test_schwab_twenty_sold_at_a_loss_ten_bought_back_fifteen_days_later(tmp_path: Path):
    # Schwab, "Understanding the wash-sale rule" (schwab.com/learn): 20 shares bought at
    # $100 and sold at $90 (a $200 loss); 15 days later 10 shares bought back at $92.
    # The loss on the 10 replaced shares ($100) goes into their basis; the other $100
    # is deductible. The rebuy is this run's: $920 of cash, all into XYZ.
    book = schwab_example(tmp_path / "schwab.xlsx")
    run("rebalance", book)
    (buy,) = [t for t in sheet(book, "Trades") if t["Action"] == "BUY"]
    assert (buy["Shares"], buy["CostBasis"]) == (10, 1020)  # 920 + the 100 moved in
    s = summary(book)
    assert s["Year net ST, carryover included"] == -100
    assert s["Year loss against ordinary income"] == 100
    assert s["Recorded loss washed by this run's buys"] == 100
    row = _recorded(book)
    assert (row["Proceeds"], row["CostBasis"], row["Code"]) == (1800, 2000, "W")
    assert (row["Adjustment"], row["GainLoss"]) == (100, -100)


def test_mstr_wash_sale_with_commissions_deducts_62_68(tmp_path: Path):
    # The Motley Fool board's MSTR example: 180 sh bought at 26.75 + $12 (basis 4,827),
    # sold at 23.75 less $12.15 (a 564.15 loss); 16 days later 160 sh bought at 26.50 +
    # $12 (4,252). 564.15 × 160/180 = 501.47 is disallowed and moves into the new basis
    # (4,753.47); 62.68 is deductible. The $12 is this run's cost (cost_bps on 4,240).
    book = household(
        tmp_path / "mstr.xlsx",
        lots=[],
        targets={"MSTR": 1.0},
        prices={"MSTR": 26.5},
        valuation=DAY,
        cash=4260.0,  # 160 shares and the $12, and less than a share over
        transactions=[
            _sale(
                D(2026, 6, 14),
                "MSTR",
                180,
                23.75,
                -564.15,
                acquired=D(2026, 6, 7),
                cost_basis=4827,
            )
        ],
        allow_wash_sales=True,
        cost_bps=12 / 4240 * 10_000,
    )
    run("rebalance", book)
    (buy,) = [t for t in sheet(book, "Trades") if t["Action"] == "BUY"]
    assert buy["Shares"] == 160 and buy["EstCost"] == 12
    assert buy["CostBasis"] == pytest.approx(4753.47)
    s = summary(book)
    assert s["Year net ST, carryover included"] == pytest.approx(-62.68)
    row = _recorded(book)
    # Proceeds net of the $12.15 commission (4,275 − 12.15), as the gain is.
    assert (row["Proceeds"], row["CostBasis"], row["Code"]) == (4262.85, 4827, "W")
    assert row["Adjustment"] == pytest.approx(501.47)
    assert row["GainLoss"] == pytest.approx(-62.68)


def test_rev_rul_2008_5_ira_rebuy_disallows_the_loss_for_good(tmp_path: Path):
    # Rev. Rul. 2008-5: shares sold at a loss in a taxable account and bought back by
    # the owner's IRA within 30 days: the loss is disallowed and the IRA's basis does
    # not take it. Here 100 sh sold at $20 the day before for a $400 loss, and this
    # run's IRA buys 100: nothing is deducted, nothing against ordinary income.
    book = household(
        tmp_path / "ira.xlsx",
        lots=[],
        targets={"X": 1.0},
        prices={"X": 20.0},
        valuation=DAY,
        transactions=[
            _sale(D(2026, 6, 29), "X", 100, 20, -400, acquired=D(2026, 1, 5), cost_basis=2400)
        ],
        allow_wash_sales=True,
    )
    wb = load_workbook(book)
    wb["Accounts"].append(["IRA", "tax_deferred", 2000])
    wb.save(book)
    run("rebalance", book)
    (buy,) = [t for t in sheet(book, "Trades") if t["Action"] == "BUY"]
    assert (buy["Account"], buy["Shares"]) == ("IRA", 100)
    s = summary(book)
    assert s["Year net ST, carryover included"] == 0
    assert s["Year loss against ordinary income"] == 0
    assert s["ST loss carried to next year"] == 0
    log = [r["Message"] for r in sheet(book, "Log")]
    assert any("for good" in m for m in log), log
    row = _recorded(book)
    assert (row["Proceeds"], row["CostBasis"], row["Code"]) == (2000, 2400, "W")
    assert (row["Adjustment"], row["GainLoss"]) == (400, 0)


def test_form_8949_code_w_for_a_recorded_sale_and_a_recorded_rebuy(tmp_path: Path):
    # Form 8949 instructions, "Column (f)—Code" W and "Column (g)": a loss sale and the
    # purchase that washes it, both on record (the BUY row and its lot, as record-fills
    # writes them): 100 sh sold for 4,800 with a basis of 5,200, the same fund bought
    # three weeks later. The row shows the 400 as the adjustment, gain 0; the year nets
    # nothing; the Log says what the replacement lot's basis takes.
    book = household(
        tmp_path / "pair.xlsx",
        lots=[lot("Taxable", "X", "X-20260522", D(2026, 5, 22), 100, 5000)],
        targets={"X": 1.0},
        prices={"X": 50.0},
        valuation=DAY,
        transactions=[
            _sale(D(2026, 5, 1), "X", 100, 48, -400, acquired=D(2025, 3, 3), cost_basis=5200),
            {
                "date": D(2026, 5, 22),
                "account": "Taxable",
                "symbol": "X",
                "action": "BUY",
                "shares": 100,
                "price": 50,
                "acquired": D(2026, 5, 22),
                "cost_basis": 5000,
            },
        ],
    )
    run("realized", book)
    row = _recorded(book)
    assert (row["Part"], row["Proceeds"], row["CostBasis"]) == ("II", 4800, 5200)
    assert (row["Code"], row["Adjustment"], row["GainLoss"]) == ("W", 400, 0)
    run("rebalance", book)
    s = summary(book)
    assert s["Year LT gain before this run"] == 0
    assert s["Year net capital gain (loss)"] == 0
    assert s["Recorded loss washed by this run's buys"] == 0
    assert _recorded(book)["GainLoss"] == 0
    log = [r["Message"] for r in sheet(book, "Log")]
    # Its holding period tacks on the 424 days the sold shares were held (§1223(3)).
    assert any(
        "add 400.00 to its CostBasis and its WashAdjustment" in m
        and "X-20260522" in m
        and "2025-03-24" in m
        for m in log
    ), log
