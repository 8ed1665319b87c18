"""netting.py's rule: the year's capital-gains tax, netted as Schedule D nets it."""

from __future__ import annotations

import pytest

from xl_rebalancer.models import Account, Holding, Portfolio, Settings, Target

from .conftest import VALUATION, D, Program, lot, sold

PRICES = {"VTI": 100.0, "BND": 100.0}
GAIN = 100.0 * (1 - 0.0005) - 10.0  # a VTI share's gain after 5 bp of cost: $89.95


def inside_the_band() -> Portfolio:
    """T: VTI 630 sh at $100, bought this year at $10 (a short-term gain of $89.95 a
    share), BND 370 sh at its basis. Targets 60% / 40%: VTI 3 points over, inside its
    5-point band. in_band_gains = allow: moving inside the band is priced at
    risk_aversion (0.1 per dollar on each of the two lines), against its tax."""
    return Portfolio(
        settings=Settings(valuation_date=VALUATION, trigger="always", in_band_gains="allow"),
        accounts=(Account(account="T", type="taxable", cash=0.0),),
        holdings=(
            Holding(account="T", symbol="VTI", shares=630, asset_class="US"),
            Holding(account="T", symbol="BND", shares=370, asset_class="Bonds"),
        ),
        lots=(
            lot("T", "VTI", "V1", 630, 6_300.0, D(2026, 3, 2)),
            lot("T", "BND", "B1", 370, 37_000.0, D(2020, 1, 2)),
        ),
        targets=(
            Target(asset_class="US", target_weight=0.6),
            Target(asset_class="Bonds", target_weight=0.4),
        ),
    )


def test_the_tax_column_is_above_both_pieces_of_the_schedule_d_tax(program: Program):
    """No gains before the run and no carryover: the tax column t ≥ 0.37 × the run's net
    gain (every gain at the short-term rate), and t ≥ −0.37 × $3,000 + 0.20 × (net
    gain + $3,000) (past the loss limit, a carried loss used up at the long-term rate),
    t at 1 in the objective. A sold VTI share's gain is $89.95; BND's 5-cent loss is
    under the harvest thresholds and counts 0."""
    pieces = program.watch("netted_tax")
    program.plan(inside_the_band(), PRICES)
    piece = pieces[-1]
    t, m = piece.t, piece.t.m
    (vti,) = [t.unit_var[i] for i, u in enumerate(t.units) if u.symbol == "VTI"]
    tax = piece.columns[0]
    assert m.cost[tax] == 1.0 and m.lower[tax] == -float("inf")

    def nonzero(terms: dict[int, float]) -> dict[int, float]:
        return {j: c for j, c in terms.items() if c}

    gains, lo, _ = piece.row(0)
    assert nonzero(gains) == pytest.approx({vti: -0.37 * GAIN, tax: 1.0})
    assert lo == 0.0
    carried, lo, _ = piece.row(1)
    assert nonzero(carried) == pytest.approx({vti: -0.20 * GAIN, tax: 1.0})
    assert lo == pytest.approx(-0.37 * 3_000 + 0.20 * 3_000)  # −$510


def test_without_the_netted_tax_a_gain_is_sold_that_its_tax_says_to_keep(program: Program):
    """Moving a dollar of VTI to BND inside the band saves 0.2 of drift (0.1 on each
    line) and costs 0.37 × 0.8995 = 0.33 of short-term tax: with the tax the plan keeps
    VTI. Without the rule the tax is priced nowhere (a netted year's lots cost nothing
    in their own columns), so the plan sells the $3,000 to target: 30 sh, $998.45 of
    tax (0.37 × 30 × $89.95)."""
    decision = program.plan(inside_the_band(), PRICES)
    assert not decision.sells and decision.tax == 0.0, "the gain kept: its tax outweighs"

    program.without("netted_tax")
    decision = program.plan(inside_the_band(), PRICES)
    assert sold(decision) == {("T", "VTI"): 30.0}, "a gain sold for less than its tax"
    assert decision.tax == pytest.approx(0.37 * 30 * GAIN, abs=0.01)  # to the cent
