"""wash.py's charge (foreclosed_harvests): a buy of a fund with a taxable loss lot
forecloses that loss's harvest for the wash-sale window, charged once per fund bought."""

from __future__ import annotations

import pytest

from xl_rebalancer.models import Account, Holding, Portfolio, Settings, Target
from xl_rebalancer.models.inputs import Security

from .conftest import VALUATION, D, Program, lot, sold

PRICES = {"VTI": 100.0, "SCHB": 100.0, "BND": 100.0}


def a_loss_and_a_substitute_only_taxable_buys() -> Portfolio:
    """T (taxable, no cash): VTI 800 sh at $100 bought this June at $150 (a short-term
    loss of $50 a share), SCHB 100 sh and BND 200 sh at their basis. The IRA: $20,000 of
    cash. SCHB, the other US fund, is bought only in taxable accounts (its Securities
    Buy cell), so VTI is the one US fund the IRA may buy. Targets US 80% and Bonds 20%
    of $130,000: US $104,000 ($14,000 under), Bonds $26,000 ($6,000 under)."""
    return Portfolio(
        settings=Settings(valuation_date=VALUATION, trigger="always"),
        accounts=(
            Account(account="T", type="taxable", cash=0.0),
            Account(account="IRA", type="tax_deferred", cash=20_000.0),
        ),
        holdings=(
            Holding(account="T", symbol="VTI", shares=800, asset_class="US"),
            Holding(account="T", symbol="SCHB", shares=100, asset_class="US"),
            Holding(account="T", symbol="BND", shares=200, asset_class="Bonds"),
        ),
        lots=(
            lot("T", "VTI", "V1", 800, 120_000.0, D(2026, 6, 1)),
            lot("T", "SCHB", "S1", 100, 10_000.0, D(2020, 1, 2)),
            lot("T", "BND", "B1", 200, 20_000.0, D(2020, 1, 2)),
        ),
        targets=(
            Target(asset_class="US", target_weight=0.8),
            Target(asset_class="Bonds", target_weight=0.2),
        ),
        securities=(Security(symbol="SCHB", asset_class="US", buy="taxable"),),
    )


def test_a_binary_per_fund_bought_carries_the_harvest_it_forecloses(program: Program):
    """VTI's loss lot, at $100 less 5 bps: $120,000 − 800 × $99.95 = $40,040, short-term
    at 37%: $14,814.80 foreclosed. One binary at that price, on whenever the IRA's VTI
    ticket is (bought − ticket ≥ 0); T's VTI is not open to buy (T buys SCHB instead,
    plan.py), and SCHB and BND have no loss lot, so no binary of their own."""
    pieces = program.watch("foreclosed_harvests")
    program.plan(a_loss_and_a_substitute_only_taxable_buys(), PRICES)
    piece = pieces[-1]
    t, m = piece.t, piece.t.m
    assert t.foreclosed == pytest.approx({"VTI": 14_814.80})
    (bought,) = piece.columns
    assert m.cost[bought] == pytest.approx(14_814.80)
    assert (m.lower[bought], m.upper[bought], m.integer[bought]) == (0.0, 1.0, 1)
    assert ("T", "VTI") not in t.buy_flag
    assert [piece.row(k) for k in range(len(piece.rows))] == [
        ({bought: 1.0, t.buy_flag[("IRA", "VTI")]: -1.0}, 0.0, float("inf"))
    ]


def test_without_the_charge_the_ira_buys_the_fund_whose_loss_waits_to_be_harvested(
    program: Program,
):
    """With the charge nothing buys VTI: the IRA buys bonds to their band's edge (band
    min(5 points, 25% of 20%) of $130,000 = $6,500: $32,500 − $20,000 = $12,500, 125 sh)
    and keeps the rest, and T harvests VTI's loss up to the year's $3,000 limit (60 sh ×
    $50, $1,110 of short-term tax saved), its $5,997 (60 × $99.95) buying floor(5,997 /
    100.05) = 59 SCHB. Without it the IRA buys BND to its goal (60 sh, $26,000) and VTI
    with the rest, floor((20,000 − 60 × 100.05) / 100.05) = 139 sh: nothing harvested,
    and the $40,040 loss kept from its harvest for the wash-sale window."""
    decision = program.plan(a_loss_and_a_substitute_only_taxable_buys(), PRICES)
    assert not any(symbol == "VTI" for _, symbol in decision.buys), "no VTI bought"
    assert decision.buys == {("T", "SCHB"): 59.0, ("IRA", "BND"): 125.0}
    assert sold(decision) == {("T", "VTI"): 60.0}, "the loss harvested"
    assert decision.tax == pytest.approx(-0.37 * 3_000)

    program.without("foreclosed_harvests")
    decision = program.plan(a_loss_and_a_substitute_only_taxable_buys(), PRICES)
    assert decision.buys == {("IRA", "BND"): 60.0, ("IRA", "VTI"): 139.0}, "VTI bought"
    assert not sold(decision), "the loss left unharvested"
    assert decision.tax == 0.0
