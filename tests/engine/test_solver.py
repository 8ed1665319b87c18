"""The trade solver on the demo household: limits honoured, better than the greedy path;
and the enumeration of the netting regime against brute force on small programs."""

from __future__ import annotations

import datetime as dt

import pytest

from xl_rebalancer.engine.program import model, trades
from xl_rebalancer.engine.rebalance import _trade, rebalance
from xl_rebalancer.models import Constraint
from xl_rebalancer.prices.base import last_bar
from xl_rebalancer.prices.file import FilePriceProvider
from xl_rebalancer.workbook.reader import read_workbook


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
    monkeypatch.setattr(trades, "EXACT_LIMIT", 0)
    result = rebalance(portfolio, prices)
    assert any("LP relaxation" in w.message for w in result.warnings)
    assert all(t.shares == int(t.shares) for t in result.trades)
    assert result.summary_value("Cash after") >= 0
    assert result.summary_value("Largest drift after") < 0.01


@pytest.mark.parametrize("seed", range(60))
def test_enumerated_regime_binary_reaches_the_brute_force_optimum(seed):
    """The exact path enumerates the `always` binary (the year's netting regime) and skips
    an assignment whose LP bound cannot beat the best plan: on small programs of the
    netting's shape (a reward h ≤ max(0, a·x + b), capped by a big M) the result must be
    the optimum found by trying every integer point."""
    import itertools
    import random

    rng = random.Random(seed)
    n, top = 3, 4
    cost = [rng.uniform(-4, 4) for _ in range(n)]
    slope = [rng.uniform(-5, 5) for _ in range(n)]
    offset = rng.uniform(-15, 5)
    reward = rng.uniform(0.5, 3.0)
    # Heavy items in a small knapsack: integrality matters, so in about one program in
    # ten the regime with the better LP bound does not hold the optimum.
    weights = [rng.uniform(3, 9) for _ in range(n)]
    capacity = rng.uniform(4, 14)
    big = 200.0

    m = model._Model()
    xs = [m.var(c, 0.0, top, integer=True) for c in cost]
    h = m.var(-reward, 0.0, big)
    z = m.var(0.0, 0.0, 1.0, integer=True, always=True)
    m.row(dict(zip(xs, weights, strict=True)), hi=capacity)
    m.row({h: 1.0, z: -big}, hi=0.0)
    m.row({h: 1.0, z: big, **{x: -a for x, a in zip(xs, slope, strict=True)}}, hi=offset + big)
    values, _ = m.solve(relax=False, abs_gap=1e-9)
    assert values is not None
    found = sum(c * values[j] for j, c in enumerate(m.cost))

    def value(point: tuple[int, ...]) -> float:
        gain = offset + sum(a * v for a, v in zip(slope, point, strict=True))
        paid = sum(c * v for c, v in zip(cost, point, strict=True))
        return paid - reward * max(0.0, min(big, gain))

    best = min(
        value(point)
        for point in itertools.product(range(top + 1), repeat=n)
        if sum(w * v for w, v in zip(weights, point, strict=True)) <= capacity
    )
    assert found == pytest.approx(best, abs=1e-6)
