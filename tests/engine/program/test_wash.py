"""wash.py's rule: a loss sold in the run forbids buying that security in any account."""

from __future__ import annotations

import pytest

from xl_rebalancer.models import Account, Holding, Portfolio, Settings, Target

from .conftest import VALUATION, D, Program, lot, sold

PRICES = {"VTI": 100.0, "BND": 100.0}


def a_loss_and_cash_elsewhere() -> Portfolio:
    """T (taxable, no cash): VTI 800 sh at $100 bought this June at $150, a short-term
    loss of $50 a share. The IRA: BND 200 sh and $20,000 of cash. Targets US 80% and
    Bonds 20% of $120,000: $16,000 of US and $4,000 of bonds to buy."""
    return Portfolio(
        settings=Settings(valuation_date=VALUATION, trigger="always"),
        accounts=(
            Account(account="T", type="taxable", cash=0.0),
            Account(account="IRA", type="tax_deferred", cash=20_000.0),
        ),
        holdings=(
            Holding(account="T", symbol="VTI", shares=800, asset_class="US"),
            Holding(account="IRA", symbol="BND", shares=200, asset_class="Bonds"),
        ),
        lots=(lot("T", "VTI", "V1", 800, 120_000.0, D(2026, 6, 1)),),
        targets=(
            Target(asset_class="US", target_weight=0.8),
            Target(asset_class="Bonds", target_weight=0.2),
        ),
    )


def test_a_binary_per_fund_with_loss_lots_parts_its_loss_sales_from_its_buys(
    program: Program,
):
    """VTI's loss lot may be sold only with the binary on (lot ≤ 800 × sold), and each
    VTI buy only with it off (buy + cap × sold ≤ cap): T may buy at most its $80,000 of
    VTI, 800 sh; the IRA its $20,000 of cash and $20,000 of BND, 400 sh."""
    pieces = program.watch("same_run_washes")
    program.plan(a_loss_and_cash_elsewhere(), PRICES)
    piece = pieces[-1]
    t, m = piece.t, piece.t.m
    (binary,) = piece.columns
    assert (m.upper[binary], m.integer[binary]) == (1.0, 1)
    (unit,) = [t.unit_var[i] for i, u in enumerate(t.units) if u.symbol == "VTI"]
    inf = float("inf")
    assert piece.rows_with(binary) == [
        ({unit: 1.0, binary: -800.0}, -inf, 0.0),
        ({t.buy_var[("T", "VTI")]: 1.0, binary: 800.0}, -inf, 800.0),
        ({t.buy_var[("IRA", "VTI")]: 1.0, binary: 400.0}, -inf, 400.0),
    ]


def test_without_same_run_washes_a_loss_is_sold_and_bought_back(program: Program):
    """With the rule the IRA's cash buys VTI and the loss lot stays. Without it the plan
    sells VTI in T at a loss up to the year's $3,000 limit (60 sh × $50: $1,110 of
    short-term tax saved) and buys VTI back in the IRA: a wash sale, the loss
    disallowed."""
    decision = program.plan(a_loss_and_cash_elsewhere(), PRICES)
    assert ("T", "VTI") not in sold(decision), "no loss sold while VTI is bought"
    assert decision.buys.get(("IRA", "VTI"), 0.0) > 0

    program.without("same_run_washes")
    decision = program.plan(a_loss_and_cash_elsewhere(), PRICES)
    assert sold(decision).get(("T", "VTI")) == 60.0
    assert decision.tax == pytest.approx(-0.37 * 3_000)
    assert decision.buys.get(("IRA", "VTI"), 0.0) > 0, "the loss sold and VTI bought back"
