"""Trades a careful adviser would sign (issue 20): no avoidable tax, checked against the
best possible decision, not only against "it ran".

- A household worked by hand: the optimum is known and the engine must find it.
- Small random households: the production search (node limit, gaps) must reach within
  0.5% of the exact program solved to a proven optimum (no node limit, zero gaps).
- The property the issue names: locking every gain lot the production plan sells must
  not reach the same or lower drift with less tax (else the plan paid avoidable tax).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from benchmarks.trade_quality_bench import gain_lots_locked, random_household, taxed
from xl_rebalancer.engine.program import model, search
from xl_rebalancer.engine.rebalance import rebalance
from xl_rebalancer.models import Account, Constraint, Holding, Portfolio, Settings, Target, TaxLot

D = dt.date
VALUATION = D(2026, 1, 15)


def in_class_household(ira_stock: bool, **settings: str) -> Portfolio:
    """Taxable: A 500 sh (basis $40, a $30,000 LT gain) and B 500 sh (basis $98), both US
    stock at $100; IRA: BND 600 sh and, in the second case, C 200 sh of US stock. Targets
    US 50% / Bonds 50%, bands of 5 points."""
    holdings = [
        Holding(account="T", symbol="A", shares=500, asset_class="US"),
        Holding(account="T", symbol="B", shares=500, asset_class="US"),
        Holding(account="IRA", symbol="BND", shares=600, asset_class="Bonds"),
        Holding(account="T", symbol="BND", shares=0, asset_class="Bonds"),
    ]
    if ira_stock:
        holdings.append(Holding(account="IRA", symbol="C", shares=200, asset_class="US"))
    return Portfolio(
        settings=Settings(valuation_date=VALUATION, trigger="always", **settings),
        accounts=(
            Account(account="T", type="taxable", cash=0),
            Account(account="IRA", type="tax_deferred", cash=0),
        ),
        holdings=tuple(holdings),
        lots=(
            TaxLot(
                account="T",
                symbol="A",
                lot_id="A1",
                acquired=D(2015, 1, 2),
                shares=500,
                cost_basis=20_000,
            ),
            TaxLot(
                account="T",
                symbol="B",
                lot_id="B1",
                acquired=D(2024, 1, 2),
                shares=500,
                cost_basis=49_000,
            ),
        ),
        targets=(
            Target(asset_class="US", target_weight=0.5),
            Target(asset_class="Bonds", target_weight=0.5),
        ),
    )


PRICES = {"A": 100.0, "B": 100.0, "C": 100.0, "BND": 100.0}


@pytest.mark.parametrize(
    ("ira_stock", "tax"),
    [
        # $160,000: US $100,000 against a $80,000 goal. Selling 200 B ($1.95 gain a
        # share, 20% LT rate) costs $78; the same $20,000 from A would cost $2,400.
        (False, 78.0),
        # $180,000: $30,000 of US to sell. All of C in the IRA is tax-free; the other
        # $10,000 from B costs 100 × $1.95 × 20% = $39. (The fund-mix term used to sell
        # A and B alike: $1,547.50 of tax for the same drift.)
        (True, 39.0),
    ],
)
def test_no_tax_paid_for_the_fund_mix_inside_a_class(ira_stock: bool, tax: float):
    # Trading to the exact target, as in_band_gains = allow lets risk_aversion pay for:
    # the worked figures above. (By default the taxable sale stops at the band edge,
    # next test.)
    result = rebalance(in_class_household(ira_stock, in_band_gains="allow"), PRICES)
    assert result.summary_value("Estimated tax") == pytest.approx(tax)
    assert not any(t.symbol == "A" for t in result.trades)
    assert result.summary_value("Largest drift after") < 0.002


@pytest.mark.parametrize(
    ("ira_stock", "sold_b", "tax"),
    [
        # US 62.5% against 50% with a 5-point band: $12,000 beyond the edge. 121 B at
        # $99.95 after costs pay for 120 BND (whole shares; US ends at 54.95%):
        # 121 × ($99.95 − $98) × 20% = $47.19. Not the 200 B to target.
        (False, 121, 47.19),
        # $21,000 beyond the edge: all of C in the IRA (tax-free), then 12 B:
        # 12 × $1.95 × 20% = $4.68, against $39 for the 100 B that reach the target.
        (True, 12, 4.68),
    ],
)
def test_by_default_no_gain_is_realized_to_move_a_line_inside_its_band(
    ira_stock: bool, sold_b: int, tax: float
):
    """in_band_gains = avoid (issue 44): the taxable gain pays for drift beyond the band
    edge only; what is inside the band is left, however cheap the gain."""
    result = rebalance(in_class_household(ira_stock), PRICES)
    sold = {(t.symbol): t.shares for t in result.trades if t.action == "SELL"}
    assert sold.get("B") == sold_b and "A" not in sold
    assert result.summary_value("Estimated tax") == pytest.approx(tax)
    us = next(r for r in result.drift if r.asset_class == "US")
    assert 0.048 < us.post_trade_weight - us.target_weight <= 0.05  # at the band edge
    assert "in_band_tax" not in {i.name for i in result.summary}


def test_no_tax_paid_for_the_fund_mix_through_the_command_line(tmp_path):
    # The same household as a workbook, as a user would run it.
    import json

    from tests.conftest import portfolio_sheets, write_book
    from tests.test_cli import cli

    p = in_class_household(True)
    data = portfolio_sheets(p, PRICES, VALUATION)
    settings = {"valuation_date": VALUATION, "in_band_gains": "allow"}
    book = write_book(tmp_path / "fund_mix.xlsx", data, settings)
    out = cli("rebalance", str(book), "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    doc = json.loads(out.stdout)
    assert doc["summary"]["estimated_tax"] == pytest.approx(39.0)
    assert not [t for t in doc["trades"] if t["symbol"] == "A"]
    # Opted in, the Summary says what trading inside the bands cost: $39 against the
    # $4.68 of the plan that moves only what is beyond them (test above).
    assert doc["summary"]["in_band_tax"] == pytest.approx(39.0 - 4.68)


# --- random small households (benchmarks/trade_quality_bench.py) -------------------


def objective(monkeypatch, portfolio, prices, **limits) -> float:
    seen: list[float] = []
    original = model._Model.solve

    def spy(self, relax, abs_gap=0.0):
        x, message = original(self, relax, abs_gap)
        if x is not None:
            seen.append(float(np.dot(self.cost, x)))
        return x, message

    with monkeypatch.context() as patch:
        patch.setattr(model._Model, "solve", spy)
        for name, value in limits.items():
            patch.setattr(search, name, value)
        rebalance(portfolio, prices)
    return seen[-1]


# Households 2 and 5 pass too but take 25-70 s to prove optimal; the suite keeps the four
# that prove in seconds, and the benchmark runs 200 for tax regret.
@pytest.mark.parametrize("seed", [0, 1, 3, 4])
def test_production_search_is_within_half_a_percent_of_the_proven_optimum(monkeypatch, seed):
    """The objective is money (drift priced, costs, tickets, netted tax), so the test is in
    money: the production plan must win at least 99.5% of what the proven optimum wins
    over doing nothing (the same program with every account NoBuy and NoSell)."""
    portfolio, prices = random_household(seed)
    assert len(portfolio.lots) <= 60
    frozen = portfolio.model_copy(
        update={
            "constraints": tuple(
                Constraint(scope="account", name=a.account, no_buy=True, no_sell=True, row=2)
                for a in portfolio.accounts
            )
        }
    )
    nothing = objective(monkeypatch, frozen, prices)
    production = objective(monkeypatch, portfolio, prices)
    proven = objective(
        monkeypatch,
        portfolio,
        prices,
        NODE_LIMIT=1_000_000,
        MIP_GAP=0.0,
        ABS_GAP=0.0,
        TIME_LIMIT=300.0,
    )
    assert proven <= production + 1e-6
    assert nothing - production >= 0.995 * (nothing - proven) - 0.01, (nothing, production, proven)


@pytest.mark.parametrize("seed", range(8))
def test_locking_the_gain_lots_sold_finds_no_cheaper_plan_at_the_same_drift(seed):
    portfolio, prices = random_household(seed)
    plan = rebalance(portfolio, prices)
    locked = gain_lots_locked(portfolio, plan)
    if locked is None:
        return  # nothing taxed to avoid
    alternative = rebalance(locked, prices)
    same_drift = (
        alternative.summary_value("Drift distance after")
        <= plan.summary_value("Drift distance after") + 1e-6
    )
    if same_drift:
        assert taxed(locked, alternative) >= taxed(portfolio, plan) - 0.01
