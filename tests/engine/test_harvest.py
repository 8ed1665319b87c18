"""Tax-loss-harvest candidates, worked by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from xl_rebalancer.engine.harvest import harvest_candidates
from xl_rebalancer.models import (
    Account,
    Holding,
    Portfolio,
    Settings,
    Target,
    TaxLot,
    Transaction,
)

D = dt.date
VALUATION = D(2026, 6, 30)


def household(transactions=(), **settings):
    lots = (
        # 100 × $60 basis = 6,000; at $50 the loss is 1,000 (16.7%), held > 1 year: LT.
        TaxLot(
            account="T",
            symbol="VTI",
            lot_id="V1",
            acquired=D(2024, 1, 2),
            shares=100,
            cost_basis=6000,
        ),
        # 20 × $80 = 1,600 at $50: loss 600, bought 2026-03-02: ST.
        TaxLot(
            account="T",
            symbol="VTI",
            lot_id="V2",
            acquired=D(2026, 3, 2),
            shares=20,
            cost_basis=1600,
        ),
        # Loss 400: under tlh_min_loss 500.
        TaxLot(
            account="T",
            symbol="BND",
            lot_id="B1",
            acquired=D(2022, 1, 3),
            shares=100,
            cost_basis=7400,
        ),
        # Loss 600 but only 3% of a 20,000 basis: under tlh_min_loss_pct.
        TaxLot(
            account="T",
            symbol="BNDX",
            lot_id="X1",
            acquired=D(2022, 1, 3),
            shares=388,
            cost_basis=20000,
        ),
        # Same loss in an IRA: nothing to harvest there.
        TaxLot(
            account="IRA",
            symbol="VTI",
            lot_id="I1",
            acquired=D(2024, 1, 2),
            shares=10,
            cost_basis=600,
        ),
    )
    return Portfolio(
        settings=Settings(valuation_date=VALUATION, **settings),
        accounts=(Account(account="T", type="taxable"), Account(account="IRA", type="tax_exempt")),
        holdings=(
            Holding(account="T", symbol="VTI", shares=120, asset_class="US"),
            Holding(account="T", symbol="SCHB", shares=1, asset_class="US"),
            Holding(account="T", symbol="BND", shares=100, asset_class="Bonds"),
            Holding(account="T", symbol="BNDX", shares=388, asset_class="Bonds"),
            Holding(account="IRA", symbol="VTI", shares=10, asset_class="US"),
        ),
        lots=lots,
        targets=(
            Target(symbol="VTI", target_weight=0.6, substitute="ITOT"),
            Target(symbol="BND", target_weight=0.4),
        ),
        transactions=tuple(transactions),
    )


PRICES = {"VTI": 50.0, "BND": 70.0, "BNDX": 49.99, "SCHB": 20.0, "ITOT": 100.0}


def test_candidates_thresholds_terms_and_savings():
    rows = harvest_candidates(household(), PRICES)
    # Largest saving first. With no other gains this year a loss of either term is
    # deducted from ordinary income (up to $3,000, IRC §1211(b)), so each saves its loss
    # × 37%: 1,000 → 370 before 600 → 222.
    assert [(r.lot_id, r.unrealized_loss, r.term, r.est_tax_saving, r.wash_sale) for r in rows] == [
        ("V1", 1000.0, "LT", 370.0, "clear"),
        ("V2", 600.0, "ST", 222.0, "clear"),
    ]


def test_savings_are_netted_with_the_year_so_far():
    # $10,000 of long-term gain realized this year: the 1,000 LT loss offsets it at 20%
    # (200), the 600 ST loss too (it nets against the LT gain: 120). Past the limit (a
    # $20,000 loss carried in), a harvest saves nothing this year.
    rows = harvest_candidates(household(realized_lt_ytd=10_000), PRICES)
    assert [(r.lot_id, r.est_tax_saving) for r in rows] == [("V1", 200.0), ("V2", 120.0)]
    rows = harvest_candidates(household(lt_loss_carryover=20_000), PRICES)
    assert [(r.lot_id, r.est_tax_saving) for r in rows] == [("V1", 0.0), ("V2", 0.0)]
    assert {r.substitute for r in rows} == {"ITOT"}


def test_a_purchase_in_another_account_blocks_the_harvest():
    buy = Transaction(
        date=D(2026, 6, 20), account="IRA", symbol="VTI", action="BUY", shares=2, price=51
    )
    rows = {r.lot_id: r for r in harvest_candidates(household([buy]), PRICES)}
    assert rows["V1"].wash_sale == "blocked" and rows["V1"].est_tax_saving == 0.0
    assert "BUY 2 VTI in IRA on 2026-06-20" in rows["V1"].blocked_by
    assert "Transactions row" in rows["V1"].blocked_by


def test_recent_lot_blocks_older_lots_but_not_itself():
    rows = {r.lot_id: r for r in harvest_candidates(household(), PRICES | {"VTI": 50.0})}
    assert rows["V2"].wash_sale == "clear"
    late = household().model_copy(
        update={
            "lots": (
                *household().lots,
                TaxLot(
                    account="T",
                    symbol="VTI",
                    lot_id="V3",
                    acquired=D(2026, 6, 15),
                    shares=1,
                    cost_basis=55,
                ),
            )
        }
    )
    rows = {r.lot_id: r for r in harvest_candidates(late, PRICES)}
    assert rows["V1"].wash_sale == "blocked" and "lot V3" in rows["V1"].blocked_by


def test_class_peer_is_suggested_when_no_substitute_is_given():
    p = household().model_copy(
        update={
            "targets": (
                Target(asset_class="US", target_weight=0.6),
                Target(asset_class="Bonds", target_weight=0.4),
            )
        }
    )
    rows = harvest_candidates(p, PRICES)
    assert {r.symbol: r.substitute for r in rows} == {"VTI": "SCHB"}


@pytest.mark.parametrize(("min_loss", "count"), [(500, 2), (700, 1), (2000, 0)])
def test_min_loss_setting(min_loss, count):
    assert len(harvest_candidates(household(tlh_min_loss=min_loss), PRICES)) == count
