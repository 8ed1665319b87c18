"""location.py's rules: a fund bought outside its Location costs LOCATION_WEIGHT, and it
is not bought there while an account of its Location keeps the cash
(location_before_cash)."""

from __future__ import annotations

import pytest

from xl_rebalancer.engine.program.location import LOCATION_WEIGHT
from xl_rebalancer.models import Account, Holding, Portfolio, Settings, Target
from xl_rebalancer.models.inputs import Security

from .conftest import VALUATION, D, Program, lot

PRICES = {"VTI": 100.0, "BND": 100.0, "AGG": 100.0}


def bonds_to_place() -> Portfolio:
    """T (taxable): $10,000 of cash, VTI 600 sh, BND 190 sh; the IRA: $20,000 of cash
    and AGG 10 sh; all at $100, $110,000 in all. Bonds' Location is tax_deferred; BND is
    bought in taxable accounts only, AGG in tax-deferred ones (Securities). Targets:
    US $60,000 (as held), Bonds $30,000 ($10,000 to buy), cash $20,000 (so $20,000 of
    the $30,000 stays, in one account or the other). AGG's own goal, the class split by
    what is held, is 1,000 / 20,000 of $30,000 = $1,500: bonds bought as AGG cost the
    0.1% tie-break per dollar past it, twice the 5 bp BND costs outside its Location."""
    total = 110_000.0
    return Portfolio(
        settings=Settings(valuation_date=VALUATION, trigger="always"),
        accounts=(
            Account(account="T", type="taxable", cash=10_000.0),
            Account(account="IRA", type="tax_deferred", cash=20_000.0),
        ),
        holdings=(
            Holding(account="T", symbol="VTI", shares=600, asset_class="US"),
            Holding(account="T", symbol="BND", shares=190, asset_class="Bonds"),
            Holding(account="IRA", symbol="AGG", shares=10, asset_class="Bonds"),
        ),
        lots=(
            lot("T", "VTI", "V1", 600, 60_000.0, D(2020, 1, 2)),
            lot("T", "BND", "B1", 190, 19_000.0, D(2020, 1, 2)),
        ),
        securities=(
            Security(symbol="BND", asset_class="Bonds", buy="taxable"),
            Security(symbol="AGG", asset_class="Bonds", buy="tax_deferred"),
        ),
        targets=(
            Target(asset_class="US", target_weight=60_000 / total, location="taxable"),
            Target(asset_class="Bonds", target_weight=30_000 / total, location="tax_deferred"),
            Target(symbol="CASH", target_weight=20_000 / total),
        ),
    )


def test_a_buy_outside_its_location_costs_more_and_is_tied_to_the_cash_left_at_home(
    program: Program,
):
    """BND in T costs 5 bp of trading and LOCATION_WEIGHT (5 bp) a dollar: $0.10 a share.
    Its row: the IRA's end cash (its cash terms, on top of its $20,000) less the BND
    bought in T, less a slack at $1 a dollar, is at most big × (1 − BND's ticket), big
    = the most the IRA can end with plus $1 ($20,000 + 10 AGG × $100 + 1 = $21,001)."""
    buys, pieces = program.watch("buys"), program.watch("location_before_cash")
    program.plan(bonds_to_place(), PRICES)
    t, m = buys[-1].t, buys[-1].t.m
    buy, flag = t.buy_var[("T", "BND")], t.buy_flag[("T", "BND")]
    assert m.cost[buy] == pytest.approx(0.0005 * 100 + LOCATION_WEIGHT * 100)
    (row,) = pieces[-1].rows_with(flag)
    (slack,) = [j for j in pieces[-1].columns if j in row[0]]
    assert m.cost[slack] == 1.0
    assert row[0] == pytest.approx(
        {
            t.sell_var[("IRA", "AGG")]: 99.95,
            t.buy_var[("IRA", "AGG")]: -100.05,
            t.buy_var[("IRA", "VTI")]: -100.05,
            buy: -100.0,
            slack: -1.0,
            flag: 21_001.0,
        }
    )
    assert row[2] == pytest.approx(21_001.0 - 20_000.0)


def test_without_location_before_cash_bonds_are_bought_in_taxable_while_the_ira_keeps_cash(
    program: Program,
):
    """With the rule the IRA buys the bonds: 100 AGG ($10,005), T keeps its cash. Without
    it the tie-break wins over the 5 bp: T buys 95 BND ($9,500) while the IRA ends with
    $20,000 − 5 AGG × $100.05 = $19,499.75, more than that buy."""
    decision = program.plan(bonds_to_place(), PRICES)
    assert decision.buys == {("IRA", "AGG"): 100.0}, "bonds bought where they belong"

    program.without("location_before_cash")
    decision = program.plan(bonds_to_place(), PRICES)
    assert decision.buys == {("T", "BND"): 95.0, ("IRA", "AGG"): 5.0}
    ira_left = 20_000.0 - 5 * 100.05
    assert ira_left > 95 * 100.0, "a bond fund bought in taxable while the IRA had the cash"
