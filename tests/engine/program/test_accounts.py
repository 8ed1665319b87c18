"""accounts.py's rule: each account pays for its own buys (its cash row)."""

from __future__ import annotations

import pytest

from xl_rebalancer.models import Account, Holding, Portfolio, Settings, Target

from .conftest import VALUATION, D, Program, lot, sold

PRICES = {"VTI": 100.0, "BND": 100.0}


def two_accounts() -> Portfolio:
    """T (taxable, no cash) holds VTI 500 sh at $100, at its basis; the IRA holds $50,000
    of cash and nothing else. Targets US 50% and Bonds 50% of $100,000: $50,000 of BND
    to buy, which only the IRA has the cash for."""
    return Portfolio(
        settings=Settings(valuation_date=VALUATION, trigger="always"),
        accounts=(
            Account(account="T", type="taxable", cash=0.0),
            Account(account="IRA", type="tax_deferred", cash=50_000.0),
        ),
        holdings=(
            Holding(account="T", symbol="VTI", shares=500, asset_class="US"),
            Holding(account="T", symbol="BND", shares=0, asset_class="Bonds"),
        ),
        lots=(lot("T", "VTI", "V1", 500, 50_000.0, D(2020, 1, 2)),),
        targets=(
            Target(asset_class="US", target_weight=0.5),
            Target(asset_class="Bonds", target_weight=0.5),
        ),
    )


def test_the_cash_row_of_each_account_is_its_sales_less_its_buys_above_its_cash(
    program: Program,
):
    """One row per account: a share sold brings its price less 5 bp of cost ($99.95), a
    share bought takes its price and 5 bp ($100.05); the row keeps the account's end cash
    at or above half a cent per possible trade (cost rounding), so its lower bound is
    that margin less the cash it starts with."""
    pieces = program.watch("cash")
    program.plan(two_accounts(), PRICES)
    piece = pieces[-1]
    t = piece.t
    assert len(piece.rows) == 2 and not piece.columns
    terms, lo, hi = piece.row(0)  # T
    assert terms == pytest.approx(
        {
            t.sell_var[("T", "VTI")]: 99.95,
            t.buy_var[("T", "VTI")]: -100.05,
            t.buy_var[("T", "BND")]: -100.05,
        }
    )
    assert (lo, hi) == (0.0, float("inf"))  # no cash: nothing may be spent unsold
    terms, lo, hi = piece.row(1)  # IRA
    assert terms == pytest.approx(
        {t.buy_var[("IRA", "VTI")]: -100.05, t.buy_var[("IRA", "BND")]: -100.05}
    )
    assert lo == pytest.approx(2 * 0.005 - 50_000.0)  # two possible trades


def test_without_the_cash_rows_an_account_spends_cash_it_does_not_have(program: Program):
    """With the rule the IRA buys the bonds with its own $50,000: 499 shares at $100.05.
    Without it, T (first in account order, so a hair cheaper) buys all $50,000 of them
    with no cash and nothing sold."""
    decision = program.plan(two_accounts(), PRICES)
    assert decision.buys == {("IRA", "BND"): 499.0}  # floor(50,000 / 100.05)
    assert not decision.sells

    program.without("cash")
    decision = program.plan(two_accounts(), PRICES)
    spent = decision.buys.get(("T", "BND"), 0.0) * 100.05
    raised = sold(decision).get(("T", "VTI"), 0.0) * 99.95
    assert spent - raised > 0, "T overspends: it buys with cash it neither has nor raises"
