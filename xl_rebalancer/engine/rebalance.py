"""A first whole-share rebalance: household targets, per-account cash, lots sold by method.

This is a transparent greedy path (sell what is over, then buy what is under with the
cash each account has) that keeps every invariant of the contract: no shorts, no
negative cash, cash within cash_min..cash_max where trades allow it, whole shares,
no tiny trades, value conserved up to costs. The tax-optimal solver (issue 4)
replaces the choice of trades; the bookkeeping here stays.

Decisions (also in the README):
- Each CashFlows row goes into (or out of) its own account; Settings.cash_flow is a
  shorthand for a row on the first account on the Accounts sheet.
- A symbol held in several accounts is sold first where selling is tax-free
  (tax_exempt, then tax_deferred), then in taxable accounts by lot_method.
- Asset-class targets are spread over the class's symbols in proportion to their
  current value (equally when the class holds nothing yet).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..errors import InfeasibleError, PriceError, Problem
from ..models.checks import symbol_classes
from ..models.inputs import Account, Portfolio, TaxLot
from ..models.results import AccountRow, RebalanceResult, SummaryItem, Trade
from ..models.types import MAX_PRICE, MIN_PRICE, show_number, usable_price
from .drift import (
    Household,
    TargetLine,
    calendar_due,
    drift_distance,
    drift_rows,
    household_from,
    is_out_of_band,
    line_value,
    target_lines,
)
from .harvest import harvest_candidates
from .limits import check_limits
from .lots import averaged, basis_per_share, order_lots, relieve, tax_rate
from .solver import Decision, lot_take, sell_units, share_step, snap, solve_trades
from .tax import realized_rows, year_tax, year_to_date
from .wash import (
    LossSale,
    Purchase,
    PurchaseIndex,
    buy_blockers,
    identical_sets,
    match_wash_sales,
    past_loss_sales,
    past_purchases,
    sale_blockers,
)

TYPE_SELL_ORDER = {"tax_exempt": 0, "tax_deferred": 1, "taxable": 2}
EPS = 1e-9
RISK_SCALE_MIN, RISK_SCALE_MAX = 0.25, 4.0


@dataclass(frozen=True)
class Restrictions:
    """NoBuy / NoSell from the Constraints sheet, by symbol, asset class and account, and
    the household-wide rebalance_mode (buy_only sells nothing, sell_only buys nothing)."""

    no_buy: frozenset[tuple[str, str]]
    no_sell: frozenset[tuple[str, str]]
    mode: str = "full"

    @classmethod
    def from_portfolio(cls, portfolio: Portfolio) -> Restrictions:
        buy, sell = set(), set()
        for c in portfolio.constraints:
            name = c.name.upper() if c.scope in ("symbol", "asset_class") else c.name
            if c.no_buy:
                buy.add((c.scope, name))
            if c.no_sell:
                sell.add((c.scope, name))
        return cls(frozenset(buy), frozenset(sell), portfolio.settings.rebalance_mode)

    @staticmethod
    def _hit(rules: frozenset[tuple[str, str]], account: str, symbol: str, cls_name: str) -> bool:
        return (
            ("symbol", symbol) in rules
            or ("account", account) in rules
            or ("asset_class", cls_name.upper()) in rules
        )

    def can_buy(self, account: str, symbol: str, cls_name: str) -> bool:
        return self.mode != "sell_only" and not self._hit(self.no_buy, account, symbol, cls_name)

    def can_sell(self, account: str, symbol: str, cls_name: str) -> bool:
        return self.mode != "buy_only" and not self._hit(self.no_sell, account, symbol, cls_name)


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
) -> RebalanceResult:
    """Drift before and after, and the trade list that brings the household to target.

    Parameters
    ----------
    prices : latest price per symbol, in the base currency; every held or targeted
        symbol needs one.
    trade : False computes drift only (the `drift` command).
    risk : (symbols, annualized covariance) from price history, when there is one; the
        Summary then reports tracking error before and after as √(dᵀΣd).
    """
    st = portfolio.settings
    missing = missing_prices(portfolio, prices)
    if missing:
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
    valuation = st.valuation_date
    assert valuation is not None  # the reader always resolves it
    household = household_from(portfolio, prices)
    # Scaled to what the household is worth once this run's flows are in.
    portfolio = with_minimum_trade(
        portfolio, household.total_value + sum(portfolio.flows().values())
    )
    st = portfolio.settings
    accounts = list(portfolio.accounts)
    lines = target_lines(portfolio)
    values_before = household.values()
    cash_before = household.total_cash
    accounts_before = household.account_values()
    cash_by_account = dict(household.cash)
    total_before = household.total_value
    warnings: list[Problem] = []
    purchases = PurchaseIndex(past_purchases(portfolio))  # shared by the trade and harvest
    # The year so far, read once: the solver, TaxHarvest and Summary net against it.
    ytd_st, ytd_lt, ytd_notes = year_to_date(portfolio)
    warnings.extend(ytd_notes)
    ytd = (ytd_st, ytd_lt)
    before_rows = drift_rows(lines, values_before, cash_before, total_before, household.classes)

    trades: list[Trade] = []
    # Whether the trigger rule calls for a rebalance; `drift` reports it without trading
    # (its Summary said "triggered False" with lines out of band).
    flows = portfolio.flows()
    due = bool(accounts) and (
        st.trigger == "always"
        or bool(flows)
        or any(lot.lock == "sell" for lot in portfolio.lots)
        or (st.trigger == "calendar" and calendar_due(st, valuation))
        or (st.trigger == "bands" and any(r.out_of_band for r in before_rows))
    )
    triggered = False
    if trade and accounts:
        for account, flow in flows.items():
            household.cash[account] += flow
        triggered = due
        if triggered:
            if household.total_value <= 0:
                flow = sum(flows.values())
                raise InfeasibleError(
                    f"the withdrawal of {-flow:,.2f} is more than the household is worth "
                    f"({total_before:,.2f})",
                    flow_cells(portfolio, None, "the withdrawals are larger than the household"),
                )
            scales = _risk_scales(lines, risk, values_before) if risk is not None else None
            trades, household = _trade_within_gain_cap(
                portfolio, household, lines, accounts, warnings, purchases, scales, ytd
            )
            _hold_limits(portfolio, trades, household, lines, total_before, warnings)
        else:
            warnings.append(Problem("every position is within its band: no trades", level="info"))

    values_after = household.values()
    after_rows = drift_rows(
        lines,
        values_before,
        cash_before,
        total_before,
        household.classes,
        after_values=values_after,
        after_cash=household.total_cash,
        after_total=household.total_value,
    )
    if trade and not triggered and household.total_value > 0:
        cash_weight = household.total_cash / household.total_value
        if cash_weight > st.cash_max + 1e-9:
            warnings.append(
                Problem(
                    f"post-trade cash is {cash_weight:.2%}, above cash_max "
                    f"{st.cash_max:.2%}: nothing left that may be bought",
                    "Settings",
                    None,
                    "warning",
                )
            )
    summary = _summary(
        portfolio, trades, after_rows, total_before, cash_before, household, due, ytd
    )
    if risk is not None:
        gaps_before = _symbol_gaps(lines, values_before, total_before)
        gaps_after = _symbol_gaps(lines, values_after, household.total_value, values_before)
        summary += [
            SummaryItem(key="Tracking error before", value=_tracking_error(gaps_before, risk)),
            SummaryItem(key="Tracking error after", value=_tracking_error(gaps_after, risk)),
        ]
    harvest = harvest_candidates(portfolio, prices, purchases, ytd=ytd)
    accounts_after = household.account_values()
    return RebalanceResult(
        accounts=tuple(
            AccountRow(
                account=a.account,
                type=a.type,
                value_before=accounts_before.get(a.account, 0.0),
                value_after=accounts_after.get(a.account, 0.0),
                cash_before=cash_by_account.get(a.account, 0.0),
                cash_after=household.cash.get(a.account, 0.0),
            )
            for a in accounts
        ),
        harvest=tuple(harvest),
        realized=tuple(realized_rows(portfolio, trades)),
        drift=tuple(after_rows),
        trades=tuple(trades),
        summary=tuple(summary),
        warnings=tuple(warnings),
        rebalanced=bool(trades),
    )


def _trade_within_gain_cap(
    portfolio: Portfolio,
    household: Household,
    lines: list[TargetLine],
    accounts: list[Account],
    warnings: list[Problem],
    purchases: PurchaseIndex,
    scales: Mapping[str, float] | None,
    ytd: tuple[float, float],
) -> tuple[list[Trade], Household]:
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
        trades = _trade(
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
    return trades, trial


def _hold_limits(
    portfolio: Portfolio,
    trades: list[Trade],
    household: Household,
    lines: list[TargetLine],
    total_before: float,
    warnings: list[Problem],
) -> None:
    """The final trade list against every hard limit (engine/limits.py): a breach the
    solver has not already named stops the run, or under `relax` becomes a warning."""
    symbols = _tradable(lines, household)
    order = [a.account for a in portfolio.accounts]
    limits = _weight_limits(portfolio, household, order, symbols)
    named = {(w.sheet, w.row, w.field) for w in warnings if w.level != "info"}
    breaches = [
        b
        for b in check_limits(portfolio, trades, household, total_before, limits)
        if (b.sheet, b.row, b.field) not in named
    ]
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


def _desired_values(
    portfolio: Portfolio,
    household: Household,
    lines: list[TargetLine],
) -> dict[str, float]:
    st = portfolio.settings
    total = household.total_value
    cash_line = next(line for line in lines if line.kind == "cash")
    cash_weight = min(max(cash_line.weight, st.cash_min), st.cash_max)
    invested = 1.0 - cash_line.weight
    scale = (1.0 - cash_weight) / invested if invested > EPS else 0.0
    values = household.values()
    desired: dict[str, float] = {}
    for line in lines:
        if line.kind == "cash":
            continue
        goal = line.weight * scale
        current = line_value(line, values, 0.0)
        if st.rebalance_to == "band_edge":
            weight = current / total if total else 0.0
            if is_out_of_band(weight - line.weight, line.band):
                goal = min(max(weight, goal - line.band), goal + line.band)
            else:
                goal = weight
        goal_value = goal * total
        members = [m for m in line.members if m in household.prices] or list(line.members)
        if not members:
            continue
        if line.kind == "symbol":
            # The fund itself, and its Substitute keeping what it holds (selling it only
            # to buy the fund back would realize its gain for nothing).
            kept = {m: min(values.get(m, 0.0), goal_value) for m in members[1:]}
            desired[members[0]] = goal_value - sum(kept.values())
            desired.update(kept)
        elif current > EPS:
            for m in members:
                desired[m] = goal_value * values.get(m, 0.0) / current
        else:
            for m in members:
                desired[m] = goal_value / len(members)
    return desired


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
) -> list[Trade]:
    """Trades by the solver; the greedy path when asked for or when the solver fails."""
    portfolio = with_minimum_trade(portfolio, household.total_value)
    rules = Restrictions.from_portfolio(portfolio)
    lots: dict[tuple[str, str], list[TaxLot]] = defaultdict(list)
    for lot in portfolio.lots:
        lots[(lot.account, lot.symbol)].append(lot)
    if portfolio.settings.lot_method == "average":
        for key, position in lots.items():
            lots[key] = averaged(position)
    book = _Book(portfolio, household, accounts, lots, rules, warnings, purchases)
    _check_withdrawal(book)
    if method == "solver":
        try:
            decision = _solve(portfolio, household, lines, book, scales, ytd)
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
            _apply(decision, book, lines)
            return _wash_adjusted(book)
    _greedy_trade(portfolio, household, lines, book)
    return _wash_adjusted(book)


def _wash_adjusted(book: _Book) -> list[Trade]:
    """Where the user allows wash sales, report them as the IRS treats them.

    Each loss sold this run is matched to replacement purchases (past ones on record
    and this run's buys) in order of acquisition; the disallowed part leaves the sale's
    recognized gain and estimated tax, and goes into the replacement's basis with the
    sold lot's holding period. A replacement bought in an IRA or Roth loses it for good
    (Rev. Rul. 2008-5). Sales without a replacement are left as they are.
    """
    trades = book.trades
    st = book.st
    if not st.allow_wash_sales:
        return trades
    valuation = st.valuation_date
    assert valuation is not None
    run_buys = [
        Purchase(t.account, t.symbol, valuation, t.shares, f"this run, BUY row {i + 1}")
        for i, t in enumerate(trades)
        if t.action == "BUY"
    ]
    past = [p for group in book.purchases.by_symbol.values() for p in group]
    matches = [
        m
        for m in match_wash_sales(
            book.loss_sales, past + run_buys, st.wash_sale_days, book.identical
        )
        if m.sale.source.startswith("this run") or m.purchase.source.startswith("this run")
    ]
    if not matches:
        return trades
    sale_rows = {
        (t.account, t.lot_id): i for i, t in enumerate(trades) if t.action == "SELL" and t.lot_id
    }
    buy_rows = {(t.account, t.symbol): i for i, t in enumerate(trades) if t.action == "BUY"}
    disallowed_by_sale: dict[int, list[str]] = defaultdict(list)
    moved: dict[int, float] = defaultdict(float)
    notes: dict[int, list[str]] = defaultdict(list)
    for match in matches:
        sale, purchase, amount = match.sale, match.purchase, match.disallowed_loss
        taxable = (
            book.accounts[purchase.account].taxable if purchase.account in book.accounts else True
        )
        held = (
            f"holding period from {match.holding_start.isoformat()}"
            if match.holding_start
            else "the sold shares' holding period added"
        )
        fate = (
            f"moved into the basis of {purchase.describe()}, {held}"
            if taxable
            else f"lost for good: the replacement was bought in {purchase.account}, "
            "a retirement account (Rev. Rul. 2008-5)"
        )
        index = sale_rows.get(sale.lot_key) if sale.lot_key else None
        if index is not None:
            moved[index] += amount
            disallowed_by_sale[index].append(f"{amount:,.2f} {fate}")
        if purchase.source.startswith("this run"):
            row = buy_rows[(purchase.account, purchase.symbol)]
            if taxable:
                moved[row] += amount
                notes[row].append(f"{amount:,.2f} of the loss on {sale.describe()}, {held}")
            else:
                book.warnings.append(
                    Problem(
                        f"wash sale: buying {purchase.symbol} in {purchase.account} disallows "
                        f"{amount:,.2f} of the loss on {sale.describe()} for good "
                        "(a retirement account's basis cannot take it)",
                        "Transactions" if sale.row is not None else None,
                        level="warning",
                        row=sale.row,
                        field="symbol" if sale.row is not None else None,
                    )
                )
        elif taxable and purchase.lot_key is not None:
            book.warnings.append(
                Problem(
                    f"wash sale: after {sale.describe()}, add {amount:,.2f} to the basis of "
                    f"{purchase.source} ({match.shares:g} shares) and count its {held}",
                    "TaxLots",
                    None,
                    "info",
                )
            )
    out = list(trades)
    for index, amount in moved.items():
        trade = out[index]
        if trade.action == "SELL":
            recognized = round((trade.realized_gain or 0.0) + amount, 2)
            rate = tax_rate(trade.term or "ST", st.st_tax_rate, st.lt_tax_rate)
            out[index] = trade.model_copy(
                update={
                    "realized_gain": recognized,
                    "est_tax": round(recognized * rate, 2),
                    "reason": f"{trade.reason}; wash sale: " + "; ".join(disallowed_by_sale[index]),
                }
            )
        else:
            out[index] = trade.model_copy(
                update={
                    "cost_basis": round((trade.cost_basis or trade.value) + amount, 2),
                    "reason": f"{trade.reason}; wash sale: basis includes "
                    + "; ".join(notes[index]),
                }
            )
    book.trades = out
    return out


def _check_withdrawal(book: _Book) -> None:
    """An account whose cash flow exceeds all it may sell cannot be rebalanced at all."""
    household = book.household
    for account, cash in household.cash.items():
        if cash >= -EPS:
            continue
        raisable = 0.0
        for (holder, symbol), shares in household.shares.items():
            if holder != account or shares <= EPS:
                continue
            if not book.rules.can_sell(account, symbol, book._class(symbol)):
                continue
            price = household.prices[symbol]
            shares -= sum(lot.shares for lot in book._blocked_lots(account, symbol, price))
            if book.st.whole_shares:
                shares = snap(shares, book.step, "down")
            raisable += max(shares, 0.0) * price * (1 - book.cost_rate)
        if cash + raisable < -0.005:
            raise InfeasibleError(
                f"account {account} cannot cover the withdrawal: it would end with "
                f"{cash + raisable:,.2f} cash after selling everything it may sell",
                flow_cells(book.portfolio, account, f"more than account {account} can raise"),
            )


def flow_cells(portfolio: Portfolio, account: str | None, message: str) -> list[Problem]:
    """Where the user typed the flows of `account` (every account with None): its
    CashFlows Amount cells, and the cash_flow setting for the first account."""
    first = portfolio.accounts[0].account if portfolio.accounts else None
    cells = [
        Problem(message, "CashFlows", None, row=f.row, field="amount")
        for f in portfolio.cash_flows
        if account in (None, f.account)
    ]
    if portfolio.settings.cash_flow and account in (None, first):
        cells.append(Problem(message, "Settings", None, field="cash_flow"))
    return cells


def _solve(
    portfolio: Portfolio,
    household: Household,
    lines: list[TargetLine],
    book: _Book,
    scales: Mapping[str, float] | None = None,
    ytd: tuple[float, float] | None = None,
) -> Decision:
    st = portfolio.settings
    valuation = st.valuation_date
    assert valuation is not None
    blocked: dict[tuple[str, str], list[TaxLot]] = {}
    can_sell: dict[tuple[str, str], bool] = {}
    for (account, symbol), shares in household.shares.items():
        if shares > EPS:
            can_sell[(account, symbol)] = book.rules.can_sell(account, symbol, book._class(symbol))
            blocked[(account, symbol)] = book._blocked_lots(
                account, symbol, household.prices[symbol]
            )
    units = sell_units(portfolio, household, book.accounts, book.lots, blocked)
    gaps = _line_gaps(lines, household)
    symbols = _tradable(lines, household)
    can_buy: dict[tuple[str, str], bool] = {}
    washed: set[str] = set()
    for symbol in symbols:
        # Warn only where a buy was wanted (the line is under target).
        washes = book.buy_washes(symbol, warn=gaps.get(symbol, 0.0) < -EPS)
        if washes:
            washed.add(symbol)
        for account in book.order:
            can_buy[(account, symbol)] = not washes and book.rules.can_buy(
                account, symbol, book._class(symbol)
            )
    _warn_cash_stays(lines, gaps, washed, can_buy, book)
    return solve_trades(
        portfolio,
        household,
        lines,
        units,
        can_sell,
        can_buy,
        book.identical,
        _weight_limits(portfolio, household, book.order, symbols),
        _desired_values(portfolio, household, lines),
        line_scale=scales,
        location=_locations(portfolio),
        ytd=ytd,
    )


def _warn_cash_stays(
    lines: list[TargetLine],
    gaps: Mapping[str, float],
    washed: set[str],
    can_buy: Mapping[tuple[str, str], bool],
    book: _Book,
) -> None:
    """Say so in the Log when a line under target can buy nothing because wash sales
    block every fund that may fill it: its money stays in cash."""
    for line in lines:
        members = [m for m in line.members if m in book.household.prices]
        if line.kind == "cash" or not members or gaps.get(members[0], 0.0) >= -EPS:
            continue
        if not washed.intersection(members):
            continue
        if any(can_buy.get((a, m), False) for m in members for a in book.order):
            continue
        if line.kind == "symbol":
            why = (
                f"a wash sale blocks {line.key} and its Substitute {members[1]}"
                if len(members) > 1
                else f"a wash sale blocks {line.key} and its Targets row names no Substitute"
            )
        else:
            why = f"wash sales block every fund of {line.key} the household holds"
        book.warnings.append(
            Problem(
                f"{why}: {-gaps[members[0]]:,.0f} under target stays in cash this run",
                level="warning",
            )
        )


def _tradable(lines: list[TargetLine], household: Household) -> list[str]:
    """Every symbol a trade may touch: the targets' priced members and what is held (a
    Substitute nobody priced cannot be bought)."""
    members = {m for line in lines for m in line.members if m in household.prices}
    return sorted(members | set(household.symbols))


def _line_gaps(lines: list[TargetLine], household: Household) -> dict[str, float]:
    """Pre-trade money over (+) or under (−) target of each symbol's line."""
    total = household.total_value
    values = household.values()
    gaps = {}
    for line in lines:
        if line.kind == "cash":
            continue
        over = sum(values.get(m, 0.0) for m in line.members) - line.weight * total
        for member in line.members:
            gaps[member] = over
    return gaps


def _weight_limits(
    portfolio: Portfolio, household: Household, accounts: list[str], symbols: list[str]
) -> list:
    """Min/max weights of Targets and Constraints as (label, members, min, max, (sheet, row))."""
    classes = household.classes
    limits = []

    def members_of(scope: str, name: str) -> list[tuple[str, str | None]]:
        if scope == "symbol":
            return [(a, name.upper()) for a in accounts]
        if scope == "asset_class":
            return [
                (a, s)
                for a in accounts
                for s in symbols
                if classes.get(s, "").upper() == name.upper()
            ]
        return [(name, s) for s in symbols] + [(name, None)]

    for t in portfolio.targets:
        if t.key.upper() != "CASH" and (t.min_weight is not None or t.max_weight is not None):
            scope = "symbol" if t.symbol else "asset_class"
            limits.append(
                (
                    f"Targets row {t.row} ({t.key})",
                    members_of(scope, t.key),
                    t.min_weight,
                    t.max_weight,
                    ("Targets", t.row),
                )
            )
    for c in portfolio.constraints:
        if c.min_weight is not None or c.max_weight is not None:
            limits.append(
                (
                    f"Constraints row {c.row} ({c.scope} {c.name})",
                    members_of(c.scope, c.name),
                    c.min_weight,
                    c.max_weight,
                    ("Constraints", c.row),
                )
            )
    return limits


def _apply(decision: Decision, book: _Book, lines: list[TargetLine]) -> None:
    """Record the solver's choice as trades; repair anything rounding could have broken."""
    st = book.st
    gaps = _line_gaps(lines, book.household)
    names = {m: line.key for line in lines for m in line.members}
    # A symbol line's second member is the Targets row's Substitute.
    stand_ins = {m for line in lines if line.kind == "symbol" for m in line.members[1:]}
    book.warnings.extend(decision.warnings)
    book.warnings.append(Problem(f"trades chosen by HiGHS, {decision.status}", level="info"))
    harvested: dict[str, set[str]] = defaultdict(set)  # line -> its funds sold at a loss
    for (account, symbol), slices in sorted(decision.sells.items()):
        gap = gaps.get(symbol, 0.0)
        line_name = names.get(symbol, symbol)
        price = book.household.prices[symbol]
        small = sum(shares for _, shares in slices) * price < st.min_trade_value - EPS
        if small and book.household.cash[account] >= -EPS:
            continue  # only the LP path proposes these; the minimum trade rule wins
        if gap > EPS:
            reason = f"drift: {line_name} over target by {gap:,.0f}"
        elif book.household.cash[account] < -EPS:
            reason = "cash flow: raise cash for the withdrawal"
        elif any(lot is not None and lot.cost_basis > lot.shares * price for lot, _ in slices):
            reason = f"harvest: realize the loss; {line_name} keeps its exposure"
            harvested[line_name].add(symbol)
        else:
            reason = "rebalance: fund underweight positions"
        book.record_sale(account, symbol, slices, reason)
    sold_at_loss = {ls.symbol for ls in book.loss_sales if ls.source.startswith("this run")}
    washed = set(sold_at_loss)
    for sold in sold_at_loss:
        washed |= book.identical.get(sold, frozenset())
    for (account, symbol), shares in sorted(
        decision.buys.items(), key=lambda kv: (kv[0][0], -kv[1])
    ):
        if symbol in washed:
            continue  # only an LP relaxation could propose this; the rule wins
        price = book.household.prices[symbol]
        affordable = book.household.cash[account] / (price * (1 + book.cost_rate))
        shares = min(shares, snap(max(affordable, 0.0), book.step, "down"))
        if shares <= EPS or shares * price < st.min_trade_value - EPS:
            continue
        gap = gaps.get(symbol, 0.0)
        line_name = names.get(symbol, symbol)
        if symbol in stand_ins and book.buy_washes(line_name, warn=False):
            reason = (
                f"wash sale: {line_name} may not be bought within {st.wash_sale_days} days "
                f"of its loss sale; its Substitute {symbol} keeps the exposure"
            )
            if gap < -EPS:
                reason += f" ({line_name} under target by {-gap:,.0f})"
        elif gap < -EPS:
            reason = f"drift: {line_name} under target by {-gap:,.0f}"
        elif harvested.get(line_name):
            # Only a fund of the same line (the asset class, or the fund's Substitute)
            # keeps a harvested line's exposure.
            sold = ", ".join(sorted(harvested[line_name]))
            reason = f"harvest: keeps {line_name}'s exposure after the loss sale of {sold}"
        elif book.portfolio.flows().get(account, 0.0) > 0:
            reason = "cash flow: invest the deposit"
        else:
            reason = f"cash: invest the account's cash in {line_name}"
        book.record_buy(account, symbol, shares, reason)


def _greedy_trade(
    portfolio: Portfolio, household: Household, lines: list[TargetLine], book: _Book
) -> list[Trade]:
    """The transparent fallback: sell what is over, raise cash, buy what is under."""
    st = portfolio.settings
    accounts = [book.accounts[a] for a in book.order]
    desired = _desired_values(portfolio, household, lines)

    for symbol in sorted(desired, key=lambda s: desired[s] - household.value_of(s)):
        excess = household.value_of(symbol) - desired[symbol]
        if excess <= EPS:
            continue
        shares = book.round_shares(excess / household.prices[symbol])
        book.sell(symbol, shares, f"drift: {symbol} over target by {excess:,.0f}")

    for account in accounts:
        need = -household.cash[account.account]
        if need > EPS:
            book.raise_cash(account.account, need, desired)

    total = household.total_value
    reserve = st.cash_min * total
    for symbol in sorted(desired, key=lambda s: household.value_of(s) - desired[s]):
        shortfall = desired[symbol] - household.value_of(symbol)
        if shortfall <= EPS:
            continue
        shares = book.round_shares(shortfall / household.prices[symbol])
        book.buy(symbol, shares, reserve, f"drift: {symbol} under target by {shortfall:,.0f}")
    return book.trades


class _Book:
    """The household as trades change it; every trade goes through here."""

    def __init__(
        self,
        portfolio: Portfolio,
        household: Household,
        accounts: list[Account],
        lots: dict[tuple[str, str], list[TaxLot]],
        rules: Restrictions,
        warnings: list[Problem],
        purchases: PurchaseIndex,
    ) -> None:
        self.portfolio = portfolio
        self.st = portfolio.settings
        self.step = share_step(self.st)
        self.household = household
        self.accounts = {a.account: a for a in accounts}
        self.order = [a.account for a in accounts]
        self.lots = lots
        self.rules = rules
        self.warnings = warnings
        self.trades: list[Trade] = []
        self.cost_rate = self.st.cost_bps / 10_000.0
        self.identical = identical_sets(portfolio)
        self.purchases = purchases
        self.loss_sales, notes = past_loss_sales(portfolio)
        self.warnings.extend(Problem(n, "Transactions", None, "info") for n in notes)
        self.blocked: dict[tuple[str, str], list[TaxLot]] = {}

    def round_shares(self, shares: float) -> float:
        return snap(shares, self.step)

    def _class(self, symbol: str) -> str:
        return self.household.classes.get(symbol, "")

    def _blocked_lots(self, account: str, symbol: str, price: float) -> list[TaxLot]:
        """Loss lots whose sale a recent purchase would wash (unless wash sales are allowed)."""
        key = (account, symbol)
        if key not in self.blocked:
            blocked = []
            if self.accounts[account].taxable and not self.st.allow_wash_sales:
                valuation = self.st.valuation_date
                assert valuation is not None
                for lot in self.lots.get(key, []):
                    # A loss after the selling cost is a loss (the cost reduces the
                    # amount realized), so a sale at basis can be a wash sale too.
                    if lot.lock == "lock" or basis_per_share(lot) <= price * (1 - self.cost_rate):
                        continue
                    blockers = sale_blockers(
                        symbol,
                        valuation,
                        self.purchases,
                        self.st.wash_sale_days,
                        self.identical,
                        own_lot=(account, lot.lot_id),
                    )
                    if blockers:
                        blocked.append(lot)
                        self.warnings.append(
                            Problem(
                                f"lot {lot.lot_id} of {symbol} in {account} is kept: selling it at a "
                                f"loss would be a wash sale ({blockers[0].describe()})",
                                "TaxLots",
                                None,
                                "warning",
                                lot.row,
                                "lot_id",
                            )
                        )
            locked = [lot for lot in self.lots.get(key, []) if lot.lock == "lock"]
            self.blocked[key] = locked + blocked
        return self.blocked[key]

    def sell(self, symbol: str, shares: float, reason: str, only: str | None = None) -> float:
        """Sell up to `shares`, tax-free accounts first; returns the shares sold."""
        price = self.household.prices[symbol]
        holders = [
            a
            for a in self.order
            if self.household.shares.get((a, symbol), 0) > EPS
            and (only is None or a == only)
            and self.rules.can_sell(a, symbol, self._class(symbol))
        ]
        holders.sort(key=lambda a: (TYPE_SELL_ORDER[self.accounts[a].type], self.order.index(a)))
        sold_total = 0.0
        for account in holders:
            left = shares - sold_total
            if left <= EPS:
                break
            held = self.household.shares[(account, symbol)]
            held -= sum(lot.shares for lot in self._blocked_lots(account, symbol, price))
            take = min(left, held)
            if take < held:
                take = snap(take, self.step, "down")
            if take <= EPS or (take * price < self.st.min_trade_value and take < held - EPS):
                continue
            self._sell_in(account, symbol, take, price, reason)
            sold_total += take
        return sold_total

    def _sell_in(self, account: str, symbol: str, shares: float, price: float, reason: str) -> None:
        st = self.st
        lots = self.lots.get((account, symbol), [])
        valuation = st.valuation_date
        assert valuation is not None
        if not lots:
            self.record_sale(account, symbol, [(None, shares)], reason)
            return
        blocked = {id(lot) for lot in self._blocked_lots(account, symbol, price)}
        ordered = order_lots(
            [lot for lot in lots if id(lot) not in blocked],
            st.lot_method,
            price=price,
            sale_date=valuation,
            st_rate=st.st_tax_rate,
            lt_rate=st.lt_tax_rate,
        )
        slices = relieve(ordered, shares, price=price, sale_date=valuation)
        pieces = [(p.lot, lot_take(p.shares, p.lot.shares, self.step)) for p in slices]
        self.record_sale(account, symbol, [(lot, n) for lot, n in pieces if n > EPS], reason)

    def record_sale(
        self, account: str, symbol: str, slices: list[tuple[TaxLot | None, float]], reason: str
    ) -> None:
        """One Trade row per lot slice (or one for a position without lots)."""
        acct = self.accounts[account]
        st = self.st
        price = self.household.prices[symbol]
        valuation = st.valuation_date
        assert valuation is not None
        remaining = {id(lot): lot for lot in self.lots.get((account, symbol), [])}
        for lot, shares in slices:
            value = round(shares * price, 2)
            cost = round(value * self.cost_rate, 2)
            if lot is None:
                if acct.taxable:
                    self.warnings.append(
                        Problem(
                            f"{symbol} in {account} has no tax lots: the gain of this sale is "
                            "unknown",
                            "TaxLots",
                            None,
                            "warning",
                        )
                    )
                self.trades.append(
                    Trade(
                        account=account,
                        symbol=symbol,
                        action="SELL",
                        shares=shares,
                        price=price,
                        value=value,
                        est_cost=cost,
                        reason=reason,
                    )
                )
            else:
                piece = relieve([lot], shares, price=price, sale_date=valuation)[0]
                # Selling costs reduce the amount realized (Form 8949 instructions,
                # column (e) / Pub. 551 "Basis of Assets"): gain = value - cost - basis.
                realized = round(value - cost - piece.basis, 2)
                gain = realized if acct.taxable else None
                rate = tax_rate(piece.term, st.st_tax_rate, st.lt_tax_rate)
                self.trades.append(
                    Trade(
                        account=account,
                        symbol=symbol,
                        action="SELL",
                        shares=piece.shares,
                        price=price,
                        value=value,
                        lot_id=lot.lot_id,
                        acquired=lot.acquired,
                        cost_basis=round(piece.basis, 2),
                        realized_gain=gain,
                        term=piece.term if acct.taxable else None,
                        est_tax=round(realized * rate, 2) if acct.taxable else 0.0,
                        est_cost=cost,
                        reason=reason,
                    )
                )
                if acct.taxable and realized < 0:
                    self.loss_sales.append(
                        LossSale(
                            account,
                            symbol,
                            valuation,
                            piece.shares,
                            -realized,
                            f"this run, lot {lot.lot_id}",
                            lot.holding_from,
                            (account, lot.lot_id),
                            lot.acquired,
                        )
                    )
                current = remaining.get(id(lot), lot)
                remaining[id(lot)] = current.model_copy(
                    update={
                        "shares": current.shares - piece.shares,
                        "cost_basis": round(current.cost_basis - piece.basis, 2),
                    }
                )
            self.household.cash[account] += value - cost
            self.household.shares[(account, symbol)] -= shares
        if (account, symbol) in self.lots:
            self.lots[(account, symbol)] = [lot for lot in remaining.values() if lot.shares > EPS]

    def raise_cash(self, account: str, need: float, desired: dict[str, float]) -> None:
        """Cover a withdrawal (or costs) from one account's positions, most overweight first."""
        symbols = [s for (a, s), n in self.household.shares.items() if a == account and n > EPS]
        symbols.sort(key=lambda s: desired.get(s, 0.0) - self.household.value_of(s))
        for symbol in symbols:
            need = -self.household.cash[account]
            if need <= EPS:
                return
            price = self.household.prices[symbol]
            shares = need / (price * (1 - self.cost_rate))
            shares = snap(shares, self.step, "up")
            shares = min(shares, self.household.shares[(account, symbol)])
            self.sell(symbol, shares, "cash flow: raise cash for the withdrawal", only=account)
        if self.household.cash[account] < -EPS:
            raise InfeasibleError(
                f"account {account} cannot cover the withdrawal: it would end with "
                f"{self.household.cash[account]:,.2f} cash after selling everything it may sell",
                flow_cells(self.portfolio, account, f"more than account {account} can raise"),
            )

    def record_buy(self, account: str, symbol: str, shares: float, reason: str) -> None:
        """A BUY row is the new lot: acquired today, its basis the price paid plus the
        buying costs (Pub. 551, "Cost Basis": commissions and fees are added)."""
        price = self.household.prices[symbol]
        value = round(shares * price, 2)
        cost = round(value * self.cost_rate, 2)
        self.trades.append(
            Trade(
                account=account,
                symbol=symbol,
                action="BUY",
                shares=shares,
                price=price,
                value=value,
                acquired=self.st.valuation_date,
                cost_basis=round(value + cost, 2),
                est_cost=cost,
                reason=reason,
            )
        )
        self.household.cash[account] -= value + cost
        key = (account, symbol)
        self.household.shares[key] = self.household.shares.get(key, 0.0) + shares

    def buy_washes(self, symbol: str, warn: bool = True) -> bool:
        """Whether buying `symbol` now would wash a recent or same-run loss sale."""
        valuation = self.st.valuation_date
        assert valuation is not None
        # Allowed wash sales still never buy back what this run sold at a loss: that
        # would only defer the loss the sale was made for.
        sales = (
            [s for s in self.loss_sales if s.source.startswith("this run")]
            if self.st.allow_wash_sales
            else self.loss_sales
        )
        blockers = buy_blockers(symbol, valuation, sales, self.st.wash_sale_days, self.identical)
        if blockers and warn:
            self.warnings.append(
                Problem(
                    f"no BUY of {symbol}: it would wash {blockers[0].describe()}",
                    # The loss sale's Transactions row when it is one (this run's own sale
                    # has no cell yet).
                    "Transactions" if blockers[0].row is not None else None,
                    None,
                    "warning",
                    blockers[0].row,
                    "symbol" if blockers[0].row is not None else None,
                )
            )
        return bool(blockers)

    def buy(self, symbol: str, shares: float, reserve: float, reason: str) -> None:
        price = self.household.prices[symbol]
        if self.buy_washes(symbol):
            return
        total_cash = self.household.total_cash
        budgets = {}
        for account in self.order:
            if not self.rules.can_buy(account, symbol, self._class(symbol)):
                continue
            cash = self.household.cash[account]
            share_of_reserve = reserve * cash / total_cash if total_cash > EPS else 0.0
            budgets[account] = cash - share_of_reserve
        left = shares
        for account in sorted(budgets, key=lambda a: (-budgets[a], self.order.index(a))):
            if left <= EPS:
                break
            affordable = budgets[account] / (price * (1 + self.cost_rate))
            take = min(left, snap(max(affordable, 0.0), self.step, "down"))
            if take <= EPS or take * price < self.st.min_trade_value:
                continue
            value = round(take * price, 2)
            cost = round(value * self.cost_rate, 2)
            if value + cost > self.household.cash[account] + 1e-6:
                take = snap(take - self.step, self.step)
                value = round(take * price, 2)
                cost = round(value * self.cost_rate, 2)
                if take <= EPS:
                    continue
            self.record_buy(account, symbol, take, reason)
            left -= take


def _symbol_gaps(
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


def _risk_scales(
    lines: list[TargetLine], risk: tuple[list[str], Any], values: dict[str, float]
) -> dict[str, float]:
    """Price of a dollar off target per line: its volatility over the median line's.

    Why volatility: for weight gaps d, the tracking error √(dᵀΣd) is at most Σ|dᵢ|σᵢ
    (the triangle inequality on Σ^½d), so a volatility-weighted L1 objective minimizes
    a bound on the tracking error and stays a linear program. An asset-class line uses
    the volatility of its funds mixed by value (equally when it holds nothing). Lines
    without history, and cash, keep 1; the ratio is clipped to [¼, 4] so no line is
    left almost free to drift.
    """
    import numpy as np

    symbols, cov = risk
    index = {s: i for i, s in enumerate(symbols)}
    cov = np.asarray(cov, dtype=float)
    vols: dict[str, float] = {}
    for line in lines:
        members = [m for m in line.members if m in index]
        if line.kind == "cash" or not members or len(members) < len(line.members):
            continue
        mix = np.array([values.get(m, 0.0) for m in members])
        mix = mix / mix.sum() if mix.sum() > 0 else np.full(len(members), 1.0 / len(members))
        rows = [index[m] for m in members]
        vol = math.sqrt(max(float(mix @ cov[np.ix_(rows, rows)] @ mix), 0.0))
        if vol > 0:
            vols[line.key] = vol
    if not vols:
        return {}
    median = float(np.median(list(vols.values())))
    return {
        key: min(max(vol / median, RISK_SCALE_MIN), RISK_SCALE_MAX) for key, vol in vols.items()
    }


def _locations(portfolio: Portfolio) -> dict[str, str]:
    """Preferred account type per symbol, from Targets' Location (asset-class rows
    pass theirs to every fund of the class)."""
    by_symbol = {t.symbol: t.location for t in portfolio.targets if t.symbol and t.location}
    by_class = {
        str(t.asset_class).upper(): t.location
        for t in portfolio.targets
        if t.asset_class and t.location
    }
    if not by_class:
        return by_symbol
    located = {
        symbol: by_class[cls.upper()]
        for symbol, cls in symbol_classes(portfolio).items()
        if cls.upper() in by_class
    }
    return located | by_symbol


def _tracking_error(gaps: dict[str, float], risk: tuple[list[str], Any]) -> float:
    """Annualized ex-ante tracking error √(dᵀΣd) of the weight gaps."""
    import numpy as np

    symbols, cov = risk
    d = np.array([gaps.get(sym, 0.0) for sym in symbols])
    return math.sqrt(max(float(d @ np.asarray(cov) @ d), 0.0))


def _summary(
    portfolio: Portfolio,
    trades: list[Trade],
    rows: list,
    total_before: float,
    cash_before: float,
    household: Household,
    triggered: bool,
    ytd: tuple[float, float],
) -> list[SummaryItem]:
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
    year = year_tax(portfolio, ytd_st + st_gain, ytd_lt + lt_gain)
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
