"""Trading costs in gains and basis, through the command line.

IRS Pub. 550, "How To Figure Gain or Loss": the amount realized is what you receive
"minus your expenses of sale (such as ... sales commissions)"; "Stocks and Bonds": the
basis of stock you buy is "the purchase price plus the costs of purchase, such as
commissions". Numbers from the IRS VITA "Capital Gain or Loss Workout", Case Study 1:
Richard sold stock for $2,300 and paid a $35 commission: net proceeds $2,265.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.tax.helpers import household, lot, run, sheet, summary

D = dt.date


def test_sale_commission_reduces_the_gain_and_purchase_commission_adds_to_basis(
    tmp_path: Path,
):
    # 100 shares of X sold at $23.00 = $2,300, with a commission of $35 (cost_bps set
    # so the estimate is exactly $35); the lot's basis is $1,500, held since 2020.
    bps = 35 / 2300 * 10_000
    book = household(
        tmp_path / "costs.xlsx",
        lots=[lot("Taxable", "X", "X1", D(2020, 3, 2), 100, 1500)],
        targets={"X": 0.0, "Y": 1.0},
        prices={"X": 23.0, "Y": 10.0},
        valuation=D(2026, 6, 30),
        cost_bps=bps,
    )
    run("rebalance", book)
    trades = sheet(book, "Trades")
    [sell] = [t for t in trades if t["Action"] == "SELL"]
    assert (sell["Value"], sell["EstCost"]) == (2300.0, 35.0)
    assert sell["CostBasis"] == 1500.0
    assert sell["RealizedGain"] == 765.0  # 2,265 amount realized - 1,500 basis
    assert sell["EstTax"] == 153.0  # long-term: 765 × 20%
    [buy] = [t for t in trades if t["Action"] == "BUY"]
    assert buy["EstCost"] > 0
    assert buy["CostBasis"] == round(buy["Value"] + buy["EstCost"], 2)
    assert buy["Acquired"].date() == D(2026, 6, 30)
    assert summary(book)["Realized LT gain"] == 765.0


def test_form_8949_row_of_a_recorded_sale_adds_up_net_of_the_commission(tmp_path: Path):
    # Form 8949 instructions, column (h): (d) proceeds − (e) basis + (g) adjustment. The
    # VITA sale recorded by record-fills ($2,300 less the $35 commission): the Realized
    # row shows proceeds of $2,265, as the gain of $765 is after the commission.
    bps = 35 / 2300 * 10_000
    book = household(
        tmp_path / "recorded.xlsx",
        lots=[lot("Taxable", "X", "X1", D(2020, 3, 2), 100, 1500)],
        targets={"CASH": 1.0},
        prices={"X": 23.0},
        valuation=D(2026, 6, 30),
        cost_bps=bps,
    )
    run("rebalance", book)
    run("record-fills", book, "--date", "2026-06-30")
    run("realized", book)
    (row,) = [r for r in sheet(book, "Realized") if r["Source"].startswith("Transactions")]
    assert (row["Proceeds"], row["CostBasis"], row["GainLoss"]) == (2265, 1500, 765)
    assert row["Proceeds"] - row["CostBasis"] + (row["Adjustment"] or 0) == row["GainLoss"]
