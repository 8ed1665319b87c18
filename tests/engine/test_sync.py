"""Lots rebuilt from a broker's history (engine.sync), checked by hand.

FIFO relief is the IRS default when no lot was named (Pub. 550, "Identifying the shares
sold"); a split multiplies each lot's shares and keeps its basis and date (Pub. 550,
"Stock splits").
"""

from __future__ import annotations

import datetime as dt

import pytest

from xl_rebalancer.engine.sync import Current, guess_type, merge
from xl_rebalancer.models.brokers import BrokerPosition, BrokerStatement, BrokerTransaction

D = dt.date


def statement(position_shares: float, trades: list[BrokerTransaction]) -> BrokerStatement:
    return BrokerStatement(
        broker="ofx",
        file="s.ofx",
        snapshot_accounts=["A1"],
        account_names={"A1": "A1"},
        cash={"A1": 0.0},
        positions=[
            BrokerPosition(account="A1", symbol="NVDA", shares=position_shares, cost_basis=None)
        ],
        transactions=trades,
    )


def buy(day: dt.date, shares: float, amount: float) -> BrokerTransaction:
    return BrokerTransaction(
        account="A1", date=day, action="BUY", symbol="NVDA", shares=shares, amount=amount
    )


def test_buys_split_and_fifo_sale_rebuild_the_lots():
    trades = [
        buy(D(2021, 1, 4), 10, 5000.0),
        buy(D(2022, 6, 1), 10, 1800.0),
        # NVIDIA's 4-for-1 split of July 2021: the lot held then becomes 40 shares; the
        # second lot, bought after it, is not split.
        BrokerTransaction(
            account="A1", date=D(2021, 7, 20), action="SPLIT", symbol="NVDA", ratio=4.0
        ),
        # 30 sold: the first lot's 40 split shares first (FIFO), 30 of them.
        BrokerTransaction(
            account="A1", date=D(2023, 3, 1), action="SELL", symbol="NVDA", shares=30, amount=7000.0
        ),
    ]
    result = merge(
        Current(accounts=[(2, {"account": "Taxable", "type": "taxable", "broker_account": "A1"})]),
        [statement(20, trades)],
        {},
    )
    lots = {v["lot_id"]: v for _, v in result.lots}
    assert lots["NVDA-20210104"]["shares"] == 10  # 40 after the split, 30 sold
    assert lots["NVDA-20210104"]["cost_basis"] == pytest.approx(1250.0)  # 5,000 × 10/40
    assert lots["NVDA-20220601"]["shares"] == 10
    assert lots["NVDA-20220601"]["cost_basis"] == 1800.0
    assert result.mapping == {"A1": "Taxable"}
    assert not [p for p in result.problems if "no lot" in p.message]


def test_history_that_does_not_explain_the_position_leaves_the_rest_dateless():
    result = merge(
        Current(accounts=[(2, {"account": "T", "type": "taxable", "broker_account": "A1"})]),
        [statement(25, [buy(D(2024, 1, 2), 10, 1000.0)])],
        {},
    )
    lots = {v["lot_id"]: v for _, v in result.lots}
    assert lots["NVDA-20240102"]["shares"] == 10
    assert lots["NVDA-NODATE"]["shares"] == 15 and lots["NVDA-NODATE"]["acquired"] is None
    assert any("15 of 25 shares have no lot" in p.message for p in result.problems)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ROTH IRA", "tax_exempt"),
        ("Rollover IRA", "tax_deferred"),
        ("401(k) Plan", "tax_deferred"),
        ("Health Savings Account", "tax_exempt"),
        ("INDIVIDUAL - TOD", "taxable"),
        ("Joint WROS", "taxable"),
        ("SEP-IRA", "tax_deferred"),
    ],
)
def test_account_type_guessed_from_its_name(name, kind):
    assert guess_type(name) == kind
