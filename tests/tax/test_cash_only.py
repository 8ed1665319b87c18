"""A household that sold everything this year still gets its Form 8949 sheet.

Issue 43: with nothing but cash, every command stopped with `internal error:
TypeError('unbound method set.intersection() needs an argument')` from the price
history of no symbols. The sale is the IRS VITA workout's: 50 sh. at $46 = 2,300 for
a lot bought for 2,000, a $300 short-term gain (Pub. 4491, "Capital Gain or Loss").
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.tax.helpers import household, run, sheet, summary

D = dt.date
DAY = D(2026, 6, 30)


def test_cash_only_household_gets_its_realized_sheet(tmp_path: Path):
    book = household(
        tmp_path / "cash.xlsx",
        lots=[],
        targets={"CASH": 1.0},
        prices={},
        valuation=DAY,
        cash=2300.0,
        transactions=[
            {
                "date": D(2026, 3, 2),
                "account": "Taxable",
                "symbol": "Z",
                "action": "SELL",
                "shares": 50,
                "price": 46,
                "realized_gain": 300,
                "acquired": D(2025, 11, 3),
            }
        ],
    )
    for command in ("validate", "drift", "rebalance", "realized"):
        run(command, book)
    rows = sheet(book, "Realized")
    sale = rows[0]
    assert (sale["Part"], sale["Description"]) == ("I", "50 sh. Z")
    assert (sale["Proceeds"], sale["CostBasis"], sale["GainLoss"]) == (2300, 2000, 300)
    assert summary(book)["Year net ST, carryover included"] == 300
