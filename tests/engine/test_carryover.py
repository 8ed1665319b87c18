"""A gain realized past the $3,000 loss limit is not free (issue 20).

Counting only this year's netted tax (Schedule D), once the year's net loss passes the
limit of IRC §1211(b) another dollar of gain adds nothing to this year's tax: it only
shrinks the loss carried to next year (§1212(b), the Capital Loss Carryover Worksheet
in the Schedule D instructions; Pub. 550, "Capital Losses"). The demo once sold a
taxable lot at a $1,807 gain that way, with the IRA's same fund beside it tax-free. The
objective now charges the carried loss a gain uses up at the long-term rate.

The household: fund X (US stock, $100) held 200 sh in the taxable account (one lot at
$60 a share, a $40 long-term gain a share) and 200 sh in a traditional IRA; the IRA's
BND 400 sh at $100. Targets US 40% / Bonds 60% of $80,000: $8,000 of X to sell. Bonds'
Location is `taxable` (municipal bonds, say), so buying them in the IRA costs 5 bp in
the objective ($4): without a price on the carried loss the taxable sale looked cheaper.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.conftest import portfolio_sheets, write_book
from tests.test_cli import cli
from xl_rebalancer.engine.rebalance import rebalance
from xl_rebalancer.engine.tax import net_year
from xl_rebalancer.models import Account, Constraint, Holding, Portfolio, Settings, Target, TaxLot

VALUATION = dt.date(2026, 6, 15)
PRICES = {"X": 100.0, "BND": 100.0}


def household(*, ira_sells: bool = True, **settings: float) -> Portfolio:
    return Portfolio(
        settings=Settings(valuation_date=VALUATION, trigger="always", **settings),
        accounts=(
            Account(account="T", type="taxable", cash=0),
            Account(account="IRA", type="tax_deferred", cash=0),
        ),
        holdings=(
            Holding(account="T", symbol="X", shares=200, asset_class="US"),
            Holding(account="T", symbol="BND", shares=0, asset_class="Bonds"),
            Holding(account="IRA", symbol="BND", shares=400, asset_class="Bonds"),
            Holding(account="IRA", symbol="X", shares=200, asset_class="US"),
        ),
        lots=(
            TaxLot(
                account="T",
                symbol="X",
                lot_id="X1",
                acquired=dt.date(2015, 3, 2),
                shares=200,
                cost_basis=12_000,
            ),
        ),
        targets=(
            Target(asset_class="US", target_weight=0.4),
            Target(asset_class="Bonds", target_weight=0.6, location="taxable"),
        ),
        constraints=()
        if ira_sells
        else (Constraint(scope="account", name="IRA", no_sell=True, row=2),),
    )


@pytest.mark.parametrize(
    "past_the_limit",
    [
        {"lt_loss_carryover": 20_000.0},  # carried in from last year
        {"realized_lt_ytd": -20_000.0},  # realized earlier this year
    ],
)
def test_the_ira_sells_when_a_taxable_gain_would_use_up_carried_loss(past_the_limit):
    result = rebalance(household(**past_the_limit), PRICES)
    sold = {(t.account, t.symbol) for t in result.trades if t.action == "SELL"}
    assert sold == {("IRA", "X")}
    assert result.summary_value("Estimated tax") == 0
    assert result.summary_value("Carried loss used by this run's gains") == 0
    # Worksheet: a $20,000 long-term loss, $3,000 deducted, $17,000 carried forward.
    assert result.summary_value("LT loss carried to next year") == 17_000
    assert result.summary_value("Largest drift after") < 0.002


def test_a_gain_that_must_be_realized_shows_the_carried_loss_it_uses():
    # With NoSell on the IRA the taxable lot is the only US stock to sell. US is 50%
    # against 40% with a 5-point band: $4,000 of it is beyond the band edge, and by
    # default (in_band_gains = avoid) only that is sold: 41 sh × ($99.95 − $60).
    # This year's tax does not change (the year is still a net loss past the limit); the
    # Summary says how much of next year's carryover the gain used up.
    result = rebalance(household(ira_sells=False, lt_loss_carryover=20_000.0), PRICES)
    gain = result.summary_value("Realized LT gain")
    assert gain == pytest.approx(41 * (99.95 - 60))
    assert result.summary_value("Estimated tax") == 0
    assert result.summary_value("Carried loss used by this run's gains") == pytest.approx(gain)
    year = net_year(gain, 0.0, lt_carryover=20_000.0, st_rate=0.37, lt_rate=0.2)
    assert year.lt_carryforward == pytest.approx(17_000 - gain)
    assert result.summary_value("LT loss carried to next year") == year.lt_carryforward


def test_the_same_household_through_the_command_line(tmp_path):
    p = household(lt_loss_carryover=20_000.0)
    data = portfolio_sheets(p, PRICES, VALUATION)
    book = write_book(
        tmp_path / "carryover.xlsx",
        data,
        {"valuation_date": VALUATION, "trigger": "always", "lt_loss_carryover": 20_000},
    )
    out = cli("rebalance", str(book), "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    doc = json.loads(out.stdout)
    assert {(t["account"], t["symbol"]) for t in doc["trades"] if t["action"] == "SELL"} == {
        ("IRA", "X")
    }
    assert doc["summary"]["carried_loss_used"] == 0
