"""Wash sales the user allows: the disallowed loss is moved as the IRS moves it.

Worked by hand in the manner of IRS Pub. 550 ("Wash Sales") and Reg. §1.1091-1(b)/(d):
the disallowed part of a loss is loss × replacement shares / shares sold, it is added to
the replacement shares' basis, and their holding period includes the sold shares'.
"""

from __future__ import annotations

import datetime as dt

from xl_rebalancer.engine.rebalance import rebalance
from xl_rebalancer.models import (
    Account,
    Holding,
    Portfolio,
    Settings,
    Target,
    TaxLot,
    Transaction,
)

D = dt.date
VALUATION = D(2026, 6, 30)
PRICES = {"X": 50.0, "Y": 100.0}


def book(*, lots, holdings, cash=0.0, ira_cash=0.0, transactions=(), x_weight=0.3, **settings):
    return Portfolio(
        settings=Settings(
            valuation_date=VALUATION,
            trigger="always",
            **({"allow_wash_sales": True, "cost_bps": 0, "min_trade_value": 0} | settings),
        ),
        accounts=(
            Account(account="T", type="taxable", cash=cash),
            Account(account="IRA", type="tax_deferred", cash=ira_cash),
        ),
        holdings=tuple(holdings),
        lots=tuple(lots),
        targets=(
            Target(symbol="X", target_weight=x_weight),
            Target(symbol="Y", target_weight=1 - x_weight),
        ),
        transactions=tuple(transactions),
    )


def test_recent_purchase_takes_part_of_the_loss_of_an_older_lot():
    # Household 10,000: X 140 sh × $50 = 7,000, Y 30 × $100 = 3,000. Target X 30%:
    # sell 80 X. min_tax sells the old loss lot L1 (basis $60, loss $10/sh = $800).
    # L2 (40 sh) was bought 10 days ago: it replaces 40 of the 80 shares sold, so
    # 40/80 × 800 = $400 is disallowed and moves into L2's basis; $400 stays deductible.
    lots = [
        TaxLot(
            account="T",
            symbol="X",
            lot_id="L1",
            acquired=D(2024, 1, 2),
            shares=100,
            cost_basis=6000,
        ),
        TaxLot(
            account="T",
            symbol="X",
            lot_id="L2",
            acquired=D(2026, 6, 20),
            shares=40,
            cost_basis=1960,
        ),
        TaxLot(
            account="T", symbol="Y", lot_id="Y1", acquired=D(2020, 1, 2), shares=30, cost_basis=3000
        ),
    ]
    holdings = [
        Holding(account="T", symbol="X", shares=140),
        Holding(account="T", symbol="Y", shares=30),
    ]
    result = rebalance(book(lots=lots, holdings=holdings), PRICES)
    sells = [t for t in result.trades if t.action == "SELL"]
    assert [(t.lot_id, t.shares) for t in sells] == [("L1", 80)]
    sale = sells[0]
    assert sale.cost_basis == 4800.0
    assert sale.realized_gain == -400.0  # -800 + 400 disallowed
    assert sale.est_tax == -80.0  # 400 × 20% long-term rate
    assert "400.00" in sale.reason and "wash sale" in sale.reason
    notes = [w.message for w in result.warnings if "add 400.00 to the basis" in w.message]
    # Tacked holding period: L2 (bought 2026-06-20) counts the 910 days L1 was held
    # (2024-01-02 to 2026-06-30), so its holding date is 2023-12-23.
    assert len(notes) == 1 and "lot L2" in notes[0] and "2023-12-23" in notes[0]


def test_without_permission_the_recent_purchase_blocks_the_loss_lot():
    lots = [
        TaxLot(
            account="T",
            symbol="X",
            lot_id="L1",
            acquired=D(2024, 1, 2),
            shares=100,
            cost_basis=6000,
        ),
        TaxLot(
            account="T",
            symbol="X",
            lot_id="L2",
            acquired=D(2026, 6, 20),
            shares=40,
            cost_basis=1960,
        ),
    ]
    holdings = [
        Holding(account="T", symbol="X", shares=140),
        Holding(account="T", symbol="Y", shares=30),
    ]
    portfolio = book(lots=lots, holdings=holdings, allow_wash_sales=False)
    result = rebalance(portfolio, PRICES)
    assert {t.lot_id for t in result.trades if t.action == "SELL"} == {"L2"}


def after_a_recorded_loss_sale(**cash: float) -> object:
    """20 X held (one old lot); 100 X sold 20 days ago at a $500 loss, on Transactions."""
    lot = TaxLot(
        account="T", symbol="X", lot_id="L1", acquired=D(2020, 1, 2), shares=20, cost_basis=800
    )
    sale = Transaction(
        date=D(2026, 6, 10),
        account="T",
        symbol="X",
        action="SELL",
        shares=100,
        price=45,
        realized_gain=-500,
    )
    holdings = [Holding(account="T", symbol="X", shares=20)]
    return book(lots=[lot], holdings=holdings, transactions=[sale], **cash)


def test_buying_back_after_a_recorded_loss_sale_raises_the_new_basis():
    # 20 days ago 100 X were sold at a $500 loss (Transactions). X is now underweight:
    # X 20 sh × $50 = 1,000 plus 9,000 cash... target X 30% of 10,000 = 3,000: buy 40.
    # 40 of the 100 shares sold are replaced: 40/100 × 500 = $200 disallowed; the new
    # shares' basis is 40 × 50 + 200 = $2,200.
    result = rebalance(after_a_recorded_loss_sale(cash=9000), PRICES)
    buys = {t.symbol: t for t in result.trades if t.action == "BUY"}
    assert buys["X"].shares == 40
    assert buys["X"].cost_basis == 2200.0
    assert buys["X"].acquired == VALUATION
    assert "200.00 of the loss" in buys["X"].reason


def test_a_replacement_in_an_ira_loses_the_loss_for_good():
    # Same recorded sale, but only the IRA has cash: buying X there disallows $200
    # (40 of 100 shares) with no basis to carry it (Rev. Rul. 2008-5): a warning says so.
    result = rebalance(after_a_recorded_loss_sale(ira_cash=9000), PRICES)
    buys = {(t.account, t.symbol): t for t in result.trades if t.action == "BUY"}
    assert buys[("IRA", "X")].shares == 40
    assert buys[("IRA", "X")].cost_basis == 2000.0  # what was paid; the loss is not added
    lost = [w for w in result.warnings if "for good" in w.message]
    assert len(lost) == 1 and "200.00" in lost[0].message and lost[0].level == "warning"
