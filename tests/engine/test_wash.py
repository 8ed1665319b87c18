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
    # $800 + $250 = $1,050 (IRS Pub. 550, "Wash Sales"). The old holding period is
    # tacked on: the 10 days between sale and repurchase do not count, so the holding
    # date is 2025-06-20 less the 512 days the old shares were held.
    sale = LossSale(
        "Taxable", "X", D(2025, 6, 10), 100, 250.0, "sale", holding_start=D(2024, 1, 15)
    )
    matches = match_wash_sales([sale], [buy(D(2025, 6, 20), 100)], days=30)
    assert [(m.shares, m.disallowed_loss) for m in matches] == [(100, 250.0)]
    assert 800 + matches[0].disallowed_loss == 1050.0
    assert matches[0].holding_start == D(2024, 1, 25)


def test_tacked_holding_period_scottrade_worked_example():
    # Scottrade, "Wash Sales and Holding Period Calculations" (tacking method): Lot A
    # bought 1/12/2013, sold at a loss 1/20/2013 (8 days held), Lot B bought 2/2/2013:
    # B's holding date is 2/2/2013 - 8 days = 1/25/2013, long-term from 1/26/2014.
    from xl_rebalancer.engine.lots import holding_term

    sale = LossSale("Taxable", "X", D(2013, 1, 20), 100, 300.0, "A", holding_start=D(2013, 1, 12))
    (match,) = match_wash_sales([sale], [buy(D(2013, 2, 2), 100)], days=30)
    assert match.holding_start == D(2013, 1, 25)
    assert holding_term(match.holding_start, D(2014, 1, 25)) == "ST"
    assert holding_term(match.holding_start, D(2014, 1, 26)) == "LT"


def test_treas_reg_1_1091_1_h_example_2_partial_replacement():
    # Treas. Reg. §1.1091-1(h), Example (2): 100 shares bought 9/21/1954 for $5,000;
    # 50 bought 12/21/1954 for $2,750 and 25 on 12/27/1954 for $1,125; the 100 sold on
    # 1/3/1955 for $4,000. Loss on 75 shares ($750) disallowed, on 25 ($250) allowed;
    # basis of the 50 shares $3,250, of the 25 shares $1,375.
    sale = LossSale(
        "Taxable", "M", D(1955, 1, 3), 100, 1000.0, "sale", holding_start=D(1954, 9, 21)
    )
    dec21 = buy(D(1954, 12, 21), 50, symbol="M")
    dec27 = buy(D(1954, 12, 27), 25, symbol="M")
    matches = match_wash_sales([sale], [dec27, dec21], days=30)
    assert [(m.purchase.date, m.disallowed_loss) for m in matches] == [
        (D(1954, 12, 21), 500.0),
        (D(1954, 12, 27), 250.0),
    ]
    assert 1000.0 - sum(m.disallowed_loss for m in matches) == 250.0
    assert 2750 + matches[0].disallowed_loss == 3250
    assert 1125 + matches[1].disallowed_loss == 1375


def test_same_day_losses_are_matched_in_the_order_the_sold_shares_were_bought():
    # Reg. §1.1091-1(b), (c); Fairmark, "Wash Sale Matching Rules": when two blocks are
    # sold at once, "apply the wash sale rule according to which shares were bought
    # first". Lot "A" (bought 2024) lost $10/share, lot "B" (bought 2022) $20/share;
    # 100 replacement shares wash B's loss, whatever the lots' ids say.
    day = D(2026, 6, 30)
    sales = [
        LossSale("T", "X", day, 100, 1000.0, "lot A", acquired=D(2024, 6, 1)),
        LossSale("T", "X", day, 100, 2000.0, "lot B", acquired=D(2022, 3, 1)),
    ]
    matches = match_wash_sales(sales, [buy(D(2026, 6, 20), 100)], days=30)
    assert [(m.sale.source, m.disallowed_loss) for m in matches] == [("lot B", 2000.0)]


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
