"""The trade solver on the demo household: limits honoured, better than the greedy path."""

from __future__ import annotations

import datetime as dt

import pytest

from xl_rebalancer.engine import solver
from xl_rebalancer.engine.rebalance import _trade, rebalance
from xl_rebalancer.io.reader import read_workbook
from xl_rebalancer.models import Constraint
from xl_rebalancer.prices.base import last_bar
from xl_rebalancer.prices.file import FilePriceProvider


@pytest.fixture(scope="module")
def demo(demo_files):
    book, price_file = demo_files
    portfolio = read_workbook(book).portfolio
    valuation = portfolio.settings.valuation_date
    bars = FilePriceProvider(price_file).history(
        portfolio.symbols(), valuation - dt.timedelta(days=10), valuation
    )
    prices = {s: last_bar(b, valuation).close for s, b in bars.bars.items()}
    return portfolio, prices


def _with(portfolio, **settings):
    return portfolio.model_copy(update={"settings": portfolio.settings.model_copy(update=settings)})


def test_solver_pays_less_tax_than_the_greedy_path_for_as_little_drift(demo, monkeypatch):
    portfolio, prices = demo
    solved = rebalance(portfolio, prices)
    monkeypatch.setattr(
        "xl_rebalancer.engine.rebalance._trade", lambda *a, **k: _trade(*a, **k, method="greedy")
    )
    greedy = rebalance(portfolio, prices)
    assert solved.summary_value("Estimated tax") < greedy.summary_value("Estimated tax")
    assert (
        solved.summary_value("Largest drift after")
        <= greedy.summary_value("Largest drift after") + 1e-4
    )
    assert any("exact MILP" in w.message for w in solved.warnings)


def test_max_realized_gain_and_max_turnover(demo):
    portfolio, prices = demo
    capped = rebalance(_with(portfolio, max_realized_gain=-2000.0, lot_method="min_tax"), prices)
    gains = sum(t.realized_gain or 0 for t in capped.trades)
    assert gains <= -2000.0 + 0.01
    slow = rebalance(_with(portfolio, max_turnover=0.03), prices)
    assert slow.summary_value("Turnover") <= 0.03 + 1e-6
    assert slow.summary_value("Largest drift after") > 0.01  # it really was held back


def test_max_weight_constraint_binds(demo):
    portfolio, prices = demo
    limited = portfolio.model_copy(
        update={"constraints": (Constraint(scope="symbol", name="VTI", max_weight=0.10, row=2),)}
    )
    result = rebalance(limited, prices)
    vti = sum(h.shares * prices["VTI"] for h in limited.holdings if h.symbol == "VTI")
    vti += sum(
        (1 if t.action == "BUY" else -1) * t.value for t in result.trades if t.symbol == "VTI"
    )
    assert vti / result.summary_value("Total value after") <= 0.10 + 1e-3


def test_relaxed_path_rounds_and_repairs(demo, monkeypatch):
    portfolio, prices = demo
    monkeypatch.setattr(solver, "EXACT_LIMIT", 0)
    result = rebalance(portfolio, prices)
    assert any("LP relaxation" in w.message for w in result.warnings)
    assert all(t.shares == int(t.shares) for t in result.trades)
    assert result.summary_value("Cash after") >= 0
    assert result.summary_value("Largest drift after") < 0.01
