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


# The summary's stable names (the keys of `--json`'s "summary", docs/json.md) and the
# labels the Summary sheet shows. Scripts read the names; the labels may be reworded.
SUMMARY_LABELS: dict[str, str] = {
    "valuation_date": "Valuation date",
    "strategy": "Strategy",
    "base_currency": "Base currency",
    "total_value_before": "Total value before",
    "cash_flow": "Cash flow",
    "total_value_after": "Total value after",
    "cash_before": "Cash before",
    "cash_after": "Cash after",
    "largest_drift_before": "Largest drift before",
    "largest_drift_after": "Largest drift after",
    "drift_distance_before": "Drift distance before",
    "drift_distance_after": "Drift distance after",
    "rebalance_triggered": "Rebalance triggered",
    "trade_count": "Trade count",
    "minimum_trade": "Minimum trade",
    "buys": "Buys",
    "sells": "Sells",
    "turnover": "Turnover",
    "estimated_costs": "Estimated costs",
    "realized_st_gain": "Realized ST gain",
    "realized_lt_gain": "Realized LT gain",
    "estimated_tax": "Estimated tax",
    "carried_loss_used": "Carried loss used by this run's gains",
    "in_band_tax": "Tax paid for moves inside the bands",
    "recorded_loss_washed": "Recorded loss washed by this run's buys",
    "estimated_tax_per_row": "Estimated tax per row, before netting",
    "filing_status": "Filing status",
    "year_st_gain_before_run": "Year ST gain before this run",
    "year_lt_gain_before_run": "Year LT gain before this run",
    "year_net_st": "Year net ST, carryover included",
    "year_net_lt": "Year net LT, carryover included",
    "year_net_capital_gain": "Year net capital gain (loss)",
    "year_loss_against_ordinary_income": "Year loss against ordinary income",
    "st_loss_carryforward": "ST loss carried to next year",
    "lt_loss_carryforward": "LT loss carried to next year",
    "year_tax_on_capital_gains": "Year tax on capital gains",
    "tracking_error_before": "Tracking error before",
    "tracking_error_after": "Tracking error after",
}


def item(name: str, value: object) -> SummaryItem:
    """One summary line under its stable name, labelled for the sheet."""
    return SummaryItem(name=name, key=SUMMARY_LABELS[name], value=value)  # type: ignore[arg-type]


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
    in_band_tax: float | None = None,
) -> list[SummaryItem]:
    """The Summary's rows. `washed` is the short- and long-term loss of recorded sales
    this run's buys wash: it leaves the year with the run (the buy is what disallows
    it), so the run's Estimated tax includes the deduction it gives up. `in_band_tax`
    (in_band_gains = allow) is the tax paid for moves inside the bands."""
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
    # next year; the objective charges it at the LT rate (program/netting.py).
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
        ("valuation_date", st.valuation_date.isoformat() if st.valuation_date else None),
        ("strategy", st.strategy),
        ("base_currency", st.base_currency),
        ("total_value_before", round(total_before, 2)),
        ("cash_flow", round(sum(portfolio.flows().values()), 2)),
        ("total_value_after", round(total_after, 2)),
        ("cash_before", round(cash_before, 2)),
        ("cash_after", round(household.total_cash, 2)),
        ("largest_drift_before", largest_before),
        ("largest_drift_after", largest_after),
        ("drift_distance_before", drift_distance(rows)),
        ("drift_distance_after", drift_distance(rows, post=True)),
        ("rebalance_triggered", triggered),
        ("trade_count", len(trades)),
        ("minimum_trade", st.min_trade_value),
        ("buys", round(buys, 2)),
        ("sells", round(sells, 2)),
        ("turnover", (buys + sells) / 2 / total_before if total_before else 0.0),
        ("estimated_costs", round(sum(t.est_cost for t in trades), 2)),
        ("realized_st_gain", round(st_gain, 2)),
        ("realized_lt_gain", round(lt_gain, 2)),
        ("estimated_tax", round(year.tax - year_before.tax, 2)),
        ("carried_loss_used", round(used, 2)),
        # Only when in_band_gains = allow lets risk_aversion pay tax inside the bands:
        # the plan's tax above the plan that moves only what is beyond them.
        *([("in_band_tax", round(in_band_tax, 2))] if in_band_tax is not None else []),
        ("recorded_loss_washed", round(washed_st + washed_lt, 2)),
        ("estimated_tax_per_row", round(sum(t.est_tax for t in trades), 2)),
        ("filing_status", st.filing_status),
        ("year_st_gain_before_run", round(ytd_st, 2)),
        ("year_lt_gain_before_run", round(ytd_lt, 2)),
        ("year_net_st", year.st_net),
        ("year_net_lt", year.lt_net),
        ("year_net_capital_gain", round(year.net, 2)),
        ("year_loss_against_ordinary_income", year.loss_deducted),
        ("st_loss_carryforward", year.st_carryforward),
        ("lt_loss_carryforward", year.lt_carryforward),
        ("year_tax_on_capital_gains", year.tax),
    ]
    return [item(name, value) for name, value in items]
