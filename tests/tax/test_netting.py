"""The year's netting, the loss limit and carryovers (IRC §1211(b), §1212(b); Schedule D).

Published examples: IRS Pub. 550, "Capital Losses" (Bob and Gloria's $7,000 loss:
$3,000 deducted on a joint return, $4,000 carried over; a $2,000 loss deducted in full);
the Capital Loss Carryover Worksheet in the Schedule D instructions; and the textbook
example of Rudy (South-Western Federal Taxation): net short-term loss $15,500, long-term
gain $11,600 and loss $4,500 net to a short-term loss of $8,400, $3,000 deducted and
$5,400 carried forward as short-term.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.tax.helpers import household, lot, run, sheet, summary
from xl_rebalancer.engine.tax import net_year

D = dt.date
RATES = {"st_rate": 0.37, "lt_rate": 0.20}


def test_pub_550_bob_and_gloria():
    year = net_year(0.0, -7000.0, status="married_joint", **RATES)
    assert (year.loss_deducted, year.lt_carryforward, year.st_carryforward) == (3000, 4000, 0)
    year = net_year(0.0, -2000.0, status="married_joint", **RATES)
    assert (year.loss_deducted, year.lt_carryforward) == (2000, 0)


def test_married_filing_separately_deducts_1500():
    year = net_year(-7000.0, 0.0, status="married_separate", **RATES)
    assert (year.loss_deducted, year.st_carryforward) == (1500, 5500)


def test_textbook_rudy_short_term_loss_against_long_term_gain():
    year = net_year(-15500.0, 11600.0 - 4500.0, **RATES)
    assert (year.st_net, year.lt_net, year.net) == (-15500, 7100, -8400)
    assert (year.loss_deducted, year.st_carryforward, year.lt_carryforward) == (3000, 5400, 0)
    assert year.tax == pytest.approx(-3000 * 0.37)


def test_worksheet_uses_short_term_loss_first_for_the_deduction():
    # Carryover Worksheet lines 5-13: ST loss 1,000 and LT loss 10,000: the $3,000
    # deduction takes the 1,000 short-term first, then 2,000 long-term.
    year = net_year(-1000.0, -10000.0, **RATES)
    assert (year.st_carryforward, year.lt_carryforward) == (0, 8000)


@pytest.mark.parametrize(
    ("st", "lt", "st_taxed", "lt_taxed"),
    [
        (5000, 3000, 5000, 3000),  # both gains keep their term
        (-2000, 5000, 0, 3000),  # ST loss reduces the LT gain: saves the LT rate only
        (5000, -2000, 3000, 0),  # LT loss reduces the ST gain: saves the ST rate
    ],
)
def test_gains_net_across_terms(st, lt, st_taxed, lt_taxed):
    year = net_year(st, lt, **RATES)
    assert (year.st_taxed, year.lt_taxed) == (st_taxed, lt_taxed)
    assert year.tax == pytest.approx(st_taxed * 0.37 + lt_taxed * 0.20)


def test_carryover_comes_in_by_character():
    # Schedule D lines 6 and 14: a $4,000 LT carryover absorbs a $3,000 LT gain; the
    # $1,000 left is deducted, nothing carried.
    year = net_year(0.0, 3000.0, lt_carryover=4000.0, **RATES)
    assert (year.lt_net, year.loss_deducted, year.lt_carryforward) == (-1000, 1000, 0)


def _loss_book(tmp_path: Path, **settings) -> Path:
    # One long-term lot sold at a $7,000 loss: basis 17,000, 100 shares at $100.
    return household(
        tmp_path / "netting.xlsx",
        lots=[
            lot("Taxable", "X", "X1", D(2020, 3, 2), 100, 17000),
            lot("Taxable", "Y", "Y1", D(2020, 3, 2), 100, 10000),
        ],
        targets={"X": 0.0, "Y": 1.0},
        prices={"X": 100.0, "Y": 100.0},
        valuation=D(2026, 6, 30),
        **settings,
    )


def test_a_run_that_harvests_more_than_the_limit_shows_the_year(tmp_path: Path):
    book = _loss_book(tmp_path, filing_status="married_joint")
    run("rebalance", book)
    s = summary(book)
    assert s["Realized LT gain"] == -7000
    assert s["Estimated tax per row, before netting"] == -1400  # 7,000 × 20%
    # Pub. 550: $3,000 deducted (at the ordinary rate), $4,000 carried over.
    assert s["Year loss against ordinary income"] == 3000
    assert s["LT loss carried to next year"] == 4000
    assert s["Estimated tax"] == pytest.approx(-1110)  # 3,000 × 37%


def test_the_same_loss_against_gains_already_realized_this_year(tmp_path: Path):
    # $9,000 of short-term gain realized earlier in the year: the $7,000 loss offsets it
    # at the short-term rate, nothing is carried.
    book = _loss_book(tmp_path, realized_st_ytd=9000)
    run("rebalance", book)
    s = summary(book)
    assert (s["Year net ST, carryover included"], s["Year net LT, carryover included"]) == (
        9000,
        -7000,
    )
    assert s["Estimated tax"] == pytest.approx(-7000 * 0.37)
    assert s["LT loss carried to next year"] == 0


def test_year_to_date_from_transactions_textbook_rudy(tmp_path: Path):
    # The year's sales on Transactions (the textbook's Rudy): ST -15,500, LT +11,600 and
    # -4,500. The run trades nothing; Summary shows the netted year.
    sells = [
        {
            "date": D(2026, 2, 3),
            "account": "Taxable",
            "symbol": "A",
            "action": "SELL",
            "shares": 100,
            "price": 10,
            "realized_gain": -15500,
            "term": "ST",
        },
        {
            "date": D(2026, 3, 3),
            "account": "Taxable",
            "symbol": "B",
            "action": "SELL",
            "shares": 100,
            "price": 200,
            "realized_gain": 11600,
            "acquired": D(2019, 1, 4),
        },
        {
            "date": D(2026, 4, 3),
            "account": "Taxable",
            "symbol": "C",
            "action": "SELL",
            "shares": 100,
            "price": 20,
            "realized_gain": -4500,
            "term": "LT",
        },
        # Last year's sale is not this year's.
        {
            "date": D(2025, 12, 30),
            "account": "Taxable",
            "symbol": "C",
            "action": "SELL",
            "shares": 1,
            "price": 20,
            "realized_gain": 99999,
            "term": "LT",
        },
    ]
    book = household(
        tmp_path / "rudy.xlsx",
        lots=[lot("Taxable", "Y", "Y1", D(2020, 3, 2), 100, 10000)],
        targets={"Y": 1.0},
        prices={"Y": 100.0},
        valuation=D(2026, 6, 30),
        transactions=sells,
    )
    run("rebalance", book)
    s = summary(book)
    assert (s["Year ST gain before this run"], s["Year LT gain before this run"]) == (
        -15500,
        7100,
    )
    assert s["Year net capital gain (loss)"] == -8400
    assert s["Year loss against ordinary income"] == 3000
    assert (s["ST loss carried to next year"], s["LT loss carried to next year"]) == (5400, 0)
    assert s["Estimated tax"] == 0  # the run itself realizes nothing


@pytest.mark.parametrize("path", ["exact", "relaxed"])
def test_the_solver_chooses_lots_by_the_netted_year(tmp_path: Path, monkeypatch, path):
    # Earlier this year: $10,000 short-term gain, $10,000 long-term loss (net 0). 100 X
    # must be sold. Lot A (short-term) gains $1,000, lot B (long-term) $1,500. Alone,
    # B looks cheaper (1,500 × 20% = 300 against 1,000 × 37% = 370); netted, B's gain
    # only shrinks the long-term loss that was offsetting short-term gain, so it costs
    # 1,500 × 37% = 555 and A, at 370, is the better sale. The large-household path (an
    # LP per netting regime) must choose the same.
    if path == "relaxed":
        monkeypatch.setattr("xl_rebalancer.engine.program.trades.EXACT_LIMIT", 0)
    book = household(
        tmp_path / "solver.xlsx",
        lots=[
            lot("Taxable", "X", "A", D(2026, 3, 2), 100, 9000),
            lot("Taxable", "X", "B", D(2020, 3, 2), 100, 8500),
            lot("Taxable", "Y", "Y1", D(2020, 3, 2), 100, 10000),
        ],
        targets={"X": 1 / 3, "Y": 2 / 3},
        prices={"X": 100.0, "Y": 100.0},
        valuation=D(2026, 6, 30),
        realized_st_ytd=10000,
        realized_lt_ytd=-10000,
        in_band_gains="allow",  # traded to the target, as worked by hand
    )
    run("rebalance", book)
    sells = [r for r in sheet(book, "Trades") if r["Action"] == "SELL"]
    assert [(r["LotId"], r["Shares"]) for r in sells] == [("A", 100)]
    assert summary(book)["Estimated tax"] == pytest.approx(370)
    log = " ".join(r["Message"] for r in sheet(book, "Log"))
    assert ("LP relaxation" in log) == (path == "relaxed")


def test_the_report_shows_a_harvest_as_tax_saved(tmp_path: Path):
    # Pub. 550's $3,000 limit on the $7,000 loss (married filing jointly): the run saves
    # 3,000 × 37% = 1,110. The client Report says "tax saved" with a positive figure
    # rather than a negative tax in red.
    from openpyxl import load_workbook

    book = _loss_book(tmp_path, filing_status="married_joint")
    run("rebalance", book)
    ws = load_workbook(book)["Report"]
    labels = {c.value: c for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert "Estimated tax" not in labels
    saved = labels["Estimated tax saved"]
    assert ws.cell(row=saved.row, column=saved.column + 1).value == pytest.approx(1110)
    assert "estimated tax saved $1,110.00" in str(ws["A2"].value)
    # The lot harvested is not washed: its row on the Report says clear, as TaxHarvest.
    lot = labels["X1"]
    assert ws.cell(row=lot.row, column=lot.column + 3).value == "clear"
