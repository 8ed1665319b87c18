"""tracking.py's tie-break (members): each fund of a line kept near its share of the
line's goal, at MEMBER_WEIGHT per money unit."""

from __future__ import annotations

import pytest

from xl_rebalancer.engine.program.tracking import MEMBER_WEIGHT
from xl_rebalancer.models import Account, CashFlow, Holding, Portfolio, Settings, Target

from .conftest import VALUATION, D, Program, lot, sold

PRICES = {"VTI": 100.0, "SCHB": 80.0}


def two_funds_and_a_deposit() -> Portfolio:
    """T: VTI 600 sh at $100 ($60,000) and SCHB 250 sh at $80 ($20,000), both class US
    (100%), and a $20,000 deposit: $100,000. The class goal split by what is held: VTI
    75% ($75,000, $15,000 under) and SCHB 25% ($25,000, $5,000 under)."""
    return Portfolio(
        settings=Settings(valuation_date=VALUATION, trigger="always"),
        accounts=(Account(account="T", type="taxable", cash=0.0),),
        cash_flows=(CashFlow(account="T", amount=20_000.0, row=2),),
        holdings=(
            Holding(account="T", symbol="VTI", shares=600, asset_class="US"),
            Holding(account="T", symbol="SCHB", shares=250, asset_class="US"),
        ),
        lots=(
            lot("T", "VTI", "V1", 600, 60_000.0, D(2020, 1, 2)),
            lot("T", "SCHB", "S1", 250, 20_000.0, D(2020, 1, 2)),
        ),
        targets=(Target(asset_class="US", target_weight=1.0),),
    )


def test_each_fund_is_two_rows_over_and_under_its_share_of_the_class_goal(program: Program):
    """Per fund: the money its trades move (−price a share sold, +price bought) less what
    is over its share ≤ share − now, and plus what is under ≥ the same, in the line's
    order (SCHB first): SCHB's bound $25,000 − $20,000 = $5,000, VTI's $75,000 − $60,000
    = $15,000. Each side one column at MEMBER_WEIGHT (0.001) per dollar, unbounded: a
    tie-break only."""
    pieces = program.watch("members")
    program.plan(two_funds_and_a_deposit(), PRICES)
    piece = pieces[-1]
    t, m = piece.t, piece.t.m
    assert MEMBER_WEIGHT == 0.001
    assert t.member_goals == pytest.approx({"VTI": 75_000.0, "SCHB": 25_000.0})
    assert [(m.cost[j], m.lower[j], m.upper[j]) for j in piece.columns] == [
        (0.001, 0.0, float("inf"))
    ] * 4
    schb_over, schb_under, vti_over, vti_under = piece.columns  # the line's order
    schb = {t.sell_var[("T", "SCHB")]: -80.0, t.buy_var[("T", "SCHB")]: 80.0}
    vti = {t.sell_var[("T", "VTI")]: -100.0, t.buy_var[("T", "VTI")]: 100.0}
    inf = float("inf")
    assert [piece.row(k) for k in range(4)] == [
        ({**schb, schb_over: -1.0}, -inf, pytest.approx(5_000.0)),
        ({**schb, schb_under: 1.0}, pytest.approx(5_000.0), inf),
        ({**vti, vti_over: -1.0}, -inf, pytest.approx(15_000.0)),
        ({**vti, vti_under: 1.0}, pytest.approx(15_000.0), inf),
    ]


def test_without_members_the_deposit_buys_the_fund_already_nearer_its_share(
    program: Program,
):
    """With the rule the deposit buys VTI, the fund $15,000 under its share:
    floor(20,000 / 100.05) = 199 sh ($19,900), leaving the funds $4,900 + $5,000 = $9,900
    off their shares (SCHB instead: 249 sh, $14,920 + $15,000 = $29,920 off). Without it
    nothing tells the two apart but the whole shares: SCHB's 249 sh (floor(20,000 /
    80.04)) leave $70.04 of the deposit in cash against VTI's $90.05, so the plan buys
    SCHB, the fund only $5,000 under, past its share by $14,920."""
    decision = program.plan(two_funds_and_a_deposit(), PRICES)
    assert not sold(decision)
    assert decision.buys == {("T", "VTI"): 199.0}, "the fund under its share is bought"

    program.without("members")
    decision = program.plan(two_funds_and_a_deposit(), PRICES)
    assert not sold(decision)
    assert decision.buys == {("T", "SCHB"): 249.0}, "the fund nearer its share is bought"
