"""caps.py's rules: the soft limits (here max_turnover)."""

from __future__ import annotations

import pytest

from xl_rebalancer.engine.program.caps import SOFT_PENALTY
from xl_rebalancer.errors import InfeasibleError
from xl_rebalancer.models import Account, Holding, Portfolio, Settings, Target

from .conftest import VALUATION, Program, sold

PRICES = {"VTI": 100.0, "BND": 100.0}


def out_of_balance(**settings: object) -> Portfolio:
    """An IRA: VTI 800 sh and BND 200 sh at $100 ($100,000), targets 60% / 40%: $20,000
    to move, 40% turnover... unless max_turnover holds it back."""
    return Portfolio(
        settings=Settings(valuation_date=VALUATION, trigger="always", **settings),
        accounts=(Account(account="IRA", type="tax_deferred", cash=0.0),),
        holdings=(
            Holding(account="IRA", symbol="VTI", shares=800, asset_class="US"),
            Holding(account="IRA", symbol="BND", shares=200, asset_class="Bonds"),
        ),
        targets=(
            Target(asset_class="US", target_weight=0.6),
            Target(asset_class="Bonds", target_weight=0.4),
        ),
    )


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
