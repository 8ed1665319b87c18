"""The user's hard limits, checked on the final trade list, whatever path produced it.

The solver holds every limit in its program, but the trade list that reaches the user
has passed through more than the program: the greedy fallback when the solver fails,
rounding to whole shares on the large-household path, wash-sale adjustments that turn
a disallowed loss back into gain, and cents. A limit is a promise to the user, so it is
checked once more on the trades as written, on the same figures the Summary reports:

- max_turnover against the Summary's Turnover, (buys + sells) / 2 / total value before
  the run (the solver uses the same total);
- max_realized_gain against the run's net realized gain after wash-sale adjustments
  (the sum of the Trades sheet's RealizedGain);
- cash_min / cash_max against cash after / total value after;
- every min/max weight of Targets and Constraints against the post-trade weight the
  Drift sheet shows;
- whole_shares: every BUY and every SELL row is a whole number of shares, unless the row
  sells a whole lot (or a whole position without lots) that holds a fraction;
- NoBuy / NoSell and lots with Lock = lock: never traded; no account below zero cash.

Tolerances are what rounding to cents can move: half a cent per trade row, plus the
trading costs for weights (the solver bounds values against the total before costs).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..errors import Problem
from ..models.inputs import Portfolio
from ..models.results import Trade
from .drift import Household

SHARE_TOL = 1e-6


def _p(message: str, sheet: str, row: int | None, field: str) -> Problem:
    return Problem(message, sheet, None, "error", row, field)


def check_limits(
    portfolio: Portfolio,
    trades: Iterable[Trade],
    household: Household,
    total_before: float,
    weight_limits: list,
) -> list[Problem]:
    """Every limit the trade list breaks, as (message, sheet, row, field).

    `household` is after the trades; `weight_limits` are plan.weight_limits' rows
    (label, members, min, max, (sheet, row)) over the same household.
    """
    st = portfolio.settings
    trades = list(trades)
    if not trades:
        return []
    breaches: list[Problem] = []
    cents = 0.005 * len(trades) + 0.01
    buys = sum(t.value for t in trades if t.action == "BUY")
    sells = sum(t.value for t in trades if t.action == "SELL")
    costs = sum(t.est_cost for t in trades)
    total_after = household.total_value

    if st.max_turnover is not None and total_before > 0:
        turnover = (buys + sells) / 2 / total_before
        over = (buys + sells) / 2 - st.max_turnover * total_before
        breaches += _missed(
            over,
            cents,
            f"turnover {turnover:.4%} is above max_turnover {st.max_turnover:.4%} "
            f"(buys {buys:,.2f} + sells {sells:,.2f}, halved, over the value "
            f"before the run {total_before:,.2f})",
            "max_turnover",
        )
    if st.max_realized_gain is not None:
        gain = sum(t.realized_gain or 0.0 for t in trades if t.action == "SELL")
        breaches += _missed(
            gain - st.max_realized_gain,
            cents,
            f"the run realizes a net gain of {gain:,.2f} (after wash-sale "
            f"adjustments), above max_realized_gain {st.max_realized_gain:,.2f}",
            "max_realized_gain",
        )
    if total_after > 0:
        slack = (cents + costs) / total_after
        cash_money = household.total_cash
        cash = cash_money / total_after
        breaches += _missed(
            st.cash_min * total_after - cash_money,
            cents + costs,
            f"post-trade cash is {cash:.4%}, below cash_min {st.cash_min:.4%}",
            "cash_min",
        )
        breaches += _missed(
            cash_money - st.cash_max * total_after,
            cents + costs,
            f"post-trade cash is {cash:.4%}, above cash_max {st.cash_max:.4%}",
            "cash_max",
        )
        breaches += _weights(household, weight_limits, total_after, slack)
    breaches += _whole_shares(portfolio, trades) if st.whole_shares else []
    breaches += _rules(portfolio, trades, household)
    return breaches


def _missed(over: float, tolerance: float, message: str, field: str) -> list[Problem]:
    """A limit missed by `over` (money): past what rounding and costs explain, a breach
    (an error: the run stops, or warns under relax); by less, but by more than half a
    cent, a warning with the amount, so no miss goes without a word. The solver holds
    the limit before costs and before each row is rounded to the cent; the user reads
    the rounded rows."""
    if over > tolerance:
        return [_p(message, "Settings", None, field)]
    if over > 0.005:
        return [
            Problem(
                f"{field} is missed by {over:,.2f} after rounding each trade to the cent and "
                f"paying its costs: {message}",
                "Settings",
                None,
                "warning",
                None,
                field,
            )
        ]
    return []


def _weights(
    household: Household, weight_limits: list, total: float, slack: float
) -> list[Problem]:
    out = []
    prices = household.prices
    for label, members, lo, hi, (sheet, row) in weight_limits:
        value = 0.0
        for account, symbol in members:
            if symbol is None:
                value += household.cash.get(account, 0.0)
            else:
                value += household.shares.get((account, symbol), 0.0) * prices.get(symbol, 0.0)
        weight = value / total
        if lo is not None:
            out += _weight_missed(
                (lo * total - value) / total,
                slack,
                f"{label}: post-trade weight {weight:.4%} is below its minimum {lo:.4%}",
                sheet,
                row,
                "min_weight",
                total,
            )
        if hi is not None:
            out += _weight_missed(
                (value - hi * total) / total,
                slack,
                f"{label}: post-trade weight {weight:.4%} is above its maximum {hi:.4%}",
                sheet,
                row,
                "max_weight",
                total,
            )
    return out


def _weight_missed(
    over: float,
    slack: float,
    message: str,
    sheet: str,
    row: int | None,
    field: str,
    total: float,
) -> list[Problem]:
    """A weight limit missed by `over` (a fraction of the total): past what rounding and
    costs explain, a breach; by less but by more than half a cent, a warning, so no miss
    goes without a word (issue 44)."""
    if over > slack:
        return [_p(message, sheet, row, field)]
    if over * total > 0.005:
        return [
            Problem(
                f"{field} is missed by {over * total:,.2f} after rounding each trade to the "
                f"cent and paying its costs: {message}",
                sheet,
                None,
                "warning",
                row,
                field,
            )
        ]
    return []


def _whole_shares(portfolio: Portfolio, trades: list[Trade]) -> list[Problem]:
    lot_shares = {(lot.account, lot.symbol, lot.lot_id): lot.shares for lot in portfolio.lots}
    held = {(h.account, h.symbol): h.shares for h in portfolio.holdings}
    out = []
    for t in trades:
        if abs(t.shares - round(t.shares)) <= SHARE_TOL:
            continue
        if t.action == "SELL":
            whole = (
                lot_shares.get((t.account, t.symbol, t.lot_id))
                if t.lot_id
                else held.get((t.account, t.symbol))
            )
            if whole is not None and abs(t.shares - whole) <= SHARE_TOL:
                continue  # the whole lot (or position), fraction and all
        out.append(
            _p(
                f"{t.action} {t.shares:g} {t.symbol} in {t.account}"
                + (f" (lot {t.lot_id})" if t.lot_id else "")
                + " is not a whole number of shares, and whole_shares is TRUE",
                "Settings",
                None,
                "whole_shares",
            )
        )
    return out


def _rules(portfolio: Portfolio, trades: list[Trade], household: Household) -> list[Problem]:
    """NoBuy/NoSell rows, locked lots and overdrawn accounts, each at its own cell."""
    classes = household.classes
    out = []
    for c in portfolio.constraints:
        for t in trades:
            hit = (
                (c.scope == "symbol" and c.name.upper() == t.symbol)
                or (c.scope == "account" and c.name == t.account)
                or (
                    c.scope == "asset_class" and c.name.upper() == classes.get(t.symbol, "").upper()
                )
            )
            if hit and ((t.action == "BUY" and c.no_buy) or (t.action == "SELL" and c.no_sell)):
                field = "no_buy" if t.action == "BUY" else "no_sell"
                out.append(
                    _p(
                        f"{t.action} {t.symbol} in {t.account} breaks the {field} rule of "
                        f"Constraints row {c.row} ({c.scope} {c.name})",
                        "Constraints",
                        c.row,
                        field,
                    )
                )
    locked = {
        (lot.account, lot.symbol, lot.lot_id): lot.row
        for lot in portfolio.lots
        if lot.lock == "lock"
    }
    for t in trades:
        row = locked.get((t.account, t.symbol, t.lot_id or ""), -1)
        if t.action == "SELL" and row != -1:
            out.append(
                _p(
                    f"lot {t.lot_id} of {t.symbol} in {t.account} is sold, but its Lock is lock",
                    "TaxLots",
                    row,
                    "lock",
                )
            )
    # A sale without a LotId (tax-deferred and Roth accounts sell the position, not a
    # lot) still leaves every locked lot: it may take at most the unlocked shares.
    held = {(h.account, h.symbol): h.shares for h in portfolio.holdings}
    kept: dict[tuple[str, str], tuple[float, int | None]] = {}
    for lot in portfolio.lots:
        if lot.lock == "lock":
            shares, row = kept.get((lot.account, lot.symbol), (0.0, lot.row))
            kept[(lot.account, lot.symbol)] = (shares + lot.shares, row)
    sold: dict[tuple[str, str], float] = {}
    for t in trades:
        if t.action == "SELL" and not t.lot_id and (t.account, t.symbol) in kept:
            sold[(t.account, t.symbol)] = sold.get((t.account, t.symbol), 0.0) + t.shares
    for key, shares in sold.items():
        locked_shares, row = kept[key]
        free = held.get(key, 0.0) - locked_shares
        if shares > free + SHARE_TOL:
            out.append(
                _p(
                    f"{shares:g} shares of {key[1]} in {key[0]} are sold, but "
                    f"{locked_shares:g} of its {held.get(key, 0.0):g} are in lots whose "
                    f"Lock is lock: at most {max(free, 0.0):g} may be sold",
                    "TaxLots",
                    row,
                    "lock",
                )
            )
    rows = {a.account: a.row for a in portfolio.accounts}
    for account, cash in household.cash.items():
        if cash < -0.01 and math.isfinite(cash):
            out.append(
                _p(
                    f"account {account} would end with {cash:,.2f} in cash: no margin is allowed",
                    "Accounts",
                    rows.get(account),
                    "cash",
                )
            )
    return out
