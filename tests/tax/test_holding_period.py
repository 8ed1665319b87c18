"""Holding periods on the Trades sheet, through the command line.

Rev. Rul. 66-7 (calendar months, from the day after acquisition) and IRC §1223(9)
(inherited property is long-term).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.tax.helpers import household, lot, run, sheet

D = dt.date


def test_last_day_of_february_and_inherited_lots(tmp_path: Path):
    # Sold on 2024-02-29: lot F (bought 2023-02-28, the month's last day) has held
    # exactly one year by calendar months, so its gain is short-term; counting 366 days
    # would call it long-term. Lot I was inherited a month ago: long-term anyway.
    book = household(
        tmp_path / "terms.xlsx",
        lots=[
            lot("Taxable", "X", "F", D(2023, 2, 28), 10, 500),
            lot("Taxable", "Z", "I", D(2024, 1, 29), 10, 500, inherited=True),
            lot("Taxable", "Y", "Y1", D(2020, 1, 2), 10, 1000),
        ],
        targets={"X": 0.0, "Z": 0.0, "Y": 1.0},
        prices={"X": 60.0, "Z": 60.0, "Y": 100.0},
        valuation=D(2024, 2, 29),
    )
    run("rebalance", book)
    sells = {r["LotId"]: r for r in sheet(book, "Trades") if r["Action"] == "SELL"}
    assert sells["F"]["Term"] == "ST" and sells["F"]["EstTax"] == 37.0  # 100 × 37%
    assert sells["I"]["Term"] == "LT" and sells["I"]["EstTax"] == 20.0  # 100 × 20%


def test_inherited_shares_are_not_a_purchase_that_washes_a_loss(tmp_path: Path):
    # IRC §1091(a) disallows a loss when the taxpayer "has acquired (by purchase or by an
    # exchange on which the entire amount of gain or loss was recognized by law)"
    # identical stock; Reg. §1.1091-1(a). Shares inherited ten days ago are neither:
    # lot A's loss can be harvested now, and the rebalance may sell it.
    book = household(
        tmp_path / "inherited.xlsx",
        lots=[
            lot("Taxable", "X", "A", D(2024, 3, 1), 100, 6000),
            lot("Taxable", "X", "I", D(2026, 6, 20), 50, 2500, inherited=True),
            lot("Taxable", "Y", "Y1", D(2020, 1, 2), 100, 10000),
        ],
        targets={"X": 0.0, "Y": 1.0},
        prices={"X": 50.0, "Y": 100.0},
        valuation=D(2026, 6, 30),
        tlh_min_loss=0,
        tlh_min_loss_pct=0,
    )
    run("rebalance", book)
    harvest = {r["LotId"]: r for r in sheet(book, "TaxHarvest")}
    assert harvest["A"]["WashSale"] == "clear", harvest["A"]["BlockedBy"]
    assert harvest["A"]["UnrealizedLoss"] == 1000 and harvest["A"]["EstTaxSaving"] > 0
    sells = {r["LotId"]: r for r in sheet(book, "Trades") if r["Action"] == "SELL"}
    assert sells["A"]["RealizedGain"] == -1000
