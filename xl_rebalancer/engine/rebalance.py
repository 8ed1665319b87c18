"""The rebalance of one household: drift before and after, and the trade list.

Read top to bottom, a run goes one way:
    rebalance       prices checked, the cash flows in, the minimum trade resolved, the
                    drift before, whether the trigger calls for trades
    _trade_run      the trades, then every limit checked again on them (_hold_limits);
                    _trade_within_gain_cap solves again while allowed wash sales push
                    the gain over max_realized_gain
    _trade          the household as a Book (book.py); plan.solve makes the program's
                    inputs, and program/trades.solve_trades builds the program rule by
                    rule, searches it (program/search.py) and decodes the solution;
                    plan.apply_decision books the decision lot by lot and account by
                    account, and book.wash_adjusted reports allowed wash sales as the
                    IRS treats them
    _summarise      the Summary's figures (summary.py) over the drift after; then
                    rebalance returns the result with the harvest list
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..errors import InfeasibleError, PriceError, Problem
from ..models.inputs import Account, Portfolio, TaxLot
from ..models.results import AccountRow, DriftRow, RebalanceResult, SummaryItem, Trade
from ..models.types import MAX_PRICE, MIN_PRICE, show_number, usable_price
from .book import Book, Restrictions, check_withdrawal, flow_cells, wash_adjusted
from .drift import (
    Household,
    TargetLine,
    calendar_due,
    drift_rows,
    household_from,
    target_lines,
)
from .harvest import harvest_candidates
from .limits import check_limits
from .lots import averaged
from .plan import apply_decision, greedy_trade, risk_scales, solve, tradable, weight_limits
from .summary import item as summary_item
from .summary import summary_items, symbol_gaps, tracking_error
from .tax import disallowed_by_term, realized_rows, recorded_wash_notes, year_to_date
from .wash import (
    HouseholdActivity,
    PurchaseIndex,
    past_purchases,
)


def minimum_trade(total: float) -> float:
    """The minimum trade when min_trade_value is blank: 0.1% of the household, at least
    100 and at most 2,500, in whole money units. A fixed 100 let a $5 million household
    trade $100 lines, each a ticket and a statement line for drift nobody would notice;
    0.1% keeps a line's smallest trade at a tenth of a percent point of drift."""
    return float(min(max(100, round(total * 0.001)), 2_500))


def with_minimum_trade(portfolio: Portfolio, total: float) -> Portfolio:
    """The portfolio with a blank min_trade_value resolved for this household."""
    st = portfolio.settings
    if st.min_trade_value is not None:
        return portfolio
    st = st.model_copy(update={"min_trade_value": minimum_trade(total)})
    return portfolio.model_copy(update={"settings": st})


def missing_prices(portfolio: Portfolio, prices: Mapping[str, float]) -> list[str]:
    return [s for s in portfolio.symbols() if not (s in prices and usable_price(prices[s]))]


def rebalance(
    portfolio: Portfolio,
    prices: Mapping[str, float],
    *,
    trade: bool = True,
    risk: tuple[list[str], Any] | None = None,
    household_activity: HouseholdActivity | None = None,
) -> RebalanceResult:
    """Drift before and after, and the trade list that brings the household to target.

    Parameters
    ----------
    prices : latest price per symbol, in the base currency; every held or targeted
        symbol needs one.
    trade : False computes drift only (the `drift` command).
    risk : (symbols, annualized covariance) from price history, when there is one; the
        Summary then reports tracking error before and after as √(dᵀΣd).
    household_activity : the purchases and loss sales of the household's other
        workbooks (a spouse's, engine/wash.HouseholdActivity), checked for wash sales
        with this workbook's own.
    """
    _check_prices(portfolio, prices)
    household = household_from(portfolio, prices)
    flows = portfolio.flows()
    # Scaled to what the household is worth once this run's flows are in.
    portfolio = with_minimum_trade(portfolio, household.total_value + sum(flows.values()))
    lines = target_lines(portfolio)
    before = _Before.of(household)
    warnings: list[Problem] = []
    elsewhere = household_activity or HouseholdActivity()
    # Shared by the trade and the harvest; a spouse's purchases and loss sales with them.
    purchases = PurchaseIndex(
        [*past_purchases(portfolio), *elsewhere.purchases], elsewhere.loss_sales
    )
    # The year so far, read once: the solver, TaxHarvest and Summary net against it.
    ytd_st, ytd_lt, ytd_notes = year_to_date(portfolio)
    warnings.extend(ytd_notes)
    warnings.extend(recorded_wash_notes(portfolio))
    ytd = (ytd_st, ytd_lt)
    before_rows = drift_rows(lines, before.values, before.cash, before.total, household.classes)
    due = _due(portfolio, flows, before_rows)
    run = _Run([], household, {}, None)
    if trade and portfolio.accounts:
        for account, flow in flows.items():
            household.cash[account] += flow
        if due:
            run = _trade_run(portfolio, household, lines, before, warnings, purchases, risk, ytd)
        else:
            warnings.append(Problem("every position is within its band: no trades", level="info"))
    household = run.household
    after_rows = drift_rows(
        lines,
        before.values,
        before.cash,
        before.total,
        household.classes,
        after_values=household.values(),
        after_cash=household.total_cash,
        after_total=household.total_value,
    )
    if trade and not due:
        _warn_cash_stays(household, portfolio.settings.cash_max, warnings)
    summary = _summarise(portfolio, lines, run, after_rows, before, due, ytd, risk)
    return RebalanceResult(
        accounts=_account_rows(portfolio.accounts, before, household),
        harvest=tuple(harvest_candidates(portfolio, prices, purchases, ytd=ytd)),
        realized=tuple(realized_rows(portfolio, run.trades, run.washed)),
        drift=tuple(after_rows),
        trades=tuple(run.trades),
        summary=tuple(summary),
        warnings=tuple(warnings),
        rebalanced=bool(run.trades),
    )


def _check_prices(portfolio: Portfolio, prices: Mapping[str, float]) -> None:
    """Every held or targeted symbol needs a usable price: PriceError names the rest."""
    missing = missing_prices(portfolio, prices)
    if not missing:
        return
    odd = [f"{s} ({show_number(prices[s])})" for s in missing if s in prices]
    absent = [s for s in missing if s not in prices]
    raise PriceError(
        "; ".join(
            ([f"no price for {', '.join(absent)}"] if absent else [])
            + (
                [
                    f"the price of {', '.join(odd)} is outside the range accepted for a "
                    f"price ({show_number(MIN_PRICE)} to {show_number(MAX_PRICE)})"
                ]
                if odd
                else []
            )
        ),
        missing,
    )


@dataclass(frozen=True)
class _Before:
    """The household before the run's flows and trades, for the before-and-after rows."""

    values: dict[str, float]
    cash: float
    accounts: dict[str, float]
    cash_by_account: dict[str, float]
    total: float

    @classmethod
    def of(cls, household: Household) -> _Before:
        return cls(
            household.values(),
            household.total_cash,
            household.account_values(),
            dict(household.cash),
            household.total_value,
        )


@dataclass
class _Run:
    """The run's trades, the household they leave, the loss of recorded sales their buys
    wash (by Transactions row), and (in_band_gains = allow) the tax paid inside the bands."""

    trades: list[Trade]
    household: Household
    washed: dict[int, float]
    in_band_tax: float | None


def _due(portfolio: Portfolio, flows: Mapping[str, float], before_rows: list[DriftRow]) -> bool:
    """Whether the trigger rule calls for a rebalance; `drift` reports it without trading
    (its Summary said "triggered False" with lines out of band)."""
    st = portfolio.settings
    valuation = st.valuation_date
    assert valuation is not None  # the reader always resolves it
    return bool(portfolio.accounts) and (
        st.trigger == "always"
        or bool(flows)
        or any(lot.lock == "sell" for lot in portfolio.lots)
        or (st.trigger == "calendar" and calendar_due(st, valuation))
        or (st.trigger == "bands" and any(r.out_of_band for r in before_rows))
    )


def _trade_run(
    portfolio: Portfolio,
    household: Household,
    lines: list[TargetLine],
    before: _Before,
    warnings: list[Problem],
    purchases: PurchaseIndex,
    risk: tuple[list[str], Any] | None,
    ytd: tuple[float, float],
) -> _Run:
    """The trades of a run the trigger calls for (the flows already in the cash), held
    to every limit once more."""
    if household.total_value <= 0:
        flow = sum(portfolio.flows().values())
        raise InfeasibleError(
            f"the withdrawal of {-flow:,.2f} is more than the household is worth "
            f"({before.total:,.2f})",
            flow_cells(portfolio, None, "the withdrawals are larger than the household"),
        )
    scales = risk_scales(lines, risk, before.values) if risk is not None else None
    accounts = list(portfolio.accounts)
    run = _Run(
        *_trade_within_gain_cap(
            portfolio, household, lines, accounts, warnings, purchases, scales, ytd
        )
    )
    _hold_limits(portfolio, run.trades, run.household, lines, before.total, warnings)
    return run


def _trade_within_gain_cap(
    portfolio: Portfolio,
    household: Household,
    lines: list[TargetLine],
    accounts: list[Account],
    warnings: list[Problem],
    purchases: PurchaseIndex,
    scales: Mapping[str, float] | None,
    ytd: tuple[float, float],
) -> tuple[list[Trade], Household, dict[int, float], float | None]:
    """The trades, solved again with a lower cap while wash-sale adjustments push the
    run's net gain over max_realized_gain.

    With allow_wash_sales the program counts a loss in full, but a replacement bought in
    the last 30 days disallows part of it, so the gain the Trades sheet reports can end
    above the cap. Lowering the cap by the overshoot (at most three times) finds a list
    that meets it whenever one exists; what is still over is for _hold_limits to name.
    """
    cap = portfolio.settings.max_realized_gain
    trial_portfolio = portfolio
    for _ in range(3):
        trial = Household(
            dict(household.shares), dict(household.cash), household.prices, household.classes
        )
        notes: list[Problem] = []
        trades, washed, in_band_tax = _trade(
            trial_portfolio, trial, lines, accounts, notes, purchases, scales=scales, ytd=ytd
        )
        if cap is None or not portfolio.settings.allow_wash_sales:
            break
        over = sum(t.realized_gain or 0.0 for t in trades if t.action == "SELL") - cap
        if over <= 0.01:
            break
        tighter = trial_portfolio.settings.max_realized_gain - over  # type: ignore[operator]
        trial_portfolio = portfolio.model_copy(
            update={
                "settings": portfolio.settings.model_copy(update={"max_realized_gain": tighter})
            }
        )
    warnings.extend(notes)
    return trades, trial, washed, in_band_tax


def _trade(
    portfolio: Portfolio,
    household: Household,
    lines: list[TargetLine],
    accounts: list[Account],
    warnings: list[Problem],
    purchases: PurchaseIndex,
    method: str = "solver",
    scales: Mapping[str, float] | None = None,
    ytd: tuple[float, float] | None = None,
) -> tuple[list[Trade], dict[int, float], float | None]:
    """Trades by the solver (the greedy path when asked for or when the solver fails),
    the loss of recorded sales their buys wash, by Transactions row, and (in_band_gains
    = allow) the tax the plan pays for moves inside the bands."""
    portfolio = with_minimum_trade(portfolio, household.total_value)
    rules = Restrictions.from_portfolio(portfolio)
    lots: dict[tuple[str, str], list[TaxLot]] = defaultdict(list)
    for lot in portfolio.lots:
        lots[(lot.account, lot.symbol)].append(lot)
    if portfolio.settings.lot_method == "average":
        for key, position in lots.items():
            lots[key] = averaged(position)
    book = Book(portfolio, household, accounts, lots, rules, warnings, purchases)
    check_withdrawal(book)
    if method == "solver":
        try:
            decision = solve(portfolio, household, lines, book, scales, ytd)
        except (ImportError, RuntimeError) as exc:
            if portfolio.settings.infeasible == "stop":
                raise InfeasibleError(
                    f"the solver found no trade list ({exc}); nothing was written. Check "
                    "the cash flows against what each account can raise, or set infeasible to "
                    "relax to use the simple rebalance instead",
                    [Problem(f"solver: {exc}", "Settings", None, "error", None, "infeasible")],
                ) from exc
            warnings.append(
                Problem(
                    f"the solver failed ({exc}); the simple rebalance was used", level="warning"
                )
            )
        else:
            apply_decision(decision, book, lines)
            return wash_adjusted(book), dict(book.recorded_disallowed), book.in_band_tax
    greedy_trade(portfolio, household, lines, book)
    return wash_adjusted(book), dict(book.recorded_disallowed), None


def _hold_limits(
    portfolio: Portfolio,
    trades: list[Trade],
    household: Household,
    lines: list[TargetLine],
    total_before: float,
    warnings: list[Problem],
) -> None:
    """The final trade list against every hard limit (engine/limits.py): a breach stops
    the run, or under `relax` becomes a warning. A limit the solver already named is
    said again with the figure the trade list ends at: the solver's amount is before
    rounding and costs, and a miss of a few hundredths of a percent (cash 5.0067%
    against cash_max 5%, turnover 15.045% against 15%) must still be read in the Log
    with its percentages (issue 44)."""
    symbols = tradable(lines, household)
    order = [a.account for a in portfolio.accounts]
    limits = weight_limits(portfolio, household, order, symbols)
    found = check_limits(portfolio, trades, household, total_before, limits)
    warnings.extend(b for b in found if b.level != "error")  # missed by rounding: said
    breaches = [b for b in found if b.level == "error"]
    if not breaches:
        return
    if portfolio.settings.infeasible == "stop":
        raise InfeasibleError(
            "the trade list breaks a limit named in the details; nothing was written. "
            "Change that limit, or set infeasible to relax to keep this trade list with "
            "warnings",
            breaches,
        )
    warnings.extend(replace(b, level="warning") for b in breaches)


def _warn_cash_stays(household: Household, cash_max: float, warnings: list[Problem]) -> None:
    """A run that trades nothing says so when its cash is above cash_max."""
    if household.total_value <= 0:
        return
    cash_weight = household.total_cash / household.total_value
    if cash_weight > cash_max + 1e-9:
        warnings.append(
            Problem(
                f"post-trade cash is {cash_weight:.2%}, above cash_max "
                f"{cash_max:.2%}: nothing left that may be bought",
                "Settings",
                None,
                "warning",
            )
        )


def _summarise(
    portfolio: Portfolio,
    lines: list[TargetLine],
    run: _Run,
    after_rows: list[DriftRow],
    before: _Before,
    due: bool,
    ytd: tuple[float, float],
    risk: tuple[list[str], Any] | None,
) -> list[SummaryItem]:
    """The Summary's items, with tracking error before and after when there is a risk
    model."""
    household = run.household
    summary = summary_items(
        portfolio,
        run.trades,
        after_rows,
        before.total,
        before.cash,
        household,
        due,
        ytd,
        disallowed_by_term(portfolio, run.washed),
        in_band_tax=run.in_band_tax,
    )
    if risk is not None:
        gaps_before = symbol_gaps(lines, before.values, before.total)
        gaps_after = symbol_gaps(lines, household.values(), household.total_value, before.values)
        summary += [
            summary_item("tracking_error_before", tracking_error(gaps_before, risk)),
            summary_item("tracking_error_after", tracking_error(gaps_after, risk)),
        ]
    return summary


def _account_rows(
    accounts: Sequence[Account], before: _Before, household: Household
) -> tuple[AccountRow, ...]:
    after = household.account_values()
    return tuple(
        AccountRow(
            account=a.account,
            type=a.type,
            value_before=before.accounts.get(a.account, 0.0),
            value_after=after.get(a.account, 0.0),
            cash_before=before.cash_by_account.get(a.account, 0.0),
            cash_after=household.cash.get(a.account, 0.0),
        )
        for a in accounts
    )
