"""caps.py's rules: the soft limits (here max_turnover) and the in_band_gains gain cap."""

from __future__ import annotations

import pytest

from xl_rebalancer.engine.program.caps import SOFT_PENALTY
from xl_rebalancer.errors import InfeasibleError
from xl_rebalancer.models import Account, Holding, Portfolio, Settings, Target

from .conftest import VALUATION, D, Program, lot, out_of_balance, sold

PRICES = {"VTI": 100.0, "BND": 100.0}
PRICES_GAIN = PRICES


def test_the_turnover_row_counts_every_trade_at_its_price_against_twice_the_cap(
    program: Program,
):
    """max_turnover 5% is (buys + sells) / 2 / total ≤ 5%: every sale and buy column at
    its price ($100), at most 2 × 5% × $100,000 = $10,000, less a slack priced at
    SOFT_PENALTY per dollar (soft: the closest plan is found, then named)."""
    pieces = program.watch("soft_limits")
    program.plan(out_of_balance(max_turnover=0.05), PRICES)
    piece = pieces[-1]
    t = piece.t
    assert len(piece.rows) == 1 and len(piece.columns) == 1  # cash limits are off
    (slack,) = piece.columns
    trades = [t.sell_var[("IRA", s)] for s in PRICES] + [t.buy_var[("IRA", s)] for s in PRICES]
    terms, lo, hi = piece.row(0)
    assert terms == pytest.approx({**dict.fromkeys(trades, 100.0), slack: -1.0})
    assert (lo, hi) == (-float("inf"), pytest.approx(10_000.0))
    assert t.m.cost[slack] == SOFT_PENALTY


def test_without_the_soft_limits_the_turnover_cap_is_exceeded(program: Program):
    """With the cap the plan trades $10,000 in all (51 + 49 shares, turnover 5%); without
    the rule it moves the whole $20,000 (200 sold, 199 bought: 19.95%), and the plan's
    own check then refuses it."""
    decision = program.plan(out_of_balance(max_turnover=0.05), PRICES)
    traded = sum(sold(decision).values()) + sum(decision.buys.values())
    assert traded * 100.0 / 2 / 100_000.0 <= 0.05 + 1e-9, "turnover within max_turnover"
    assert traded == 100

    program.without("soft_limits")
    with pytest.raises(InfeasibleError):
        program.plan(out_of_balance(max_turnover=0.05), PRICES)
    decision = program.kept(out_of_balance(max_turnover=0.05))
    assert sold(decision) == {("IRA", "VTI"): 200.0}
    assert decision.buys == {("IRA", "BND"): 199.0}  # $19,990 less 5 bp, whole shares
    traded = sum(sold(decision).values()) + sum(decision.buys.values())
    assert traded * 100.0 / 2 / 100_000.0 > 0.05, "turnover beyond max_turnover"


def in_band_gain(**settings: object) -> Portfolio:
    """T: VTI 630 sh at $100, bought in 2020 at $10 (a long-term gain of $89.95 a share
    after 5 bp), BND 370 sh at its basis; targets 60% / 40%: VTI 3 points over, inside
    its 5-point band. A dollar moved saves 0.2 of drift (risk_aversion 0.1 on each line)
    and costs 0.20 × 0.8995 = 0.18 of tax, so the full objective would move it."""
    return Portfolio(
        settings=Settings(valuation_date=VALUATION, trigger="always", **settings),
        accounts=(Account(account="T", type="taxable", cash=0.0),),
        holdings=(
            Holding(account="T", symbol="VTI", shares=630, asset_class="US"),
            Holding(account="T", symbol="BND", shares=370, asset_class="Bonds"),
        ),
        lots=(
            lot("T", "VTI", "V1", 630, 6_300.0, D(2020, 1, 2)),
            lot("T", "BND", "B1", 370, 37_000.0, D(2020, 1, 2)),
        ),
        targets=(
            Target(asset_class="US", target_weight=0.6),
            Target(asset_class="Bonds", target_weight=0.4),
        ),
    )


def test_the_gain_cap_row_holds_the_gain_to_the_plan_moving_only_beyond_the_bands(
    program: Program,
):
    """in_band_gains = avoid: the plan that moves only what is beyond the bands moves
    nothing here and realizes $0, so the lots sold at a gain may realize at most $0 (and
    a cent of leeway): $89.95 a VTI share, less a slack at SOFT_PENALTY."""
    pieces = program.watch("gain_cap")
    program.plan(in_band_gain(), PRICES_GAIN)
    piece = pieces[-1]  # the second search, with the cap
    t = piece.t
    (slack,) = piece.columns
    (vti,) = [t.unit_var[i] for i, u in enumerate(t.units) if u.symbol == "VTI"]
    terms, lo, hi = piece.row(0)
    assert terms == pytest.approx({vti: 89.95, slack: -1.0})
    assert (lo, hi) == (-float("inf"), pytest.approx(0.01))
    assert t.m.cost[slack] == SOFT_PENALTY


def test_without_the_gain_cap_a_gain_is_realized_inside_the_bands(program: Program):
    """With the cap nothing is sold. Without it the full objective sells the $3,000 over
    target: 30 VTI sh, a $2,698.50 long-term gain (30 × $89.95)."""
    decision = program.plan(in_band_gain(), PRICES_GAIN)
    assert not decision.sells and decision.gain_tax == 0.0, "no gain realized in band"

    program.without("gain_cap")
    decision = program.plan(in_band_gain(), PRICES_GAIN)
    assert sold(decision) == {("T", "VTI"): 30.0}, "a gain realized inside the band"
    ((v1, shares),) = decision.sells[("T", "VTI")]
    assert v1.lot_id == "V1" and shares * (99.95 - 10.0) == pytest.approx(2_698.5)
