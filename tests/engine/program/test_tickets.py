"""tickets.py's rules: a ticket binary and the minimum trade per possible trade; one fund
per line bought in each account (one_fund_per_line)."""

from __future__ import annotations

from tests.engine.test_adviser_rules import three_sp500
from xl_rebalancer.models import Account, Holding, Portfolio, Settings, Target

from .conftest import VALUATION, D, Program, lot, sold


def small(**settings: object) -> Portfolio:
    """T: $5,000 of cash and VTI 10 sh at $100 (basis $1,000), VTI 100%."""
    return Portfolio(
        settings=Settings(valuation_date=VALUATION, trigger="always", **settings),
        accounts=(Account(account="T", type="taxable", cash=5_000.0),),
        holdings=(Holding(account="T", symbol="VTI", shares=10, asset_class="US"),),
        lots=(lot("T", "VTI", "V1", 10, 1_000.0, D(2020, 1, 2)),),
        targets=(Target(asset_class="US", target_weight=1.0),),
    )


def test_a_trade_has_a_ticket_binary_with_its_big_m_and_its_minimum_value(program: Program):
    """min_trade_value $1,000. The buy: at most floor(($5,000 + 10 × $100) / $100) = 60
    shares, so buy ≤ 60 × ticket; bought at all, buy × $100 ≥ $1,000 × ticket; and never
    with a sale of the same fund in the same account (the two tickets ≤ 1). The sale: at
    most the 10 held, sale ≤ 10 × ticket, and sale × $100 ≥ min($1,000, 10 × $100)."""
    buys, sales = program.watch("buys"), program.watch("sales")
    program.plan(small(min_trade_value=1_000.0), {"VTI": 100.0})
    t, m = buys[-1].t, buys[-1].t.m
    buy, buy_flag = t.buy_var[("T", "VTI")], t.buy_flag[("T", "VTI")]
    sell, sell_flag = t.sell_var[("T", "VTI")], t.sell_flag[("T", "VTI")]
    assert m.upper[buy] == 60.0
    assert (m.cost[buy_flag], m.upper[buy_flag], m.integer[buy_flag]) == (5.0, 1.0, 1)
    inf = float("inf")
    assert buys[-1].rows_with(buy_flag) == [
        ({buy: 1.0, buy_flag: -60.0}, -inf, 0.0),
        ({buy_flag: 1.0, sell_flag: 1.0}, -inf, 1.0),
        ({buy: 100.0, buy_flag: -1_000.0}, 0.0, inf),
    ]
    assert sales[-1].rows_with(sell_flag) == [
        ({sell: 1.0, sell_flag: -10.0}, -inf, 0.0),
        ({sell: 100.0, sell_flag: -1_000.0}, 0.0, inf),
    ]


def test_without_one_fund_per_line_an_account_buys_every_fund_of_a_class(program: Program):
    """With the rule one S&P fund takes the whole buy: BND's 70 sh over its $48,000 sold
    ($6,996.50), with the deposit floor(66,996.50 / 100.05) = 669 sh. Without it the
    tie-break spreads them over IVV, SPY and VOO (223 each): three tickets for one
    class."""
    prices = {"IVV": 100.0, "SPY": 100.0, "VOO": 100.0, "BND": 100.0}
    decision = program.plan(three_sp500(), prices)
    assert sold(decision) == {("T", "BND"): 70.0}
    assert list(decision.buys.values()) == [669.0], "one fund of the class bought"

    program.without("one_fund_per_line")
    decision = program.plan(three_sp500(), prices)
    assert len(decision.buys) > 1, "several funds of one class bought in one account"
    assert sum(decision.buys.values()) == 669.0
