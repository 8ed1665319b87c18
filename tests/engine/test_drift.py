"""Bands as the contract defines them: out when |drift| > min(band_abs, band_rel × target)."""

import datetime as dt

import pytest

from xl_rebalancer.engine.drift import band_for, calendar_due, is_out_of_band
from xl_rebalancer.models import Settings


@pytest.mark.parametrize(("target", "band"), [(0.40, 0.05), (0.10, 0.025), (0.0, 0.0)])
def test_band_is_the_smaller_of_absolute_and_relative(target, band):
    assert band_for(target, 0.05, 0.25) == pytest.approx(band)


def test_out_of_band_is_strict():
    assert not is_out_of_band(0.025, 0.025)
    assert is_out_of_band(0.0251, 0.025) and is_out_of_band(-0.03, 0.025)


@pytest.mark.parametrize(
    ("calendar", "last", "today", "due"),
    [
        ("quarterly", dt.date(2026, 1, 31), dt.date(2026, 4, 29), False),
        ("quarterly", dt.date(2026, 1, 31), dt.date(2026, 4, 30), True),  # 31 Apr does not exist
        ("monthly", dt.date(2026, 1, 31), dt.date(2026, 2, 28), True),
        ("annually", dt.date(2024, 2, 29), dt.date(2025, 2, 27), False),
        ("annually", dt.date(2024, 2, 29), dt.date(2025, 2, 28), True),
    ],
)
def test_calendar_trigger(calendar, last, today, due):
    settings = Settings(calendar=calendar, last_rebalanced=last)
    assert calendar_due(settings, today) is due
