"""Tickets and minimum trades, and one fund per line.

On the exact path each possible trade (a position's sale, an account's buy) has a
binary: it carries the ticket cost (a cent when there is none, so the search prefers
fewer trades) and the minimum trade value, forbids selling and buying one fund in one
account, and lets the adviser's rule count the funds of a line bought in an account
(one_fund_per_line). The relaxed path (large households) has no binaries: the one fund
is chosen before the program is built (one_fund_chosen), and the minimum trade holds
when the decision is recorded.
"""

from __future__ import annotations

from collections import defaultdict

from .model import CENT, Key, TradeModel, WeightLimit


def capped_symbols(weight_limits: list[WeightLimit]) -> frozenset[str]:
    """Funds under a MaxWeight of their own (a limit whose members are one symbol): such a
    fund may be full, so a second fund of its line in the same account may be needed."""
    capped = set()
    for _, members, _, hi, _ in weight_limits:
        symbols = {symbol for _, symbol in members}
        if hi is not None and len(symbols) == 1 and None not in symbols:
            capped |= symbols
    return frozenset(capped)  # type: ignore[arg-type]


def one_fund_per_line(t: TradeModel) -> None:
    """One fund per asset class (or per symbol line and its Substitute) bought in each
    account per run. The funds of a line are interchangeable for the targets, so a
    second one only adds a ticket and a statement line; the review found IVV, SPY and
    VOO bought in one account (issue 44). A fund that may not be bought (NoBuy, a wash
    block) has no buy at all, so the others stay open; each fund of the line under a
    MaxWeight of its own allows one more, as it may be full."""
    capped = capped_symbols(t.weight_limits)
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    extra: dict[tuple[str, str], int] = defaultdict(int)
    for (account, symbol), flag in t.buy_flag.items():
        line = t.line_of.get(symbol)
        if line is None:
            continue
        groups[(account, line)].append(flag)
        extra[(account, line)] += int(symbol in capped)
    for group, flags in groups.items():
        if len(flags) > 1 + extra[group]:
            t.m.row(dict.fromkeys(flags, 1.0), hi=1.0 + extra[group])


def one_fund_chosen(t: TradeModel) -> None:
    """The relaxed path (large households) has no ticket binaries to count funds with, so
    the one fund per line and account is chosen before solving: one whose buy
    forecloses no harvest when there is one, then the fund the account holds most of,
    then the one furthest below its share of the class. A fund under its own MaxWeight
    keeps the next one open too."""
    household, line_of, can_buy = t.household, t.line_of, t.can_buy
    member_goals, foreclosed = t.member_goals or {}, t.foreclosed or {}
    capped = capped_symbols(t.weight_limits)
    value = household.values()
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for (account, symbol), allowed in can_buy.items():
        if allowed and symbol in line_of:
            groups[(account, line_of[symbol])].append(symbol)
    chosen = dict(can_buy)
    for (account, _), funds in groups.items():
        ranked = sorted(
            funds,
            key=lambda s: (
                foreclosed.get(s, 0.0) > CENT,
                -household.shares.get((account, s), 0.0) * household.prices.get(s, 0.0),
                -(member_goals.get(s, 0.0) - value.get(s, 0.0)),
                s,
            ),
        )
        keep = 1
        while keep < len(ranked) and ranked[keep - 1] in capped:
            keep += 1
        for symbol in ranked[keep:]:
            chosen[(account, symbol)] = False
    t.can_buy = chosen


def add_sale_ticket(t: TradeModel, key: Key, members: list[int], cap: float) -> None:
    """The ticket binary of a position's sale (`members` its sell units, `cap` the most
    it may sell) and the sale's minimum trade value."""
    m, st, sell = t.m, t.st, t.sell_var[key]
    flag = t.sell_flag[key] = m.var(t.ticket, 0.0, 1.0, integer=True)
    m.row({sell: 1.0, flag: -cap}, hi=0.0)
    if len(members) > 1:
        # The flag bounds each lot too, not only the position: the same trades
        # are allowed, but the LP can no longer sell a whole loss lot for a
        # tenth of a ticket because the position is ten times its size. With
        # the regime enumerated (Program.fixed): the 200 trade-quality
        # households' plans $917 better in sum, tax regret $73 → $2
        # (docs/performance.md).
        for i in members:
            m.row({t.unit_var[i]: 1.0, flag: -t.units[i].shares}, hi=0.0)
    if st.min_trade_value > 0:
        price = t.prices[key[1]]
        m.row({sell: price, flag: -min(st.min_trade_value, cap * price)}, lo=0.0)


def add_buy_ticket(t: TradeModel, key: Key, cap: float) -> None:
    """The ticket binary of an account's buy of a fund (`cap` the most shares it may buy)
    and the buy's minimum trade value."""
    m, st, buy = t.m, t.st, t.buy_var[key]
    flag = t.buy_flag[key] = m.var(t.ticket, 0.0, 1.0, integer=True)
    m.row({buy: 1.0, flag: -cap}, hi=0.0)
    if key in t.sell_flag:
        # Never sell and buy the same fund in the same account in one run:
        # at a loss it is a wash sale, at a gain tax for nothing. Said
        # outright, it also spares the search such lists.
        m.row({flag: 1.0, t.sell_flag[key]: 1.0}, hi=1.0)
    if st.min_trade_value > 0:
        price = t.prices[key[1]]
        m.row({buy: price, flag: -min(st.min_trade_value, cap * price)}, lo=0.0)
