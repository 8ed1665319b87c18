"""Holding periods and lot relief against the IRS rules and hand-worked examples."""

import datetime as dt

import pytest

from xl_rebalancer.engine.lots import holding_term, order_lots, relieve
from xl_rebalancer.models import TaxLot

D = dt.date


@pytest.mark.parametrize(
    ("acquired", "sold", "term"),
    [
        # IRS Pub. 544: the holding period starts the day after acquisition; more than one
        # year is long-term. Bought 2023-03-15: the 15th of March 2024 is still short-term.
        (D(2023, 3, 15), D(2024, 3, 15), "ST"),
        (D(2023, 3, 15), D(2024, 3, 16), "LT"),
        (D(2024, 2, 29), D(2025, 2, 28), "ST"),  # leap day: one year runs to 28 Feb
        (D(2024, 2, 29), D(2025, 3, 1), "LT"),
        (D(2026, 1, 2), D(2025, 12, 31), "ST"),  # dated after the sale: never long-term
        # IRS Pub. 550, "Holding Period", its own example: bought June 19, 2023; sold
        # June 19, 2024 is not longer than 1 year, sold June 20, 2024 is.
        (D(2023, 6, 19), D(2024, 6, 19), "ST"),
        (D(2023, 6, 19), D(2024, 6, 20), "LT"),
        # Rev. Rul. 66-7: calendar months. Bought on the last day of February 2023, the
        # year runs to the last day of February 2024, the 29th: long-term from 1 March.
        (D(2023, 2, 28), D(2024, 2, 29), "ST"),
        (D(2023, 2, 28), D(2024, 3, 1), "LT"),
        # Bought 28 February 2024 (not the month's last day): the anniversary,
        # 28 February 2025, is still short-term.
        (D(2024, 2, 28), D(2025, 2, 28), "ST"),
        (D(2024, 2, 28), D(2025, 3, 1), "LT"),
        # Bought on the last day of January: long-term from 1 February a year later.
        (D(2025, 1, 31), D(2026, 1, 31), "ST"),
        (D(2025, 1, 31), D(2026, 2, 1), "LT"),
    ],
)
def test_irs_boundary_day(acquired, sold, term):
    assert holding_term(acquired, sold) == term


def test_inherited_property_is_long_term_however_briefly_held():
    # IRC §1223(9); Pub. 550, "Inherited property": always long-term.
    assert holding_term(D(2026, 5, 1), D(2026, 6, 1), inherited=True) == "LT"


def _lot(lot_id, acquired, shares, basis, start=None):
    return TaxLot(
        account="T",
        symbol="X",
        lot_id=lot_id,
        acquired=acquired,
        shares=shares,
        cost_basis=basis,
        holding_start=start,
    )


LOTS = [
    _lot("A", D(2019, 5, 1), 100, 2_000.0),  # $20/share, long-term
    _lot("B", D(2021, 6, 1), 100, 6_000.0),  # $60/share, long-term
    _lot("C", D(2025, 9, 1), 100, 4_500.0),  # $45/share, short-term on 2026-01-15
]
SALE = D(2026, 1, 15)


def _gains(method, shares=150, price=50.0):
    ordered = order_lots(LOTS, method, price=price, sale_date=SALE, st_rate=0.37, lt_rate=0.20)
    return [
        (s.lot.lot_id, s.shares, round(s.gain, 2), s.term)
        for s in relieve(ordered, shares, price=price, sale_date=SALE)
    ]


def test_fifo_lifo_hifo_by_hand():
    # Selling 150 shares at $50.
    # FIFO: A 100 × (50 − 20) = +3,000 LT; B 50 × (50 − 60) = −500 LT.
    assert _gains("fifo") == [("A", 100, 3000.0, "LT"), ("B", 50, -500.0, "LT")]
    # LIFO: C 100 × (50 − 45) = +500 ST; B 50 × −10 = −500 LT.
    assert _gains("lifo") == [("C", 100, 500.0, "ST"), ("B", 50, -500.0, "LT")]
    # HIFO: B 100 × −10 = −1,000 LT; C 50 × 5 = +250 ST.
    assert _gains("hifo") == [("B", 100, -1000.0, "LT"), ("C", 50, 250.0, "ST")]


def test_min_tax_takes_losses_then_cheapest_gains():
    # Tax per dollar: B −0.2 × 10/50 = −0.04, A 0.2 × 30/50 = +0.12, C 0.37 × 5/50 = +0.037.
    assert _gains("min_tax") == [("B", 100, -1000.0, "LT"), ("C", 50, 250.0, "ST")]
    assert [s[0] for s in _gains("min_tax", shares=300)] == ["B", "C", "A"]


def test_partial_lot_basis_is_pro_rata_and_never_oversold():
    slices = relieve([LOTS[2]], 1_000, price=50.0, sale_date=SALE)
    assert [(s.shares, s.basis) for s in slices] == [(100, 4500.0)]
    part = relieve([_lot("Z", D(2020, 1, 2), 3, 100.0)], 1, price=50.0, sale_date=SALE)
    assert part[0].basis == 33.33


def test_holding_start_carries_a_washed_lot_period():
    washed = _lot("W", D(2025, 12, 1), 10, 500.0, start=D(2024, 6, 1))
    assert relieve([washed], 10, price=60.0, sale_date=SALE)[0].term == "LT"
