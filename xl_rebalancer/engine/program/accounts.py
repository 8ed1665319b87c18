"""Cash and accounts: what each account may buy, and the cash each ends the run with.

Each account buys with its own cash and what it sells, never below zero: a buy column
per account and fund it may buy, bounded by the account's budget (its cash and all it
may sell), costing the trading cost, a hair of tie-break by account order and for funds
not yet held, and the location cost (location.py); then one row per account for its
cash after the run, keeping a cent per possible trade in hand for rounding.
"""

from __future__ import annotations

import math

from . import location, tickets
from .model import CENT, EPS, TradeModel


def add_buys(t: TradeModel) -> None:
    """A column per account and fund it may buy (with its ticket on the exact path)."""
    st, m, prices = t.st, t.m, t.prices
    # What each account could spend at most: its cash and everything it may sell. Tight
    # bounds here make the minimum-trade binaries' big-M tight too.
    budget = t.budget
    budget.update(t.household.cash)
    for unit in t.units:
        budget[unit.account] = budget.get(unit.account, 0.0) + unit.shares * prices[unit.symbol]
    symbols = sorted({s for line in t.lines for s in line.members} | set(t.household.symbols))
    value = t.household.values()
    for rank, account in enumerate(t.accounts):
        for symbol in symbols:
            key = (account, symbol)
            if symbol not in prices or not t.can_buy.get(key, False):
                continue
            price = prices[symbol]
            cap = max(budget.get(account, 0.0), 0.0) / price
            cap = math.floor(cap + EPS) if st.whole_shares else cap
            if cap <= EPS:
                continue
            # A hair of cost per share, by account order and for funds not yet held, breaks
            # ties between otherwise interchangeable buys, so the search ends sooner and
            # the choice is the same every time.
            tie = 1e-6 * price * (rank + (1.0 if value.get(symbol, 0.0) <= 0 else 0.0))
            misplaced = location.misplaced_cost(t, account, symbol)
            t.buy_var[key] = m.var(
                t.cost_rate * price + tie + misplaced,
                0.0,
                cap,
                integer=st.whole_shares,
                scale=price,
            )
            if t.tickets and cap > 0:
                tickets.add_buy_ticket(t, key, cap)


def add_cash(t: TradeModel) -> None:
    """Per-account cash: each account pays for its own buys."""
    st, prices, cost_rate = t.st, t.prices, t.cost_rate
    cash_terms = t.cash_terms
    cash_terms.update({a: {} for a in t.accounts})
    for (account, symbol), var in t.sell_var.items():
        cash_terms[account][var] = prices[symbol] * (1 - cost_rate)
    for (account, symbol), var in t.buy_var.items():
        cash_terms[account][var] = -prices[symbol] * (1 + cost_rate)
    sub_cent = not st.whole_shares or any(
        abs(p * 100 - round(p * 100)) > 1e-6 for p in prices.values()
    )
    per_trade = CENT / 2 * (int(sub_cent) + int(cost_rate > 0))
    for account in t.accounts:
        # Trade values and costs are rounded to cents when recorded: keep a cent per
        # possible trade in hand so rounding can never leave an account a cent short.
        # (An account that need not raise cash may always stay as it is.)
        cash = t.household.cash[account]
        margin = per_trade * len(cash_terms[account])
        t.m.row(cash_terms[account], lo=margin - cash if cash < 0 else min(margin - cash, 0.0))
    for terms in cash_terms.values():
        for var, coef in terms.items():
            t.total_cash_terms[var] = t.total_cash_terms.get(var, 0.0) + coef
