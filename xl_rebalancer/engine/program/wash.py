"""Wash sales inside the run, and the harvests a buy forecloses.

A loss sold this run forbids buying that security, or one substantially identical, in
any account: on the exact path a binary per fund with loss lots chooses between its
loss sales and its twins' buys (add_same_run_washes); the relaxed path decides each
such fund before the program is built (settle_wash_conflicts). Wash sales against
purchases and sales outside the run are kept out of the inputs already (blocked lots
and buys, engine/book.py and plan.py). A buy that keeps a taxable loss from its harvest
for the wash-sale window is charged the harvest's tax (foreclosed_harvests).
"""

from __future__ import annotations

from collections import defaultdict

from .model import CENT, SellUnit, TradeModel


def settle_wash_conflicts(t: TradeModel) -> None:
    """Decide, before a relaxed solve, whether each fund with loss lots is bought or sold.

    A fund whose line is under target keeps its buys, and its loss lots are not sold;
    one at or over target may sell losses, and neither it nor its twins are bought.
    """
    household, identical = t.household, t.identical
    total = household.total_value
    values = household.values()
    under: set[str] = set()
    for line in t.lines:
        if line.kind != "cash" and sum(values.get(m, 0.0) for m in line.members) < (
            line.weight * total
        ):
            under.update(line.members)
    not_bought: set[str] = set()
    kept: list[SellUnit] = []
    for unit in t.units:
        twins = identical.get(unit.symbol, frozenset()) | {unit.symbol}
        if unit.loss and twins & under:
            continue
        if unit.loss:
            not_bought |= twins
        kept.append(unit)
    t.can_buy = {key: ok and key[1] not in not_bought for key, ok in t.can_buy.items()}
    t.units = kept


def foreclosed_harvests(t: TradeModel) -> None:
    """A buy of a fund whose taxable loss lots (or its twins') are not sold in this run
    keeps them from being harvested for the wash-sale window, in whatever account it is
    bought (an IRA's purchase washes a taxable loss, Rev. Rul. 2008-5): the harvest it
    forecloses is charged once per security bought. A buy in the same run as the loss
    sale is forbidden outright (the wash binaries), so the charge never meets a harvest
    the plan makes. The line's Substitute, or another fund of its class, carries no
    charge and is bought instead when it can be (the review's plan bought BND in the
    Roth, pushing a $7,400 loss past the year's end while AGG was priced; issue 44)."""
    m, foreclosed, identical = t.m, t.foreclosed or {}, t.identical
    groups: dict[frozenset[str], list[int]] = defaultdict(list)
    for (_, symbol), flag in t.buy_flag.items():
        twins = identical.get(symbol, frozenset()) | {symbol}
        if foreclosed.get(symbol, 0.0) > CENT:
            groups[frozenset(twins)].append(flag)
    for twins, flags in sorted(groups.items(), key=lambda kv: sorted(kv[0])):
        value = max(foreclosed.get(s, 0.0) for s in twins)
        bought = m.var(value, 0.0, 1.0, integer=True)
        for flag in flags:
            m.row({bought: 1.0, flag: -1.0}, lo=0.0)


def add_same_run_washes(t: TradeModel) -> None:
    """Same-run wash sales: a loss sold forbids buying that security anywhere."""
    m, units = t.m, t.units
    loss_units: dict[str, list[int]] = defaultdict(list)
    for index, unit in enumerate(units):
        if unit.loss:
            loss_units[unit.symbol].append(index)
    for symbol, members in loss_units.items():
        twins = t.identical.get(symbol, frozenset({symbol})) | {symbol}
        buys = [var for (_, s), var in t.buy_var.items() if s in twins]
        if not buys:
            continue
        sold = m.var(0.0, 0.0, 1.0, integer=True)
        for i in members:
            m.row({t.unit_var[i]: 1.0, sold: -units[i].shares}, hi=0.0)
        for var in buys:
            m.row({var: 1.0, sold: m.upper[var]}, hi=m.upper[var])
