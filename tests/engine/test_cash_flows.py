"""Cash flows done properly (issue 20): a deposit goes to the most underweight lines
first and sells nothing it does not have to; a withdrawal is raised with the least tax;
rebalance_mode buy_only never sells and sell_only never buys."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.conftest import TWO_FUNDS, TWO_FUNDS_SETTINGS, manual_prices, write_book
from tests.test_cli import cli
from xl_rebalancer.engine.rebalance import rebalance
from xl_rebalancer.models import Account, Holding, Portfolio, Settings, Target, TaxLot

D = dt.date
VALUATION = D(2026, 1, 15)
PRICES = {"US": 100.0, "INTL": 50.0, "BOND": 80.0, "REIT": 40.0}


def household(cash_flow: float, mode: str = "full", cash: float = 0.0) -> Portfolio:
    """$100,000: US 60% (goal 40%), INTL 10% (goal 30%), BOND 22% (goal 24%), REIT 8%
    (goal 6%). US has a lot at a large gain and one at a loss."""
    return Portfolio(
        settings=Settings(
            valuation_date=VALUATION, trigger="always", cash_flow=cash_flow, rebalance_mode=mode
        ),
        accounts=(Account(account="T", type="taxable", cash=cash),),
        holdings=(
            Holding(account="T", symbol="US", shares=600),
            Holding(account="T", symbol="INTL", shares=200),
            Holding(account="T", symbol="BOND", shares=275),
            Holding(account="T", symbol="REIT", shares=200),
        ),
        lots=(
            TaxLot(account="T", symbol="US", lot_id="US-gain", acquired=D(2015, 3, 2),
                   shares=400, cost_basis=16_000),
            TaxLot(account="T", symbol="US", lot_id="US-loss", acquired=D(2022, 1, 3),
                   shares=200, cost_basis=23_000),
            TaxLot(account="T", symbol="INTL", lot_id="I1", acquired=D(2020, 5, 1),
                   shares=200, cost_basis=9_000),
            TaxLot(account="T", symbol="BOND", lot_id="B1", acquired=D(2019, 5, 1),
                   shares=275, cost_basis=23_000),
            TaxLot(account="T", symbol="REIT", lot_id="R1", acquired=D(2019, 5, 1),
                   shares=200, cost_basis=7_000),
        ),
        targets=(
            Target(symbol="US", target_weight=0.40),
            Target(symbol="INTL", target_weight=0.30),
            Target(symbol="BOND", target_weight=0.24),
            Target(symbol="REIT", target_weight=0.06),
        ),
    )  # fmt: skip


def test_a_deposit_goes_to_the_most_underweight_line_first():
    # $10,000 in: INTL is $20,000 short of its goal, BOND $2,000 short, inside its band.
    result = rebalance(household(10_000, "buy_only"), PRICES)
    assert {t.action for t in result.trades} == {"BUY"}
    bought = {t.symbol: t.value for t in result.trades}
    assert set(bought) == {"INTL"}
    assert bought["INTL"] > 9_900


def test_a_full_rebalance_with_a_deposit_sells_no_underweight_line():
    result = rebalance(household(30_000), PRICES)
    sold = {t.symbol for t in result.trades if t.action == "SELL"}
    goals = {"US": 0.40, "INTL": 0.30, "BOND": 0.24, "REIT": 0.06}
    before = {"US": 60_000, "INTL": 10_000, "BOND": 22_000, "REIT": 8_000}
    for symbol in sold:
        # Only a line over its goal in the household after the deposit may be sold.
        assert before[symbol] > goals[symbol] * 130_000, symbol
    assert "INTL" not in sold and "BOND" not in sold
    # US is sold from the loss lot first: no tax is paid to reach the targets.
    assert all(t.lot_id == "US-loss" for t in result.trades if t.symbol == "US")


def test_buy_only_never_sells_even_far_out_of_band():
    result = rebalance(household(0, "buy_only", cash=5_000), PRICES)
    assert result.trades and all(t.action == "BUY" for t in result.trades)
    assert {t.symbol for t in result.trades} == {"INTL"}


def test_sell_only_raises_a_withdrawal_with_the_least_tax_and_buys_nothing():
    result = rebalance(household(-5_000, "sell_only"), PRICES)
    assert result.trades and all(t.action == "SELL" for t in result.trades)
    assert sum(t.value - (t.est_cost or 0) for t in result.trades) >= 5_000 - 0.01
    # The US loss lot is the only sale that realizes no gain: all of it comes from there.
    assert {t.lot_id for t in result.trades} == {"US-loss"}
    assert sum(t.realized_gain or 0 for t in result.trades) < 0
    cash_after = next(a.cash_after for a in result.accounts)
    assert cash_after >= 0


def test_command_line_buy_only_and_its_refusal(tmp_path):
    settings = {**TWO_FUNDS_SETTINGS, "rebalance_mode": "Buy Only", "trigger": "always"}
    book = write_book(tmp_path / "buy_only.xlsx", TWO_FUNDS, settings)
    out = cli("rebalance", str(book), "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    trades = json.loads(out.stdout)["trades"]
    assert trades and {t["action"] for t in trades} == {"BUY"}

    lots = [{**TWO_FUNDS["TaxLots"][0], "lock": "sell"}, *TWO_FUNDS["TaxLots"][1:]]
    locked = write_book(tmp_path / "locked.xlsx", {**TWO_FUNDS, "TaxLots": lots}, settings)
    out = cli("validate", str(locked), "--json")
    assert out.returncode == 1
    problems = json.loads(out.stdout)["problems"]
    assert {
        "level": "error",
        "sheet": "TaxLots",
        "cell": "J2",
        "message": "lot L1 is marked Lock = sell, but rebalance_mode is buy_only (nothing is "
        "sold); clear the Lock or set rebalance_mode to full",
    }.items() <= problems[0].items()


def two_accounts(flows: list[dict], cash_flow: float = 0.0) -> dict:
    """A taxable account over in US and an IRA over in BOND, $100,000 in all."""
    return {
        "Accounts": [
            {"account": "Taxable", "type": "taxable", "cash": 0.0},
            {"account": "IRA", "type": "tax_deferred", "cash": 0.0},
        ],
        "CashFlows": flows,
        "Holdings": [
            {"account": "Taxable", "symbol": "US", "shares": 500},
            {"account": "Taxable", "symbol": "INTL", "shares": 200},
            {"account": "IRA", "symbol": "BOND", "shares": 500},
        ],
        "TaxLots": [
            {"account": "Taxable", "symbol": "US", "lot_id": "US-1",
             "acquired": D(2016, 3, 1), "shares": 500, "cost_basis": 20_000},
            {"account": "Taxable", "symbol": "INTL", "lot_id": "I-1",
             "acquired": D(2019, 3, 1), "shares": 200, "cost_basis": 9_000},
        ],
        "Targets": [
            {"symbol": "US", "target_weight": 0.45},
            {"symbol": "INTL", "target_weight": 0.15},
            {"symbol": "BOND", "target_weight": 0.40},
        ],
        "Prices": manual_prices(dict((("US", 100.0), ("INTL", 50.0), ("BOND", 80.0))), VALUATION),
    }  # fmt: skip


def test_cash_flows_table_moves_money_per_account_through_the_command_line(tmp_path):
    # $8,000 into the IRA, $3,000 out of the taxable account: each account handles its own
    # flow (cash never moves between accounts), the Summary reports the net $5,000.
    flows = [
        {"account": "IRA", "amount": 8_000, "note": "IRA contribution"},
        {"account": "Taxable", "amount": -3_000, "note": "tuition"},
    ]
    settings = {"valuation_date": VALUATION, "trigger": "always"}
    book = write_book(tmp_path / "flows.xlsx", two_accounts(flows), settings)
    out = cli("rebalance", str(book), "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    doc = json.loads(out.stdout)
    summary = doc["summary"]
    assert summary["cash_flow"] == 5_000
    assert summary["total_value_after"] == pytest.approx(
        100_000 + 5_000 - summary["estimated_costs"], abs=0.01
    )
    trades = doc["trades"]

    def cash_after(account: str, flow: float) -> float:
        rows = [t for t in trades if t["account"] == account]
        sign = {"SELL": 1, "BUY": -1}
        return flow + sum(sign[t["action"]] * t["value"] - t["est_cost"] for t in rows)

    # Each account handles its own flow: the IRA invests its deposit in the IRA (BOND is
    # under its goal after the money comes in), the taxable account raises its
    # withdrawal from its own holdings; neither ends below zero nor idle.
    assert 0 <= cash_after("IRA", 8_000) < 8_000 * 0.05
    assert 0 <= cash_after("Taxable", -3_000) < 1_000
    ira_bought = sum(t["value"] for t in trades if t["account"] == "IRA" and t["action"] == "BUY")
    assert ira_bought > 7_500


def test_cash_flow_setting_is_the_first_accounts_row_and_adds_to_the_table():
    from xl_rebalancer.models import CashFlow

    p = Portfolio(
        settings=Settings(cash_flow=-1_000),
        accounts=(
            Account(account="A", type="taxable"),
            Account(account="B", type="tax_exempt"),
        ),
        cash_flows=(
            CashFlow(account="B", amount=2_000),
            CashFlow(account="B", amount=500),
            CashFlow(account="A", amount=1_000),
        ),
    )
    assert p.flows() == {"B": 2_500}  # A's +1,000 row and the -1,000 setting cancel


def test_cash_flows_refused_at_their_cells(tmp_path):
    settings = {"valuation_date": VALUATION, "trigger": "always"}
    unknown = write_book(
        tmp_path / "unknown.xlsx",
        two_accounts([{"account": "Savings", "amount": 1_000}]),
        settings,
    )
    out = cli("validate", str(unknown), "--json")
    assert out.returncode == 1
    problem = json.loads(out.stdout)["problems"][0]
    assert (problem["sheet"], problem["cell"]) == ("CashFlows", "A2")
    assert problem["message"] == "account 'Savings' is not on the Accounts sheet"

    # The IRA holds $40,000: a $50,000 withdrawal cannot be raised there, and the error
    # points at the row that asks for it; nothing is written.
    too_much = write_book(
        tmp_path / "too_much.xlsx",
        two_accounts(
            [{"account": "Taxable", "amount": 100}, {"account": "IRA", "amount": -50_000}]
        ),
        settings,
    )
    before = too_much.read_bytes()
    out = cli("rebalance", str(too_much), "--json")
    assert out.returncode == 1, out.stdout
    doc = json.loads(out.stdout)
    assert "account IRA cannot cover the withdrawal" in doc["error"]
    cells = {(p["sheet"], p["cell"]) for p in doc["problems"]}
    assert cells == {("CashFlows", "B3")}
    assert too_much.read_bytes() == before


def test_minimum_trade_scales_with_the_household():
    from xl_rebalancer.engine.rebalance import minimum_trade

    assert minimum_trade(20_000) == 100  # at least 100
    assert minimum_trade(322_031.50) == 322  # 0.1%
    assert minimum_trade(5_000_000) == 2_500  # at most 2,500
    # The demo-sized household: a blank setting is resolved and reported in the Summary.
    result = rebalance(household(0), PRICES)
    assert result.summary_value("Minimum trade") == 100
    big = rebalance(household(900_000, "buy_only"), PRICES)
    assert big.summary_value("Minimum trade") == 1_000
    assert all(t.value >= 1_000 for t in big.trades)
