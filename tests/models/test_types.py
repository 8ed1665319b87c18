"""Cell values as Excel and openpyxl deliver them, coerced the way a person means them."""

import datetime as dt

import pytest
from pydantic import ValidationError

from xl_rebalancer.models import Account, Settings, Target, TaxLot
from xl_rebalancer.models.types import to_date, to_number


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (12, 12),
        (1.5, 1.5),
        ("1,250.50", 1250.5),
        ("25%", 0.25),
        (" 7 ", 7.0),
        ("$99.5", 99.5),
        ("-3", -3.0),
        ("1e3", 1000.0),
    ],
)
def test_numbers_people_type(raw, expected):
    assert to_number(raw) == pytest.approx(expected)


@pytest.mark.parametrize("raw", ["abc", "#N/A", "#DIV/0!", True, "1,2,3", float("nan"), "."])
def test_not_numbers(raw):
    with pytest.raises(ValueError):
        to_number(raw)


def test_dates_from_excel_serial_iso_and_datetime():
    assert to_date(45366) == dt.date(2024, 3, 15)  # Excel's serial for 2024-03-15
    assert to_date("2024-03-15") == dt.date(2024, 3, 15)
    assert to_date(dt.datetime(2024, 3, 15, 0, 0)) == dt.date(2024, 3, 15)
    with pytest.raises(ValueError, match="2024-03-15"):
        to_date("15/03/2024")


def test_enum_spellings_and_symbols():
    account = Account(account="IRA", type="Tax Deferred", cash=0)
    assert account.type == "tax_deferred"
    lot = TaxLot(
        account="A", symbol=" vti ", lot_id=7, acquired="2024-01-02", shares=1, cost_basis=10
    )
    assert lot.symbol == "VTI" and lot.lot_id == "7"


def test_settings_defaults_match_the_contract():
    s = Settings()
    assert (s.price_source, s.strategy, s.covariance, s.expected_returns) == (
        "auto",
        "targets",
        "ledoit_wolf",
        "ewma",
    )
    assert (s.risk_free_rate, s.lookback_days, s.band_abs, s.band_rel) == (0.02, 756, 0.05, 0.25)
    assert (s.trigger, s.calendar, s.rebalance_to, s.min_trade_value) == (
        "bands",
        "quarterly",
        "target",
        None,  # blank: scaled to the household (engine.rebalance.minimum_trade), issue 20
    )
    assert (s.whole_shares, s.cash_min, s.cash_max, s.cash_flow, s.cost_bps) == (True, 0, 1, 0, 5)
    assert (s.lot_method, s.st_tax_rate, s.lt_tax_rate) == ("min_tax", 0.37, 0.20)
    assert (s.tlh_min_loss, s.tlh_min_loss_pct, s.wash_sale_days) == (500, 0.05, 30)
    assert s.max_turnover is None and s.max_realized_gain is None


def test_target_needs_exactly_one_key():
    with pytest.raises(ValidationError, match="exactly one"):
        Target(target_weight=0.5)
    with pytest.raises(ValidationError, match="exactly one"):
        Target(symbol="VTI", asset_class="US", target_weight=0.5)
