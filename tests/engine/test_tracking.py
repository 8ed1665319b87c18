"""Tracking error in the Summary when a risk model is at hand: √(dᵀΣd), by hand."""

from __future__ import annotations

import math

import pytest

from tests.engine.test_wash_allowed import PRICES, book
from xl_rebalancer.engine.rebalance import rebalance
from xl_rebalancer.models import Holding


def test_tracking_error_before_and_after_by_hand():
    # X 140 × $50 = 7,000 (70%), Y 30 × $100 = 3,000 (30%); targets 30% / 70%.
    # Gaps d = (+0.4, −0.4); Σ = diag(0.04, 0.01) (20% and 10% volatility):
    # TE = √(0.16 × 0.04 + 0.16 × 0.01) = √0.008 ≈ 8.94%. After trading to target, 0.
    holdings = [
        Holding(account="T", symbol="X", shares=140),
        Holding(account="T", symbol="Y", shares=30),
    ]
    portfolio = book(lots=[], holdings=holdings, allow_wash_sales=False)
    risk = (["X", "Y"], [[0.04, 0.0], [0.0, 0.01]])
    result = rebalance(portfolio, PRICES, risk=risk)
    assert result.summary_value("Tracking error before") == pytest.approx(math.sqrt(0.008))
    assert result.summary_value("Tracking error after") == pytest.approx(0.0, abs=1e-12)


def test_correlation_counts():
    # Perfectly correlated X and Y with the same 20% volatility: an over/under pair of
    # gaps cancels to zero risk; anti-correlated doubles it.
    holdings = [
        Holding(account="T", symbol="X", shares=140),
        Holding(account="T", symbol="Y", shares=30),
    ]
    portfolio = book(lots=[], holdings=holdings, allow_wash_sales=False)
    same = rebalance(
        portfolio, PRICES, trade=False, risk=(["X", "Y"], [[0.04, 0.04], [0.04, 0.04]])
    )
    assert same.summary_value("Tracking error before") == pytest.approx(0.0, abs=1e-12)
    opposite = rebalance(
        portfolio, PRICES, trade=False, risk=(["X", "Y"], [[0.04, -0.04], [-0.04, 0.04]])
    )
    assert opposite.summary_value("Tracking error before") == pytest.approx(2 * 0.4 * 0.2)


def test_without_history_there_is_no_tracking_error_line():
    holdings = [Holding(account="T", symbol="X", shares=140)]
    result = rebalance(book(lots=[], holdings=holdings), PRICES, trade=False)
    assert "Tracking error before" not in {item.key for item in result.summary}
