"""Corporate actions on lots, reproduced from published events to the cent.

Sources: Apple's 4-for-1 split (2020-08-31) and NVIDIA's 10-for-1 (2024-06-10);
IBM's spin-off of Kyndryl (2021-11-03, one KD per five IBM; Kyndryl's tax-basis FAQ
allocates 4.18% of the IBM basis to KD; a holder of 227 IBM shares was paid $8.18 for
0.4 of a KD share); CVS's acquisition of Aetna (2018-11-28, $145.00 and 0.8378 CVS per
AET, a fully taxable exchange per the S-4, CVS's cost-basis FAQ valuing CVS at $80.27).
The reorganization-with-boot rule (§356/§358) is worked by hand.
"""

from __future__ import annotations

import datetime as dt

import pytest

from xl_rebalancer.engine.actions import apply_actions, cents, realized_totals
from xl_rebalancer.engine.rebalance import rebalance
from xl_rebalancer.models import Account, Holding, Portfolio, Settings, Target, TaxLot
from xl_rebalancer.models.inputs import CorporateAction

D = dt.date


VALUATION = D(2026, 6, 30)


def book(lots=(), holdings=(), actions=(), valuation=VALUATION, cash=0.0, **settings):
    return Portfolio(
        settings=Settings(valuation_date=valuation, **settings),
        accounts=(
            Account(account="T", type="taxable", cash=cash),
            Account(account="IRA", type="tax_deferred", cash=0),
        ),
        holdings=tuple(holdings),
        lots=tuple(lots),
        actions=tuple(actions),
    )


def lot(symbol, lot_id, acquired, shares, basis, account="T"):
    return TaxLot(
        account=account,
        symbol=symbol,
        lot_id=lot_id,
        acquired=acquired,
        shares=shares,
        cost_basis=basis,
    )


def action(action_id, type_, symbol, date, **fields):
    return CorporateAction(
        action_id=action_id, type=type_, symbol=symbol, effective_date=date, **fields
    )


# IBM → Kyndryl, 2021-11-03: one KD per five IBM, 4.18% of the basis, $20.45 a KD share
# for cash in lieu ($8.18 for 0.4 share).
KYNDRYL = action(
    "KD-2021",
    "spinoff",
    "IBM",
    D(2021, 11, 3),
    new_symbol="KD",
    ratio=0.2,
    basis_allocation=0.0418,
    new_symbol_price=20.45,
)


def by_id(result):
    return {(x.symbol, x.lot_id): (x.shares, x.cost_basis, x.acquired) for x in result.lots}


def test_apple_four_for_one_keeps_basis_and_dates():
    lots = [
        lot("AAPL", "A1", D(2019, 1, 2), 10, 1579.20),
        lot("AAPL", "A2", D(2020, 3, 16), 3, 725.37),
    ]
    split = action("AAPL-2020", "split", "AAPL", D(2020, 8, 31), ratio=4)
    result = apply_actions(book(lots, actions=[split]))
    assert by_id(result) == {
        ("AAPL", "A1"): (40, 1579.20, D(2019, 1, 2)),
        ("AAPL", "A2"): (12, 725.37, D(2020, 3, 16)),
    }
    assert result.realized == [] and result.cash["T"] == 0
    assert result.actions[0].status == "applied"


def test_nvidia_ten_for_one_with_a_fractional_share_position_and_an_ira():
    # A fractional-share broker's 2.5 shares stay fractional (25); the IRA holds 7
    # shares without lots: 70.
    lots = [lot("NVDA", "N1", D(2023, 5, 1), 2.5, 2376.25)]
    holdings = [Holding(account="IRA", symbol="NVDA", shares=7)]
    split = action("NVDA-2024", "split", "NVDA", D(2024, 6, 10), ratio=10)
    result = apply_actions(book(lots, holdings, actions=[split]))
    assert by_id(result) == {("NVDA", "N1"): (25, 2376.25, D(2023, 5, 1))}
    assert [(h.account, h.shares) for h in result.holdings] == [("IRA", 70)]


def test_reverse_split_pays_the_fraction_from_the_latest_lot():
    # 1-for-8 on lots of 60 and 40 shares (100 in all): 7.5 and 5 → 12.5 shares, so
    # 0.5 share is paid in cash at $100 (= $50.00). It comes from the latest lot (L2,
    # 5 sh, basis 2,000.00): basis 2,000 × 0.5/5 = 200.00, a loss of 150.00, short-term
    # (bought 2026-01-10, cashed 2026-03-01).
    lots = [
        lot("GE", "L1", D(2020, 1, 2), 60, 1800.00),
        lot("GE", "L2", D(2026, 1, 10), 40, 2000.00),
    ]
    reverse = action("GE-RS", "split", "GE", D(2026, 3, 1), ratio=0.125, cash_per_share=100)
    result = apply_actions(book(lots, actions=[reverse]))
    assert by_id(result) == {
        ("GE", "L1"): (7.5, 1800.00, D(2020, 1, 2)),
        ("GE", "L2"): (4.5, 1800.00, D(2026, 1, 10)),
    }
    assert result.cash["T"] == 50.00
    [sold] = result.realized
    assert (sold.lot_id, sold.shares, sold.proceeds, sold.basis, sold.gain, sold.term) == (
        "L2",
        0.5,
        50.00,
        200.00,
        -150.00,
        "ST",
    )
    # Basis is conserved: what the lots keep plus what was sold.
    assert sum(x.cost_basis for x in result.lots) + sold.basis == pytest.approx(3800.00)


def test_ibm_spins_off_kyndryl_with_its_published_allocation_and_cash_in_lieu():
    lots = [lot("IBM", "I1", D(2009, 6, 1), 227, 6356.00)]
    holdings = [Holding(account="T", symbol="IBM", shares=227, asset_class="US Stocks")]
    spin = KYNDRYL
    result = apply_actions(book(lots, holdings, actions=[spin]))
    # 6,356.00 × 4.18% = 265.68 to KD; IBM keeps 6,090.32. 45.4 KD: 0.4 paid $8.18,
    # with basis 265.68 × 0.4 / 45.4 = 2.34, so a long-term gain of $5.84; the 45 KD
    # shares keep 263.34 and IBM's 2009 acquisition date.
    assert by_id(result) == {
        ("IBM", "I1"): (227, 6090.32, D(2009, 6, 1)),
        ("KD", "I1-KD"): (45, 263.34, D(2009, 6, 1)),
    }
    assert result.cash["T"] == 8.18
    [cil] = result.realized
    assert (cil.symbol, cil.shares, cil.proceeds, cil.basis, cil.gain, cil.term) == (
        "KD",
        0.4,
        8.18,
        2.34,
        5.84,
        "LT",
    )
    assert pytest.approx(6356.00) == 6090.32 + 263.34 + 2.34
    assert {(h.symbol, h.shares, h.asset_class) for h in result.holdings} == {
        ("IBM", 227, "US Stocks"),
        ("KD", 45, "US Stocks"),
    }


def test_cvs_buys_aetna_as_a_fully_taxable_exchange():
    lots = [lot("AET", "E1", D(2012, 11, 1), 100, 402.00)]
    merger = action(
        "AET-CVS",
        "merger",
        "AET",
        D(2018, 11, 28),
        new_symbol="CVS",
        ratio=0.8378,
        cash_per_share=145.00,
        new_symbol_price=80.27,
        taxable=True,
    )
    result = apply_actions(book(lots, actions=[merger]))
    # 100 AET → $14,500.00 and 83.78 CVS worth 83.78 × 80.27 = 6,725.02: gain
    # 14,500.00 + 6,725.02 − 402.00 = 20,823.02, long-term. The CVS shares' basis is
    # their value and their holding period starts on the merger date; the 0.78 share
    # paid in cash (62.61) carries its own value as basis, so no further gain.
    assert by_id(result) == {("CVS", "E1"): (83, 6662.41, D(2018, 11, 28))}
    assert result.cash["T"] == cents(14500.00 + 62.61)
    assert realized_totals(result.realized) == {"LT": 20823.02, "ST": 0.0}


def test_reorganization_with_boot_recognizes_gain_up_to_the_cash_and_no_loss():
    # Per share of T: 0.5 share of A (worth $100) and $20.00. Per 100-share lot: $2,000
    # cash, 50 A worth $5,000.
    #   G1 basis 5,000: realized 2,000, recognized min(2,000, 2,000) = 2,000; A basis
    #      5,000 − 2,000 + 2,000 = 5,000.
    #   G2 basis 6,500: realized 500, recognized 500; A basis 6,500 − 2,000 + 500 = 5,000.
    #   G3 basis 9,000: realized −2,000, not recognized; A basis 9,000 − 2,000 = 7,000.
    lots = [
        lot("T", "G1", D(2015, 1, 5), 100, 5000.00),
        lot("T", "G2", D(2016, 1, 5), 100, 6500.00),
        lot("T", "G3", D(2026, 2, 5), 100, 9000.00),
    ]
    merger = action(
        "T-A",
        "merger",
        "T",
        D(2026, 5, 1),
        new_symbol="A",
        ratio=0.5,
        cash_per_share=20.00,
        new_symbol_price=100.00,
    )
    result = apply_actions(book(lots, actions=[merger]))
    assert by_id(result) == {
        ("A", "G1"): (50, 5000.00, D(2015, 1, 5)),
        ("A", "G2"): (50, 5000.00, D(2016, 1, 5)),
        ("A", "G3"): (50, 7000.00, D(2026, 2, 5)),
    }
    assert [x.gain for x in result.realized] == [2000.00, 500.00, 0.0]
    assert result.cash["T"] == 6000.00
    assert realized_totals(result.realized) == {"LT": 2500.00, "ST": 0.0}


def test_all_cash_merger_is_a_sale():
    lots = [lot("X", "L1", D(2025, 12, 1), 10, 1200.00)]
    merger = action("X-CASH", "merger", "X", D(2026, 3, 1), cash_per_share=100.00)
    result = apply_actions(book(lots, actions=[merger]))
    assert result.lots == [] and result.cash["T"] == 1000.00
    assert [(x.gain, x.term) for x in result.realized] == [(-200.00, "ST")]


def test_cash_dividend_and_reinvestment():
    lots = [lot("VTI", "V1", D(2020, 1, 2), 33, 5000.00)]
    dividend = action("VTI-Q1", "cash_dividend", "VTI", D(2026, 3, 27), cash_per_share=0.9001)
    plain = apply_actions(book(lots, actions=[dividend]))
    assert plain.cash["T"] == 29.70  # 33 × 0.9001 = 29.7033
    reinvested = apply_actions(
        book(
            lots,
            actions=[dividend.model_copy(update={"new_symbol_price": 12.5})],
            reinvest_dividends=True,
        )
    )
    # 29.70 buys 2 whole shares at 12.50 (25.00); 4.70 stays in cash.
    assert by_id(reinvested)[("VTI", "VTI-Q1-DRIP")] == (2, 25.00, D(2026, 3, 27))
    assert reinvested.cash["T"] == 4.70


def test_stock_dividend_and_symbol_change():
    lots = [lot("OLD", "L1", D(2020, 1, 2), 100, 1000.00)]
    actions = [
        action("S1", "stock_dividend", "OLD", D(2026, 1, 5), ratio=0.05),
        action("S2", "symbol_change", "OLD", D(2026, 2, 5), new_symbol="NEW"),
    ]
    result = apply_actions(book(lots, actions=actions))
    assert by_id(result) == {("NEW", "L1"): (105, 1000.00, D(2020, 1, 2))}


def test_applying_twice_changes_nothing_and_future_actions_wait():
    lots = [lot("AAPL", "A1", D(2019, 1, 2), 10, 1579.20)]
    actions = [
        action("NOW", "split", "AAPL", D(2020, 8, 31), ratio=4),
        action("LATER", "split", "AAPL", D(2027, 1, 4), ratio=2),
    ]
    first = apply_actions(book(lots, actions=actions))
    assert first.applied == ["NOW"]
    assert [a.status for a in first.actions] == ["applied", "pending"]
    again = apply_actions(book(first.lots, actions=first.actions, cash=first.cash["T"]))
    assert again.applied == [] and again.lots == first.lots and again.changes == []


def test_a_rebalance_after_the_spinoff_sells_the_new_lot_at_its_basis():
    lots = [lot("IBM", "I1", D(2009, 6, 1), 227, 6356.00)]
    spin = KYNDRYL
    done = apply_actions(book(lots, actions=[spin], valuation=D(2021, 11, 30)))
    after = Portfolio(
        settings=Settings(valuation_date=D(2021, 11, 30), trigger="always", min_trade_value=0),
        accounts=(Account(account="T", type="taxable", cash=done.cash["T"]),),
        lots=tuple(done.lots),
        targets=(Target(symbol="IBM", target_weight=1.0),),
    )
    result = rebalance(after, {"IBM": 120.85, "KD": 26.38})
    [sell] = [t for t in result.trades if t.action == "SELL"]
    # The KD lot's basis is 263.34 for 45 shares and its term runs from IBM's 2009
    # purchase. (A few KD shares may stay: selling them would leave cash that cannot
    # buy a whole IBM share, for tax.)
    assert (sell.symbol, sell.lot_id, sell.term) == ("KD", "I1-KD", "LT")
    assert sell.shares >= 40
    assert sell.realized_gain == pytest.approx(
        cents(sell.shares * 26.38) - sell.est_cost - cents(263.34 * sell.shares / 45), abs=0.011
    )
