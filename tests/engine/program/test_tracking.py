"""tracking.py's rule: each line's distance from its goal, priced in the objective."""

from __future__ import annotations

import pytest

from .conftest import Program, out_of_balance, sold

PRICES = {"VTI": 100.0, "BND": 100.0}


def test_a_line_is_two_rows_over_and_under_its_goal_priced_inside_and_beyond_its_band(
    program: Program,
):
    """US: the money its trades move (−$100 a share sold, +$100 bought) less what is over
    its goal ≤ $60,000 − $80,000, and plus what is under ≥ the same. Each side has a
    column at 1 per dollar (beyond the band) and one at risk_aversion (0.1) for the first
    $5,000 (band: min(5 points, 25% of 60%) of $100,000)."""
    pieces = program.watch("lines")
    program.plan(out_of_balance(), PRICES)
    piece = pieces[-1]
    t, m = piece.t, piece.t.m
    moved = {
        t.sell_var[("IRA", "VTI")]: -100.0,
        t.buy_var[("IRA", "VTI")]: 100.0,
    }
    beyond, inside, beyond_under, inside_under = piece.columns[:4]  # the US line's
    assert [(m.cost[j], m.upper[j]) for j in piece.columns[:4]] == [
        (1.0, float("inf")),
        (0.1, 5_000.0),
        (1.0, float("inf")),
        (0.1, 5_000.0),
    ]
    over, under = piece.row(0), piece.row(1)
    assert over[0] == pytest.approx({**moved, beyond: -1.0, inside: -1.0})
    assert over[2] == pytest.approx(-20_000.0)
    assert under[0] == pytest.approx({**moved, beyond_under: 1.0, inside_under: 1.0})
    assert under[1] == pytest.approx(-20_000.0)


def test_without_the_lines_nothing_moves_toward_the_targets(program: Program):
    """With the drift priced the plan sells $20,000 of VTI and buys floor(19,990 / 100.05)
    = 199 BND. Without it nothing pays for a trade, so nothing is traded: US stays 20
    points over its target."""
    decision = program.plan(out_of_balance(), PRICES)
    assert sold(decision) == {("IRA", "VTI"): 200.0}
    assert decision.buys == {("IRA", "BND"): 199.0}

    program.without("lines")
    decision = program.plan(out_of_balance(), PRICES)
    assert not decision.sells and not decision.buys, "the lines left off their targets"
