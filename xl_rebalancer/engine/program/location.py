"""Asset location: where each fund is bought.

A fund bought in an account of another type than its Location (Targets) costs
LOCATION_WEIGHT per money unit in its buy column's cost; and with the cash at hand
(location_before_cash) it is not bought there while an account of its Location that
may buy it keeps the cash.
"""

from __future__ import annotations

from .model import TradeModel

# Asset location: a money unit bought in an account of another type than the asset's
# Location costs 5 bp in the objective. That decides where new money and proceeds go,
# but is less than a round trip at the default cost_bps (2 × 5 bp), so holdings are
# not swapped between accounts for location alone.
LOCATION_WEIGHT = 0.0005


def misplaced_cost(t: TradeModel, account: str, symbol: str) -> float:
    """The cost per share of buying `symbol` in `account`, outside its Location."""
    wanted = t.location.get(symbol) if t.location else None
    return LOCATION_WEIGHT * t.prices[symbol] if wanted and wanted != t.types[account] else 0.0


def location_before_cash(t: TradeModel) -> None:
    """Asset location with the cash at hand: a fund is not bought in an account outside
    its Location while an account of its Location that may buy it (or another fund of
    its line) ends the run holding at least as much cash as that buy (it could have
    bought it there). Priced at a
    dollar per dollar of such cash, not hard, so no household is made infeasible by it;
    the review found $21.9k of TIPS bought in a taxable account while the 401k, TIPS's
    Location, kept $54k of cash (issue 44)."""
    m, household, prices = t.m, t.household, t.prices
    location, types, line_of = t.location or {}, t.types, t.line_of
    buy_var, cash_terms = t.buy_var, t.cash_terms
    for (account, symbol), flag in t.buy_flag.items():
        wanted = location.get(symbol)
        if not wanted or wanted == types.get(account):
            continue
        line = line_of.get(symbol, symbol)
        for home in cash_terms:
            if types.get(home) != wanted or not any(
                a == home and line_of.get(s, s) == line for a, s in buy_var
            ):
                continue
            big = max(t.budget.get(home, 0.0), 0.0) + 1.0  # the most cash it can end with
            slack = m.var(1.0)
            # end cash of home − value bought here − slack ≤ big × (1 − flag)
            terms = dict(cash_terms[home])
            terms[buy_var[(account, symbol)]] = (
                terms.get(buy_var[(account, symbol)], 0.0) - (prices[symbol])
            )
            terms[slack] = -1.0
            terms[flag] = big
            m.row(terms, hi=big - household.cash[home])
