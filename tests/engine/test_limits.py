"""Every hard limit holds on the final trade list, whatever path produced it (issue 26).

The solver holds the limits in its program; these cases are the ones where the trade
list that reaches the user passed through more than the program: wash-sale adjustments
that turn part of a loss back into gain (IRC §1091, IRS Pub. 550 "Wash Sales"), the
greedy fallback after a solver failure, and a cash flow that changes the total a
percentage is measured on.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.conftest import TWO_FUNDS, TWO_FUNDS_SETTINGS, write_book
from xl_rebalancer.app import run_engine
from xl_rebalancer.door import RunOptions
from xl_rebalancer.engine import plan as plan_module
from xl_rebalancer.engine.drift import household_from
from xl_rebalancer.engine.limits import check_limits
from xl_rebalancer.engine.rebalance import rebalance
from xl_rebalancer.errors import InfeasibleError
from xl_rebalancer.models import (
    Account,
    Constraint,
    Holding,
    Portfolio,
    Settings,
    Target,
    TaxLot,
    Trade,
)

D = dt.date
VALUATION = D(2026, 1, 15)
PRICES = {"AAA": 60.0, "BBB": 100.0}


def household(*, cap: float | None = 400.0, **settings) -> Portfolio:
    """Brokerage: AAA 110 sh at $60 (L1 60 sh basis $30: gain $30/sh; L2 40 sh basis $70:
    loss $10/sh; L3 10 sh bought 10 days ago, locked), BBB 30 sh at $100, cash $1,000.
    Targets AAA 20% / BBB 80%: about 75 AAA to sell."""
    lots = (
        TaxLot(
            account="B",
            symbol="AAA",
            lot_id="L1",
            acquired=D(2020, 1, 2),
            shares=60,
            cost_basis=1800.0,
        ),
        TaxLot(
            account="B",
            symbol="AAA",
            lot_id="L2",
            acquired=D(2025, 6, 1),
            shares=40,
            cost_basis=2800.0,
        ),
        TaxLot(
            account="B",
            symbol="AAA",
            lot_id="L3",
            acquired=D(2026, 1, 5),
            shares=10,
            cost_basis=600.0,
            lock="lock",
        ),
        TaxLot(
            account="B",
            symbol="BBB",
            lot_id="B1",
            acquired=D(2021, 5, 3),
            shares=30,
            cost_basis=2400.0,
        ),
    )
    return Portfolio(
        settings=Settings(
            valuation_date=VALUATION,
            trigger="always",
            **(
                {
                    "cost_bps": 0,
                    "min_trade_value": 0,
                    "lot_method": "min_tax",
                    "allow_wash_sales": True,
                    "max_realized_gain": cap,
                }
                | settings
            ),
        ),
        accounts=(Account(account="B", type="taxable", cash=1000.0),),
        holdings=(
            Holding(account="B", symbol="AAA", shares=110),
            Holding(account="B", symbol="BBB", shares=30),
        ),
        lots=lots,
        targets=(
            Target(symbol="AAA", target_weight=0.2),
            Target(symbol="BBB", target_weight=0.8),
        ),
    )


def _solver_fails(*args, **kwargs):
    raise RuntimeError("HiGHS found no solution: simulated")


def test_gain_cap_holds_after_the_wash_sale_adjustment():
    """L3 (10 sh, bought 10 days ago) replaces 10 of the 40 loss shares of L2 sold, so
    10 × $10 = $100 of L2's $400 loss is disallowed (Pub. 550: loss × replacement shares
    / shares sold). Counting the full loss, the program would sell 25 of L1 (+$750) for a
    net $350; after the adjustment that is $450, over the $400 cap. The run must end at
    or under the cap on the figure the Trades sheet shows."""
    result = rebalance(household(), PRICES)
    sells = {t.lot_id: t for t in result.trades if t.action == "SELL"}
    assert sells["L2"].shares == 40 and sells["L2"].realized_gain == pytest.approx(-300.0)
    net = sum(t.realized_gain or 0.0 for t in sells.values())
    assert net <= 400.0 + 0.005
    # Still rebalancing under the cap: L1's gain lots are sold up to near it.
    assert sells["L1"].shares >= 20
    assert "L3" not in sells  # locked


def test_a_gain_cap_the_fallback_breaks_stops_or_is_named(monkeypatch):
    """The solver fails; with `stop` that is an error already. Under `relax` the simple
    rebalance runs and knows nothing of the cap: the breach is named with its figure."""

    monkeypatch.setattr(plan_module, "solve_trades", _solver_fails)
    with pytest.raises(InfeasibleError, match="the solver found no trade list"):
        rebalance(household(cap=100.0), PRICES)
    result = rebalance(household(cap=100.0, infeasible="relax"), PRICES)
    net = sum(t.realized_gain or 0.0 for t in result.trades)
    assert net > 100.0
    named = [w for w in result.warnings if w.field == "max_realized_gain"]
    assert named and named[0].level == "warning"
    assert f"net gain of {net:,.2f}" in named[0].message and "above max_realized_gain 100.00"


def test_turnover_cap_after_the_fallback_is_named_with_its_figure(monkeypatch):
    monkeypatch.setattr(plan_module, "solve_trades", _solver_fails)
    result = rebalance(household(cap=None, max_turnover=0.05, infeasible="relax"), PRICES)
    turnover = result.summary_value("Turnover")
    assert turnover > 0.05
    named = [w for w in result.warnings if w.field == "max_turnover"]
    assert len(named) == 1
    assert f"turnover {turnover:.4%} is above max_turnover 5.0000%" in named[0].message


def test_turnover_is_held_on_the_summary_total_with_a_deposit():
    """A $2,000 deposit on a $10,000 household with max_turnover 15%: at most $1,500 one
    way, measured on the value before the run as the Summary measures it (the program
    used to measure on the value after the deposit, $12,000, and allowed $1,800)."""
    portfolio = household(cap=None, max_turnover=0.15, cash_flow=2000.0)
    result = rebalance(portfolio, PRICES)
    before = result.summary_value("Total value before")
    assert before == pytest.approx(10_600.0)
    turnover = result.summary_value("Turnover")
    assert turnover <= 0.15 + 1e-12
    buys = sum(t.value for t in result.trades if t.action == "BUY")
    sells = sum(t.value for t in result.trades if t.action == "SELL")
    assert (buys + sells) / 2 / before == pytest.approx(turnover)
    assert turnover > 0.14  # the cap binds: the targets want far more


def test_checker_names_fractional_shares_locked_lots_and_no_sell():
    """The last line of defence, given a trade list no path should produce."""
    portfolio = household(cap=None).model_copy(
        update={"constraints": (Constraint(scope="symbol", name="BBB", no_buy=True, row=2),)}
    )
    after = household_from(portfolio, PRICES)
    trades = [
        Trade(
            account="B",
            symbol="AAA",
            action="SELL",
            shares=10.7509,
            price=60.0,
            value=645.05,
            lot_id="L1",
        ),
        Trade(
            account="B",
            symbol="AAA",
            action="SELL",
            shares=10,
            price=60.0,
            value=600.0,
            lot_id="L3",
        ),
        Trade(account="B", symbol="BBB", action="BUY", shares=12, price=100.0, value=1200.0),
    ]
    breaches = check_limits(portfolio, trades, after, 10_600.0, [])
    text = [b.message for b in breaches]
    assert any("SELL 10.7509 AAA in B (lot L1) is not a whole number" in m for m in text)
    assert any("lot L3 of AAA in B is sold, but its Lock is lock" in m for m in text)
    assert any("BUY BBB in B breaks the no_buy rule of Constraints row 2" in m for m in text)
    # A whole fractional lot may be sold whole: not a breach.
    fractional = portfolio.model_copy(
        update={
            "lots": (portfolio.lots[0].model_copy(update={"shares": 10.7509}),),
            "constraints": (),
        }
    )
    assert check_limits(fractional, trades[:1], after, 10_600.0, []) == []


def test_checker_counts_locked_shares_in_a_sale_without_a_lot_id():
    """A tax-deferred sale names no lot (issue 45): the checker still knows that the
    locked lot's shares are not for sale, and says by how many shares the sale is over."""
    base = household(cap=None)
    portfolio = base.model_copy(
        update={"accounts": (Account(account="B", type="tax_deferred", cash=1000.0),)}
    )
    after = household_from(portfolio, PRICES)
    sell = Trade(account="B", symbol="AAA", action="SELL", shares=110, price=60.0, value=6600.0)
    text = [b.message for b in check_limits(portfolio, [sell], after, 10_600.0, [])]
    assert any(
        "110 shares of AAA in B are sold, but 10 of its 110 are in lots whose Lock is lock: "
        "at most 100 may be sold" in m
        for m in text
    ), text
    free = sell.model_copy(update={"shares": 100, "value": 6000.0})
    assert check_limits(portfolio, [free], after, 10_600.0, []) == []


def test_relax_writes_the_breach_to_the_log(tmp_path: Path, monkeypatch):
    """Through the workbook door: the fallback's broken turnover on the Log sheet, at the
    Settings cell of max_turnover."""

    monkeypatch.setattr(plan_module, "solve_trades", _solver_fails)
    book = write_book(
        tmp_path / "book.xlsm",
        TWO_FUNDS,
        {**TWO_FUNDS_SETTINGS, "max_turnover": 0.01, "infeasible": "relax", "trigger": "always"},
    )
    report = run_engine(book, "rebalance", RunOptions())
    named = [w for w in report.warnings if "above max_turnover 1.0000%" in w.message]
    assert named and named[0].sheet == "Settings" and named[0].cell
    log = [
        " ".join(map(str, row)) for row in load_workbook(book)["Log"].iter_rows(values_only=True)
    ]
    assert any("above max_turnover 1.0000%" in row and named[0].cell in row for row in log), log
