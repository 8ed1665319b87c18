"""The same plan on any machine (issue 44): no wall-clock limit decides a trade list.

A household was seen to end its search optimal with 21 trades on a quiet machine and, with
the cores busy, cut off by HiGHS's 60-second time limit with 19 other trades. The search
now stops only at node and gap limits, on a fixed thread count; the time limit is a
safety net that raises instead of returning whatever the clock left.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from benchmarks.large_household_bench import sixty_line_household
from xl_rebalancer.engine.program import search
from xl_rebalancer.engine.rebalance import rebalance
from xl_rebalancer.errors import SolverTimeLimit
from xl_rebalancer.models.results import RebalanceResult

BURN = "import time\nend = time.time() + 120\nwhile time.time() < end:\n    pass\n"


def rows(plan: RebalanceResult) -> list[tuple]:
    return [(t.account, t.symbol, t.action, t.lot_id, t.shares, t.value) for t in plan.trades]


def test_the_plan_is_identical_with_every_core_busy():
    portfolio, prices = sixty_line_household(seed=1, lots_per_position=6)
    quiet = rebalance(portfolio, prices)
    assert len(quiet.trades) > 10
    burners = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(3)]
    try:
        busy = rebalance(portfolio, prices)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert rows(busy) == rows(quiet)
    assert busy.summary_value("estimated_tax") == quiet.summary_value("estimated_tax")


@pytest.mark.parametrize("infeasible", ["stop", "relax"])
def test_a_search_cut_off_by_the_clock_is_an_error_not_a_plan(monkeypatch, infeasible):
    """Reaching the safety limit raises, whatever `infeasible` says: neither the plan the
    clock left nor the simple rebalance (which would also depend on the clock) is given."""
    portfolio, prices = sixty_line_household(seed=1, lots_per_position=6)
    portfolio = portfolio.model_copy(
        update={"settings": portfolio.settings.model_copy(update={"infeasible": infeasible})}
    )
    monkeypatch.setattr(search, "TIME_LIMIT", 0.01)
    with pytest.raises(SolverTimeLimit, match="safety limit"):
        rebalance(portfolio, prices)


def test_no_search_setting_is_a_clock():
    """The limits that decide a plan are counts and gaps; the time limit is far beyond
    what the largest exact program measured takes (docs/performance.md)."""
    assert search.NODE_LIMIT == 200 and search.THREADS == 2
    assert search.TIME_LIMIT >= 600
