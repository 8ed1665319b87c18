"""The average-cost method for mutual funds, through the command line.

IRS Pub. 564 (2009), Table 3, single-category method: $4,000 invested on 2/6/08 at $25
(160 shares), $4,800 on 8/7/08 at $20 (240), a $300 dividend reinvested on 12/18/08 at
$30 (10): 410 shares costing $9,100. 210 shares sold on 10/1/09 at $32 ($6,720): their
average basis is 210 × $9,100 / 410 = $4,660.98 (FIFO would give $5,000). Pub. 550 /
564: "the shares disposed of are considered to be those acquired first" for the
holding period; the LJO example there (200 shares bought May 15, 2008 and 200 on May
14, 2009; 300 sold November 10, 2009) gives 200 long-term and 100 short-term shares.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.tax.helpers import household, lot, pub_564_table_3, run, sheet

D = dt.date


def test_pub_564_table_3_single_category_average_basis(tmp_path: Path):
    book = pub_564_table_3(tmp_path / "average.xlsx")
    run("rebalance", book)
    sells = [r for r in sheet(book, "Trades") if r["Action"] == "SELL"]
    # First in, first out for the term: 160 of L1 and 50 of L2, all long-term.
    assert [(r["LotId"], r["Shares"], r["Term"]) for r in sells] == [
        ("L1", 160, "LT"),
        ("L2", 50, "LT"),
    ]
    assert sum(r["Shares"] for r in sells) == 210
    assert sum(r["CostBasis"] for r in sells) == pytest.approx(4660.98, abs=0.01)
    assert sum(r["RealizedGain"] for r in sells) == pytest.approx(6720 - 4660.98, abs=0.01)


def test_average_cost_term_split_first_in_first_out(tmp_path: Path):
    # The LJO dates: 300 of 400 shares sold on 2009-11-10: the 200 bought 2008-05-15 are
    # long-term, 100 of those bought 2009-05-14 short-term, each at the average basis.
    book = household(
        tmp_path / "ljo.xlsx",
        lots=[
            lot("Taxable", "LJO", "A", D(2008, 5, 15), 200, 2000),
            lot("Taxable", "LJO", "B", D(2009, 5, 14), 200, 3000),
        ],
        targets={"LJO": 0.25, "CASH": 0.75},
        prices={"LJO": 20.0},
        valuation=D(2009, 11, 10),
        lot_method="average",
        in_band_gains="allow",  # traded to the target, as worked by hand
    )
    run("rebalance", book)
    sells = [r for r in sheet(book, "Trades") if r["Action"] == "SELL"]
    assert [(r["LotId"], r["Shares"], r["Term"], r["CostBasis"]) for r in sells] == [
        ("A", 200, "LT", 2500.0),  # average $12.50 a share
        ("B", 100, "ST", 1250.0),
    ]
