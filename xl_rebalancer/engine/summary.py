"""The Summary sheet's figures of a run: values, drift, turnover, the run's tax netted
with the year (Schedule D), tracking error."""

from __future__ import annotations

import math
from typing import Any

from ..models.inputs import Portfolio
from ..models.results import SummaryItem, Trade
from .drift import (
    Household,
    TargetLine,
    drift_distance,
)
from .tax import year_tax


def symbol_gaps(
    lines: list[TargetLine],
    values: dict[str, float],
    total: float,
    split_by: dict[str, float] | None = None,
) -> dict[str, float]:
    """Weight minus target per symbol; an asset-class goal is shared among its funds by
    their values before trading (equally when the class holds nothing)."""
    split_by = values if split_by is None else split_by
    gaps: dict[str, float] = {}
    if total <= 0:
        return gaps
    for line in lines:
        if line.kind == "cash":
            continue
        held = sum(split_by.get(m, 0.0) for m in line.members)
        for member in line.members:
            share = split_by.get(member, 0.0) / held if held > 0 else 1.0 / len(line.members)
            gaps[member] = (
                gaps.get(member, 0.0) + values.get(member, 0.0) / total - (line.weight * share)
            )
    for symbol, value in values.items():
        gaps.setdefault(symbol, value / total)
    return gaps


def tracking_error(gaps: dict[str, float], risk: tuple[list[str], Any]) -> float:
    """Annualized ex-ante tracking error √(dᵀΣd) of the weight gaps."""
    import numpy as np

    symbols, cov = risk
    d = np.array([gaps.get(sym, 0.0) for sym in symbols])
    return math.sqrt(max(float(d @ np.asarray(cov) @ d), 0.0))


def summary_items(
    portfolio: Portfolio,
    trades: list[Trade],
    rows: list,
    total_before: float,
    cash_before: float,
    household: Household,
    triggered: bool,
    ytd: tuple[float, float],
    washed: tuple[float, float] = (0.0, 0.0),
) -> list[SummaryItem]:
    """The Summary's rows. `washed` is the short- and long-term loss of recorded sales
    this run's buys wash: it leaves the year with the run (the buy is what disallows
    it), so the run's Estimated tax includes the deduction it gives up."""
    st = portfolio.settings
    buys = sum(t.value for t in trades if t.action == "BUY")
    sells = sum(t.value for t in trades if t.action == "SELL")
    st_gain = sum(t.realized_gain or 0.0 for t in trades if t.term == "ST")
    lt_gain = sum(t.realized_gain or 0.0 for t in trades if t.term == "LT")
    # The run's tax is what it adds to the year's netted tax (engine/tax.py), not the
    # rows' sum: an ST loss that only offsets LT gains saves the LT rate, a loss beyond
    # the $3,000 limit saves nothing this year.
    ytd_st, ytd_lt = ytd
    year_before = year_tax(portfolio, ytd_st, ytd_lt)
    washed_st, washed_lt = washed
    year = year_tax(portfolio, ytd_st + st_gain + washed_st, ytd_lt + lt_gain + washed_lt)
    # A gain realized past the loss limit uses up loss that would have been carried to
    # next year; the objective charges it at the LT rate (solver._netted_tax).
    st_loss = sum(min(t.realized_gain or 0.0, 0.0) for t in trades if t.term == "ST")
    lt_loss = sum(min(t.realized_gain or 0.0, 0.0) for t in trades if t.term == "LT")
    losses_only = year_tax(portfolio, ytd_st + st_loss + washed_st, ytd_lt + lt_loss + washed_lt)
    used = max(0.0, losses_only.carryforward - year.carryforward)
    total_after = household.total_value
    largest_before = max((abs(r.drift) for r in rows), default=0.0)
    largest_after = max(
        (abs((r.post_trade_weight or 0.0) - r.target_weight) for r in rows), default=0.0
    )
    items: list[tuple[str, object]] = [
        ("Valuation date", st.valuation_date.isoformat() if st.valuation_date else None),
        ("Strategy", st.strategy),
        ("Base currency", st.base_currency),
        ("Total value before", round(total_before, 2)),
        ("Cash flow", round(sum(portfolio.flows().values()), 2)),
        ("Total value after", round(total_after, 2)),
        ("Cash before", round(cash_before, 2)),
        ("Cash after", round(household.total_cash, 2)),
        ("Largest drift before", largest_before),
        ("Largest drift after", largest_after),
        ("Drift distance before", drift_distance(rows)),
        ("Drift distance after", drift_distance(rows, post=True)),
        ("Rebalance triggered", triggered),
        ("Trade count", len(trades)),
        ("Minimum trade", st.min_trade_value),
        ("Buys", round(buys, 2)),
        ("Sells", round(sells, 2)),
        ("Turnover", (buys + sells) / 2 / total_before if total_before else 0.0),
        ("Estimated costs", round(sum(t.est_cost for t in trades), 2)),
        ("Realized ST gain", round(st_gain, 2)),
        ("Realized LT gain", round(lt_gain, 2)),
        ("Estimated tax", round(year.tax - year_before.tax, 2)),
        ("Carried loss used by this run's gains", round(used, 2)),
        ("Recorded loss washed by this run's buys", round(washed_st + washed_lt, 2)),
        ("Estimated tax per row, before netting", round(sum(t.est_tax for t in trades), 2)),
        ("Filing status", st.filing_status),
        ("Year ST gain before this run", round(ytd_st, 2)),
        ("Year LT gain before this run", round(ytd_lt, 2)),
        ("Year net ST, carryover included", year.st_net),
        ("Year net LT, carryover included", year.lt_net),
        ("Year net capital gain (loss)", round(year.net, 2)),
        ("Year loss against ordinary income", year.loss_deducted),
        ("ST loss carried to next year", year.st_carryforward),
        ("LT loss carried to next year", year.lt_carryforward),
        ("Year tax on capital gains", year.tax),
    ]
    return [SummaryItem(key=k, value=v) for k, v in items]  # type: ignore[arg-type]
