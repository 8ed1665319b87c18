"""Wash sales against worked examples in the manner of IRS Pub. 550 and Reg. §1.1091-1."""

from __future__ import annotations

import datetime as dt

import pytest

from xl_rebalancer.engine.wash import (
    LossSale,
    Purchase,
    buy_blockers,
    identical_sets,
    match_wash_sales,
    sale_blockers,
)
from xl_rebalancer.models import Portfolio, Target

D = dt.date


def buy(day, shares, symbol="X", account="Taxable", lot=None):
    return Purchase(account, symbol, day, shares, f"buy {day}", lot)


def test_full_replacement_moves_the_whole_loss_into_the_new_basis():
    # Bought 100 shares for $1,000, sold them for $750 (a $250 loss), and bought 100
    # again for $800 within 30 days: the loss is disallowed and the new basis is
    # $800 + $250 = $1,050, with the old holding period carried over.
    sale = LossSale(
        "Taxable", "X", D(2025, 6, 10), 100, 250.0, "sale", holding_start=D(2024, 1, 15)
    )
    matches = match_wash_sales([sale], [buy(D(2025, 6, 20), 100)], days=30)
    assert [(m.shares, m.disallowed_loss) for m in matches] == [(100, 250.0)]
    assert 800 + matches[0].disallowed_loss == 1050.0
    assert matches[0].holding_start == D(2024, 1, 15)


def test_partial_replacement_disallows_only_that_fraction():
    # Sold 100 shares at a $1,000 loss, bought back 40: 40/100 of the loss ($400) goes
    # into the 40 new shares; the other $600 stays deductible.
    sale = LossSale("Taxable", "X", D(2025, 2, 5), 100, 1000.0, "sale")
    matches = match_wash_sales([sale], [buy(D(2025, 2, 12), 40)], days=30)
    assert [(m.shares, m.disallowed_loss) for m in matches] == [(40, 400.0)]
    assert 1000.0 - sum(m.disallowed_loss for m in matches) == 600.0


def test_replacement_shares_are_matched_in_order_of_acquisition():
    # Sold 100 at a $1,000 loss on Feb 5; bought 50 on each of Feb 12, 13, 14 and 15.
    # The first 100 shares bought (Feb 12 and 13) are the replacement: $500 each.
    sale = LossSale("Taxable", "X", D(2025, 2, 5), 100, 1000.0, "sale")
    buys = [buy(D(2025, 2, d), 50) for d in (15, 13, 12, 14)]
    matches = match_wash_sales([sale], buys, days=30)
    assert [(m.purchase.date.day, m.shares, m.disallowed_loss) for m in matches] == [
        (12, 50, 500.0),
        (13, 50, 500.0),
    ]


def test_each_replacement_share_is_used_once():
    sales = [
        LossSale("Taxable", "X", D(2025, 3, 1), 10, 100.0, "first"),
        LossSale("Taxable", "X", D(2025, 3, 3), 10, 50.0, "second"),
    ]
    matches = match_wash_sales(sales, [buy(D(2025, 3, 2), 15)], days=30)
    assert [(m.sale.source, m.shares, m.disallowed_loss) for m in matches] == [
        ("first", 10, 100.0),
        ("second", 5, 25.0),
    ]


@pytest.mark.parametrize(
    ("offset", "washed"), [(-31, False), (-30, True), (0, True), (30, True), (31, False)]
)
def test_window_is_thirty_days_either_side(offset, washed):
    sale_day = D(2025, 6, 15)
    purchase = buy(sale_day + dt.timedelta(days=offset), 10, account="Roth IRA")
    assert bool(sale_blockers("X", sale_day, [purchase], 30, {})) is washed
    loss = LossSale("Taxable", "X", sale_day, 10, 5.0, "s")
    assert bool(buy_blockers("X", purchase.date, [loss], 30, {})) is washed


def test_a_lot_does_not_wash_its_own_sale_but_another_account_does():
    own = buy(D(2025, 6, 1), 10, lot=("Taxable", "L9"))
    ira = buy(D(2025, 6, 2), 5, account="Traditional IRA")
    assert sale_blockers("X", D(2025, 6, 20), [own], 30, {}, own_lot=("Taxable", "L9")) == []
    assert sale_blockers("X", D(2025, 6, 20), [own, ira], 30, {}, own_lot=("Taxable", "L9")) == [
        ira
    ]


def test_identical_sets_are_symmetric_and_transitive():
    p = Portfolio(
        targets=(
            Target(symbol="VOO", target_weight=0.5, identical_to="IVV"),
            Target(symbol="IVV", target_weight=0.3, identical_to="SPY"),
            Target(symbol="BND", target_weight=0.2),
        )
    )
    sets = identical_sets(p)
    assert sets["SPY"] == sets["VOO"] == frozenset({"VOO", "IVV", "SPY"})
    assert "BND" not in sets
    assert sale_blockers("VOO", D(2025, 1, 10), [buy(D(2025, 1, 20), 1, "SPY")], 30, sets)
