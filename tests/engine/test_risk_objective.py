"""The solver's tracking term priced by the risk model, and asset location.

The reference for the risk weighting is the closed form √(dᵀΣd) of the weight gaps,
computed by hand below: when not every gap can be closed, the one closed should be the
one that leaves the smaller tracking error.
"""

from __future__ import annotations

import datetime as dt
import math

import pytest

from xl_rebalancer.engine.drift import TargetLine
from xl_rebalancer.engine.plan import risk_scales
from xl_rebalancer.engine.rebalance import rebalance
from xl_rebalancer.models import Account, Holding, Portfolio, Settings, Target

VALUATION = dt.date(2026, 6, 30)
PRICES = {"E1": 100.0, "E2": 100.0, "B1": 100.0, "B2": 100.0}
# Stocks at 30% volatility, bonds at 5%, uncorrelated.
RISK = (
    ["E1", "E2", "B1", "B2"],
    [[0.09, 0, 0, 0], [0, 0.09, 0, 0], [0, 0, 0.0025, 0], [0, 0, 0, 0.0025]],
)


def four_funds(**settings) -> Portfolio:
    # 10,000 in an IRA (no tax): E1 30%, E2 20%, B1 30%, B2 20%; targets 25% each.
    return Portfolio(
        settings=Settings(
            valuation_date=VALUATION,
            trigger="always",
            **({"cost_bps": 0, "min_trade_value": 0} | settings),
        ),
        accounts=(Account(account="IRA", type="tax_deferred", cash=0),),
        holdings=(
            Holding(account="IRA", symbol="E1", shares=30),
            Holding(account="IRA", symbol="E2", shares=20),
            Holding(account="IRA", symbol="B1", shares=30),
            Holding(account="IRA", symbol="B2", shares=20),
        ),
        targets=tuple(Target(symbol=s, target_weight=0.25) for s in PRICES),
    )


def test_with_a_turnover_cap_the_riskier_gap_is_closed_first():
    # max_turnover 5% allows $500 sold and $500 bought: one pair of 5% gaps. Closing the
    # stock pair leaves d = (0, 0, +.05, −.05): TE = √(2 × .05² × .0025) = 0.354%;
    # closing the bond pair would leave √(2 × .05² × .09) = 2.12%.
    result = rebalance(four_funds(max_turnover=0.05), PRICES, risk=RISK)
    trades = {(t.symbol, t.action): t.shares for t in result.trades}
    assert trades == {("E1", "SELL"): 5, ("E2", "BUY"): 5}
    assert result.summary_value("Tracking error after") == pytest.approx(
        math.sqrt(2 * 0.05**2 * 0.0025)
    )
    assert result.summary_value("Tracking error before") == pytest.approx(
        math.sqrt(2 * 0.05**2 * 0.09 + 2 * 0.05**2 * 0.0025)
    )


def test_without_the_cap_every_gap_is_closed_either_way():
    for risk in (RISK, None):
        result = rebalance(four_funds(), PRICES, risk=risk)
        assert {(t.symbol, t.action): t.shares for t in result.trades} == {
            ("E1", "SELL"): 5,
            ("E2", "BUY"): 5,
            ("B1", "SELL"): 5,
            ("B2", "BUY"): 5,
        }


def test_scales_are_volatility_over_the_median_line_clipped():
    lines = [
        TargetLine("E1", "symbol", 0.25, 0.05, ("E1",)),
        TargetLine("B1", "symbol", 0.25, 0.05, ("B1",)),
        TargetLine("MIX", "asset_class", 0.5, 0.05, ("E2", "B2")),
        TargetLine("CASH", "cash", 0.0, 0.0),
    ]
    values = {"E1": 1.0, "B1": 1.0, "E2": 3000.0, "B2": 1000.0}
    scales = risk_scales(lines, RISK, values)
    # MIX is 75/25 by value: σ = √(.75² × .09 + .25² × .0025) = 0.22535; the median of
    # (0.30, 0.05, 0.22535) is 0.22535.
    mix = math.sqrt(0.75**2 * 0.09 + 0.25**2 * 0.0025)
    assert scales["MIX"] == pytest.approx(1.0)
    assert scales["E1"] == pytest.approx(0.30 / mix)
    assert scales["B1"] == pytest.approx(0.25)  # 0.05 / 0.225 = 0.22, clipped at ¼
    assert "CASH" not in scales


def household(stock_location=None, bond_location=None, **holdings) -> Portfolio:
    # Household-level targets, 50/50; $5,000 of cash in each account.
    return Portfolio(
        settings=Settings(valuation_date=VALUATION, trigger="always", min_trade_value=0),
        accounts=(
            Account(account="Taxable", type="taxable", cash=5000),
            Account(account="IRA", type="tax_deferred", cash=5000),
        ),
        holdings=tuple(
            Holding(account=account, symbol=symbol, shares=shares)
            for (account, symbol), shares in holdings.get("held", {}).items()
        ),
        targets=(
            Target(symbol="STOCK", target_weight=0.5, location=stock_location),
            Target(symbol="BOND", target_weight=0.5, location=bond_location),
        ),
    )


def test_bonds_are_bought_in_the_ira_and_stocks_in_the_taxable_account():
    prices = {"STOCK": 100.0, "BOND": 100.0}
    result = rebalance(household(bond_location="tax_deferred"), prices)
    bought = {(t.account, t.symbol): t.shares for t in result.trades if t.action == "BUY"}
    assert bought == {("IRA", "BOND"): 49, ("Taxable", "STOCK"): 49}


def test_location_by_asset_class_reaches_its_funds():
    prices = {"STOCK": 100.0, "BOND": 100.0}
    portfolio = Portfolio(
        settings=Settings(valuation_date=VALUATION, trigger="always", min_trade_value=0),
        accounts=(
            Account(account="Taxable", type="taxable", cash=5000),
            Account(account="Roth", type="tax_exempt", cash=5000),
        ),
        holdings=(
            Holding(account="Taxable", symbol="STOCK", shares=0, asset_class="Equity"),
            Holding(account="Taxable", symbol="BOND", shares=0, asset_class="Bonds"),
        ),
        targets=(
            Target(asset_class="Equity", target_weight=0.5, location="taxable"),
            Target(asset_class="Bonds", target_weight=0.5, location="tax_exempt"),
        ),
    )
    result = rebalance(portfolio, prices)
    bought = {(t.account, t.symbol): t.shares for t in result.trades if t.action == "BUY"}
    assert bought == {("Roth", "BOND"): 49, ("Taxable", "STOCK"): 49}


def test_holdings_are_not_swapped_between_accounts_for_location_alone():
    # At target, but bonds sit in the taxable account: a swap would cost two round
    # trips of 5 bp against 5 bp of location, so nothing is traded.
    prices = {"STOCK": 100.0, "BOND": 100.0}
    portfolio = household(
        bond_location="tax_deferred",
        held={("Taxable", "BOND"): 50, ("IRA", "STOCK"): 50},
    ).model_copy(
        update={
            "accounts": (
                Account(account="Taxable", type="taxable", cash=0),
                Account(account="IRA", type="tax_deferred", cash=0),
            )
        }
    )
    assert rebalance(portfolio, prices).trades == ()
