"""The Realized sheet: the tax year's sales in Form 8949's layout, through the command line.

Form 8949 instructions: column (d) proceeds, (e) cost basis, (f) code W for a wash
sale with (g) the disallowed loss as a positive adjustment, (h) = (d) - (e) + (g);
Part I short-term, Part II long-term. Numbers from Treas. Reg. §1.1091-1(h) Example 2
scaled into this run, and the IRS VITA workout's $2,300 sale with a $35 commission.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.tax.helpers import household, lot, run, sheet

D = dt.date
DAY = D(2026, 6, 30)

PAST = [
    # Sold in March: 50 sh. at $46 = 2,300; lot bought 2025-11-03 for 2,000 (ST, +300).
    {
        "date": D(2026, 3, 2),
        "account": "Taxable",
        "symbol": "Z",
        "action": "SELL",
        "shares": 50,
        "price": 46,
        "realized_gain": 300,
        "acquired": D(2025, 11, 3),
    },
    # In an IRA: never on Form 8949.
    {
        "date": D(2026, 3, 5),
        "account": "IRA",
        "symbol": "Z",
        "action": "SELL",
        "shares": 10,
        "price": 46,
        "realized_gain": 50,
        "term": "LT",
    },
]


def _book(tmp_path: Path) -> Path:
    # Reg. §1.1091-1(h) Example 2 in this run: lot A (100 sh., basis 5,000, bought
    # 2024-09-21) sells at $40 for a $1,000 loss; 75 replacement shares bought within 30
    # days (R1: 50 on 2026-06-21, R2: 25 on 2026-06-27, kept) wash $750 of it.
    path = household(
        tmp_path / "realized.xlsx",
        lots=[
            lot("Taxable", "M", "A", D(2024, 9, 21), 100, 5000),
            lot("Taxable", "M", "R1", D(2026, 6, 21), 50, 2750, lock="lock"),
            lot("Taxable", "M", "R2", D(2026, 6, 27), 25, 1125, lock="lock"),
            lot("Taxable", "Y", "Y1", D(2020, 1, 2), 100, 5000),
        ],
        # M 175 × 40 = 7,000, Y 10,000: target M at 3,000 sells the 100 of lot A.
        targets={"M": 3000 / 17000, "Y": 14000 / 17000},
        prices={"M": 40.0, "Y": 100.0},
        valuation=DAY,
        allow_wash_sales=True,
        transactions=PAST,
    )
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb["Accounts"]
    ws.append(["IRA", "tax_deferred", 0])
    wb.save(path)
    return path


def test_rebalance_lists_the_year_with_code_w_and_part_totals(tmp_path: Path):
    book = _book(tmp_path)
    run("rebalance", book)
    rows = sheet(book, "Realized")
    sales = [r for r in rows if not r["Description"].startswith("Total")]
    assert [(r["Part"], r["Description"], r["Source"].split(",")[0]) for r in sales] == [
        ("I", "50 sh. Z", "Transactions row 2"),
        ("II", "100 sh. M", "this run"),
    ]
    past, sale = sales
    assert (past["Proceeds"], past["CostBasis"], past["GainLoss"]) == (2300, 2000, 300)
    assert past["DateAcquired"].date() == D(2025, 11, 3)
    assert (sale["Proceeds"], sale["CostBasis"]) == (4000, 5000)
    assert (sale["Code"], sale["Adjustment"], sale["GainLoss"]) == ("W", 750, -250)
    assert sale["DateAcquired"].date() == D(2024, 9, 21) and sale["DateSold"].date() == DAY
    totals = {r["Part"]: r for r in rows if r["Description"].startswith("Total")}
    assert (totals["I"]["Proceeds"], totals["I"]["GainLoss"]) == (2300, 300)
    assert (totals["II"]["Adjustment"], totals["II"]["GainLoss"]) == (750, -250)


def test_realized_command_lists_recorded_sales_only(tmp_path: Path):
    book = _book(tmp_path)
    doc = run("realized", book)
    assert [r["description"] for r in doc["realized"]] == [
        "50 sh. Z",
        "Total Part I (short-term): to Schedule D, Part I",
    ]
    rows = sheet(book, "Realized")
    assert len(rows) == 2
    from openpyxl import load_workbook

    assert "Trades" not in load_workbook(book, read_only=True).sheetnames
