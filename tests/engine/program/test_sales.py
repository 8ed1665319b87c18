"""sales.py's rules: a column per lot bounded by the lot, a position's sale the sum of
its lots; and a withdrawal's loss lots before its gain lots (losses_before_gains)."""

from __future__ import annotations

from tests.engine.test_adviser_rules import losses_household
from xl_rebalancer.models import Account, CashFlow, Holding, Portfolio, Settings, Target

from .conftest import VALUATION, D, Program, lot, sold, unordered


def two_lots() -> Portfolio:
    """T holds VTI 15 sh at $100 in two lots: L1 10 sh (basis $90, long-term) and L2 5 sh
    (basis $120, short-term); $500 to withdraw."""
    return Portfolio(
        settings=Settings(valuation_date=VALUATION, trigger="always"),
        accounts=(Account(account="T", type="taxable", cash=0.0),),
        cash_flows=(CashFlow(account="T", amount=-500.0, row=2),),
        holdings=(Holding(account="T", symbol="VTI", shares=15, asset_class="US"),),
        lots=(
            lot("T", "VTI", "L1", 10, 900.0, D(2018, 1, 2)),
            lot("T", "VTI", "L2", 5, 600.0, D(2026, 6, 1)),
        ),
        targets=(Target(asset_class="US", target_weight=1.0),),
    )


def test_each_lot_is_a_column_bounded_by_its_shares_and_the_position_sums_them(
    program: Program,
):
    """No shorts: a lot's column runs from 0 to its shares (10 and 5). The position's sale
    is their sum, in whole shares up to the 15 held, and one ticket binary (at
    ticket_cost, $5) bounds the position and each lot, and carries the minimum trade
    (blank: $100 for a household this small)."""
    pieces = program.watch("sales")
    program.plan(two_lots(), {"VTI": 100.0})
    piece = pieces[-1]
    t, m = piece.t, piece.t.m
    column = {u.lot.lot_id: t.unit_var[i] for i, u in enumerate(t.units)}
    assert {k: (m.lower[j], m.upper[j]) for k, j in column.items()} == {
        "L1": (0.0, 10.0),
        "L2": (0.0, 5.0),
    }
    sale = t.sell_var[("T", "VTI")]
    assert (m.lower[sale], m.upper[sale], m.integer[sale]) == (0.0, 15.0, 1)
    assert piece.rows_with(sale)[0] == ({column["L1"]: 1.0, column["L2"]: 1.0, sale: -1.0}, 0, 0)
    flag = t.sell_flag[("T", "VTI")]
    assert (m.cost[flag], m.upper[flag], m.integer[flag]) == (5.0, 1.0, 1)
    inf = float("inf")
    assert unordered(piece.rows_with(flag)) == unordered(
        [
            ({sale: 1.0, flag: -15.0}, -inf, 0.0),
            ({column["L1"]: 1.0, flag: -10.0}, -inf, 0.0),
            ({column["L2"]: 1.0, flag: -5.0}, -inf, 0.0),
            ({sale: 100.0, flag: -100.0}, 0.0, inf),
        ]
    )


def test_without_losses_before_gains_a_withdrawal_sells_a_gain_lot_and_keeps_the_loss(
    program: Program,
):
    """With the rule the loss lot goes first and in full: 50 B raise $4,997.50 (less 5 bp),
    the rest is ceil(3,002.50 / 99.95) = 31 A. Without it the ticket saved wins: ceil(8,000
    / 99.95) = 81 A, a gain sold while the loss lot of the same line stays."""
    prices = {"A": 100.0, "B": 100.0}
    decision = program.plan(losses_household(), prices)
    assert sold(decision) == {("T", "A"): 31.0, ("T", "B"): 50.0}, "loss lot sold in full"

    program.without("losses_before_gains")
    decision = program.plan(losses_household(), prices)
    assert sold(decision) == {("T", "A"): 81.0}, "a gain lot sold, the loss lot kept"
